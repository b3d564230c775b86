import type { Store } from "../../storage/store.ts";
import { CofferError } from "../errors.ts";
import {
  commandRotator,
  parseFunctionArn,
  randomValueRotator,
  webhookRotator,
  type CommandContext,
  type FunctionSpec,
} from "./rotation-functions.ts";
import type { Rotator } from "./rotation-types.ts";

export const FUNCTIONS_SETTING = "rotation.functions";

/**
 * Resolves rotation-function ARNs: the built-ins (`coffer-<name>`, in every
 * account) and the webhooks registered per account with `coffer functions`.
 */
export function createFunctionRegistry({
  store,
  builtins,
  commands,
}: {
  store: Pick<Store, "getSetting">;
  builtins: Record<string, Rotator>;
  commands?: CommandContext;
}) {
  const all: Record<string, Rotator> = { "random-value": randomValueRotator, ...builtins };
  return {
    builtinNames: Object.keys(all).map((n) => `coffer-${n}`),
    async resolve(arn: string): Promise<Rotator | undefined> {
      const parsed = parseFunctionArn(arn);
      if (!parsed) return undefined;
      if (parsed.name.startsWith("coffer-")) return all[parsed.name.slice("coffer-".length)];
      const spec = (await registered(store))[`${parsed.accountId}/${parsed.name}`];
      if (spec?.kind === "webhook") return webhookRotator(spec);
      if (spec?.kind === "command" && commands) return commandRotator(spec, commands);
      return undefined;
    },
  };
}

export async function registered(store: Pick<Store, "getSetting">): Promise<Record<string, FunctionSpec>> {
  const text = await store.getSetting(FUNCTIONS_SETTING);
  return text ? (JSON.parse(text) as Record<string, FunctionSpec>) : {};
}

export function checkFunctionName(name: string): void {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name) || name.startsWith("coffer-")) {
    throw new CofferError("InvalidParameter", "A function name is 1-64 letters, digits, - or _, and may not start with coffer-.");
  }
}

export function checkWebhookSpec(name: string, spec: { url: string; secret: string }): void {
  checkFunctionName(name);
  let url: URL;
  try {
    url = new URL(spec.url);
  } catch {
    throw new CofferError("InvalidParameter", "The webhook URL is not a valid URL.");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new CofferError("InvalidParameter", "The webhook URL must be http or https.");
  if (spec.secret.length < 16) throw new CofferError("InvalidParameter", "The webhook secret must be at least 16 characters.");
}
