import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { openDataDir } from "../app/compose.ts";
import { loadConfig, type ConfigInput } from "../app/config.ts";
import { createOidcProviderService } from "../services/identity/oidc-providers.ts";
import { createPolicyAuthorizer } from "../services/identity/policy-authorizer.ts";
import { rootArn } from "../shared/arn.ts";
import { dataOptions } from "./data-options.ts";

type Flags = ConfigInput;

/**
 * `coffer oidc-keys put|show|remove <provider-arn>`: an OIDC provider's public keys given inline,
 * for an issuer the server cannot reach (docs/workload-identity.md), straight on the data
 * directory with the provider's account's authority (the server may be running; the next token
 * sees the change). The admin API's PutOpenIDConnectProviderKeys does the same over the wire.
 */
export function registerOidcCommands(program: Command): void {
  const keys = program.command("oidc-keys").description("inline public keys of an OIDC identity provider (docs/workload-identity.md)");

  async function withProviders(arn: string, flags: Flags, use: (providers: ReturnType<typeof createOidcProviderService>, caller: Parameters<ReturnType<typeof createOidcProviderService>["get"]>[0]) => Promise<void>) {
    const config = loadConfig(flags);
    const { store } = await openDataDir(config);
    const clock = { now: () => Date.now() };
    const providers = createOidcProviderService({
      store,
      authorizer: createPolicyAuthorizer({ store, clock }),
      clock,
      allowHttp: config.oidcAllowHttp === "on",
    });
    const accountId = arn.split(":")[4] ?? "";
    try {
      await use(providers, { arn: rootArn(accountId), accountId, accessKeyId: "coffer-cli", kind: "root" });
    } finally {
      await store.close();
    }
  }

  dataOptions(keys.command("put <provider-arn> <jwks-file>").description("verify this provider's tokens against these keys (a JWKS file, public keys only)"))
    .action(async (arn: string, file: string, o: Flags) => {
      await withProviders(arn, o, (providers, caller) => providers.putInlineKeys(caller, arn, readFileSync(file === "-" ? 0 : file, "utf8")));
    });
  dataOptions(keys.command("show <provider-arn>").description("print the inline keys, if any")).action(async (arn: string, o: Flags) => {
    await withProviders(arn, o, async (providers, caller) => {
      const jwks = await providers.getInlineKeys(caller, arn);
      process.stdout.write(jwks === undefined ? "(none: keys are fetched from the issuer)\n" : `${jwks}\n`);
    });
  });
  dataOptions(keys.command("remove <provider-arn>").description("drop the inline keys: fetch them from the issuer again")).action(async (arn: string, o: Flags) => {
    await withProviders(arn, o, (providers, caller) => providers.putInlineKeys(caller, arn, undefined));
  });
}
