import type { Command } from "commander";
import { openDataDir } from "../app/compose.ts";
import { asOperator } from "../app/operator-audit.ts";
import { loadConfig, type ConfigInput } from "../app/config.ts";
import type { Principal } from "../services/identity/identity-types.ts";
import { createPolicyAuthorizer } from "../services/identity/policy-authorizer.ts";
import { databaseRotators } from "../services/rotation/rotators/index.ts";
import { createFunctionRegistry, type FunctionRegistry } from "../services/rotation/rotation-registry.ts";
import { createWebhookClient } from "../services/webhook/webhook-client.ts";
import { webhookNetworks } from "../services/webhook/webhook-networks.ts";
import { lambdaArn, rootArn } from "../shared/arn.ts";
import { dataOptions } from "./data-options.ts";

type Flags = ConfigInput & { account?: string };

/**
 * `coffer functions add-webhook|add-command|list|remove`: rotation functions,
 * registered straight on the data directory (the server may be running) with
 * the account's own authority. Whoever can open the data directory with its
 * master key is the operator, so command functions may be registered here,
 * in any account. The admin API (docs/rotation.md) does the same over the
 * wire, where only the founding account's root may register commands.
 */
export function registerRotationCommands(program: Command): void {
  const functions = program.command("functions").description("rotation functions (docs/rotation.md)");
  const withDataDir = (cmd: Command) =>
    dataOptions(cmd)
      .option("--account <id>", "the account the function belongs to (default: the configured account)");

  /** Runs `use` on the account's registry; with `action`, as an audited operator action (operator-audit.ts). */
  async function withRegistry(
    flags: Flags,
    use: (registry: FunctionRegistry, account: Principal) => Promise<void>,
    action?: { eventName: string; command: string; name: string },
  ): Promise<void> {
    const config = loadConfig(flags);
    const { store, keyring, auditKey } = await openDataDir(config);
    const clock = { now: () => Date.now() };
    const registry = createFunctionRegistry({
      store,
      keyring,
      authorizer: createPolicyAuthorizer({ store, clock }),
      region: config.region,
      builtins: databaseRotators(),
      webhooks: createWebhookClient(webhookNetworks(config.webhookAllowedNetworks)),
      isOperator: () => true,
    });
    const accountId = flags.account ?? config.accountId;
    const account: Principal = { arn: rootArn(accountId), accountId, accessKeyId: "coffer-cli", kind: "root" };
    try {
      if (!action) await use(registry, account);
      else {
        const resources = [{ arn: lambdaArn(config.region, accountId, action.name), type: "AWS::Lambda::Function" }];
        const details = { functionName: action.name };
        const audit = { store, auditKey, region: config.region };
        await asOperator(audit, { eventName: action.eventName, command: action.command, accountId, resources, details }, () => use(registry, account));
      }
    } finally {
      await store.close();
    }
  }

  withDataDir(functions.command("add-webhook <name> <url>").description("register a webhook rotation function"))
    .requiredOption("--secret <secret>", "HMAC key for the x-coffer-signature header (16+ characters)")
    .action(async (name: string, url: string, o: Flags & { secret: string }) => {
      await withRegistry(o, async (registry, account) => {
        const registered = await registry.register(account, { name, webhook: { url, secret: o.secret } });
        process.stdout.write(`${registered.arn}\n`);
      }, { eventName: "RegisterRotationFunction", command: "coffer functions add-webhook", name });
    });

  withDataDir(functions.command("add-command <name> <program> [args...]").description("register a command rotation function"))
    .requiredOption("--role <arn>", "the role whose temporary credentials the command gets")
    .action(async (name: string, program: string, args: string[], o: Flags & { role: string }) => {
      await withRegistry(o, async (registry, account) => {
        const registered = await registry.register(account, { name, command: { program, args, roleArn: o.role } });
        process.stdout.write(`${registered.arn}\n`);
      }, { eventName: "RegisterRotationFunction", command: "coffer functions add-command", name });
    });

  withDataDir(functions.command("list").description("registered functions (and the built-ins)")).action(async (o: Flags) => {
    await withRegistry(o, async (registry, account) => {
      for (const f of await registry.list(account)) process.stdout.write(`${f.arn}\t${f.kind}\n`);
    });
  });

  withDataDir(functions.command("remove <name>").description("remove a registered function")).action(async (name: string, o: Flags) => {
    await withRegistry(o, (registry, account) => registry.deregister(account, name), {
      eventName: "DeregisterRotationFunction",
      command: "coffer functions remove",
      name,
    });
  });
}
