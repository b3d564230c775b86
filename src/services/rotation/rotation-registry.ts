import type { Keyring } from "../../crypto/keyring.ts";
import type { IdentityReads, SettingReads, SettingTx, Transactional } from "../../storage/store.ts";
import { CofferError } from "../../shared/errors.ts";
import type { Authorizer, Principal } from "../identity/identity-types.ts";
import {
  commandRotator,
  parseFunctionArn,
  randomValueRotator,
  webhookRotator,
  type CommandContext,
  type FunctionSpec,
} from "./rotation-functions.ts";
import type { Rotator } from "./rotation-types.ts";
import type { WebhookClient } from "../webhook/webhook-client.ts";
import { lambdaArn } from "../../shared/arn.ts";

export const FUNCTIONS_SETTING = "rotation.functions";

/**
 * How a registered function is kept (the setting maps "<account>/<name>" to
 * one): a webhook's HMAC key sealed under the master key, never in plaintext.
 * `secret` is how an earlier version kept it; sealLegacySecrets() re-seals it.
 */
type StoredFunction =
  | { kind: "webhook"; url: string; masterKeyId: string; sealedSecret: string; secret?: undefined }
  | { kind: "webhook"; url: string; secret: string }
  /** `operator`: registered by the operator; a command without it (an earlier version let any account register one) never runs. */
  | { kind: "command"; command: string[]; roleArn: string; operator?: true };

const functionAad = (key: string) => `rotation-function\n${key}`;

/**
 * Master key rotation: every webhook's HMAC key sealed again under the
 * keyring's current master key, in the caller's transaction. Returns how many.
 */
export async function resealFunctionSecrets(
  tx: Pick<SettingTx, "getSetting" | "putSetting">,
  keyring: Pick<Keyring, "resealWithMaster">,
): Promise<number> {
  const text = await tx.getSetting(FUNCTIONS_SETTING);
  if (!text) return 0;
  const functions = JSON.parse(text) as Record<string, StoredFunction>;
  let count = 0;
  for (const [key, s] of Object.entries(functions)) {
    if (s.kind !== "webhook" || s.secret !== undefined) continue;
    const next = keyring.resealWithMaster(s.masterKeyId, Buffer.from(s.sealedSecret, "base64"), functionAad(key));
    if (next.masterKeyId === s.masterKeyId) continue;
    functions[key] = { ...s, masterKeyId: next.masterKeyId, sealedSecret: next.sealed.toString("base64") };
    count++;
  }
  if (count > 0) await tx.putSetting(FUNCTIONS_SETTING, JSON.stringify(functions));
  return count;
}

/** What registering a function takes: exactly one of a webhook and a command. */
export interface FunctionInput {
  name: string;
  webhook?: { url: string; secret: string };
  command?: { program: string; args?: string[]; roleArn: string };
}

/** A registered function as callers see it (a webhook's key is never shown). */
export interface FunctionDescription {
  name: string;
  arn: string;
  kind: "webhook" | "command" | "built-in";
  url?: string;
  command?: string[];
  roleArn?: string;
}

/**
 * Rotation functions by Lambda-style ARN: the built-ins (`coffer-<name>`, in
 * every account) and those registered per account, as webhooks or commands,
 * through the admin API or `coffer functions`. A command runs on the server
 * as its OS user, so only the operator registers one (`isOperator`); webhooks
 * are any account's, and reach only addresses the webhook client allows.
 */
export function createFunctionRegistry({
  store,
  keyring,
  authorizer,
  region,
  builtins,
  commands,
  webhooks,
  isOperator,
  stepTimeoutMs = 60_000,
}: {
  /** The registered functions are a setting; a command's role is a principal. */
  store: SettingReads & Pick<IdentityReads, "getPrincipal"> & Transactional<SettingTx>;
  keyring: Pick<Keyring, "sealWithMaster" | "openWithMaster">;
  authorizer: Authorizer;
  region: string;
  builtins: Record<string, Rotator>;
  commands?: CommandContext;
  webhooks: WebhookClient;
  /** Whether a caller is the operator (the founding account's root; `coffer functions` on the data directory). */
  isOperator(principal: Principal): boolean;
  /** How long one step of a webhook or command may take. */
  stepTimeoutMs?: number;
}) {
  const all: Record<string, Rotator> = { "random-value": randomValueRotator, ...builtins };
  const arnOf = (accountId: string, name: string) => lambdaArn(region, accountId, name);
  const aad = functionAad;

  async function stored(): Promise<Record<string, StoredFunction>> {
    const text = await store.getSetting(FUNCTIONS_SETTING);
    return text ? (JSON.parse(text) as Record<string, StoredFunction>) : {};
  }

  function sealedWebhook(key: string, url: string, secret: string): StoredFunction {
    const { masterKeyId, sealed } = keyring.sealWithMaster(Buffer.from(secret, "utf8"), aad(key));
    return { kind: "webhook", url, masterKeyId, sealedSecret: sealed.toString("base64") };
  }

  function specOf(key: string, s: StoredFunction): FunctionSpec {
    if (s.kind === "command") return { kind: "command", command: s.command, roleArn: s.roleArn };
    const secret = s.secret ?? keyring.openWithMaster(s.masterKeyId, Buffer.from(s.sealedSecret, "base64"), aad(key)).toString("utf8");
    return { kind: "webhook", url: s.url, secret };
  }

  async function edit<T>(change: (all: Record<string, StoredFunction>) => T): Promise<T> {
    return store.transaction(async (tx) => {
      const text = await tx.getSetting(FUNCTIONS_SETTING);
      const functions = text ? (JSON.parse(text) as Record<string, StoredFunction>) : {};
      const result = change(functions);
      await tx.putSetting(FUNCTIONS_SETTING, JSON.stringify(functions));
      return result;
    });
  }

  function describe(key: string, s: StoredFunction): FunctionDescription {
    const [accountId, name] = key.split("/");
    const base = { name, arn: arnOf(accountId, name) };
    return s.kind === "webhook" ? { ...base, kind: "webhook", url: s.url } : { ...base, kind: "command", command: s.command, roleArn: s.roleArn };
  }

  /**
   * The caller may hand this role to a function (whose runs get its
   * credentials): a role of its own account with iam:PassRole on it (root has
   * it implicitly, a user by an identity policy), or another account's role
   * whose trust policy lets the caller assume it.
   */
  async function checkPassRole(principal: Principal, roleArn: string): Promise<void> {
    const role = await store.getPrincipal(roleArn);
    if (role?.kind === "role" && role.accountId !== principal.accountId) {
      await authorizer.authorize({ principal, action: "sts:AssumeRole", resource: roleArn, resourcePolicy: role.trustPolicy, mode: "trust" });
      return;
    }
    await authorizer.authorize({ principal, action: "iam:PassRole", resource: roleArn });
    if (role?.kind !== "role") throw new CofferError("InvalidParameter", `The role ${roleArn} does not exist.`);
  }

  return {
    builtinNames: Object.keys(all).map((n) => `coffer-${n}`),

    async resolve(arn: string): Promise<Rotator | undefined> {
      const parsed = parseFunctionArn(arn);
      if (!parsed) return undefined;
      if (parsed.name.startsWith("coffer-")) return all[parsed.name.slice("coffer-".length)];
      const key = `${parsed.accountId}/${parsed.name}`;
      const s = (await stored())[key];
      if (!s || (s.kind === "command" && !s.operator)) return undefined;
      const spec = specOf(key, s);
      if (spec.kind === "webhook") return webhookRotator(spec, webhooks, stepTimeoutMs);
      return commands && commandRotator(spec, commands, stepTimeoutMs);
    },

    /** Registers a function in the principal's account; a name already taken is an error. */
    async register(principal: Principal, input: FunctionInput): Promise<FunctionDescription> {
      const arn = arnOf(principal.accountId, input.name);
      await authorizer.authorize({ principal, action: "coffer:RegisterRotationFunction", resource: arn });
      checkFunctionName(input.name);
      if (!input.webhook === !input.command) throw new CofferError("InvalidParameter", "Give exactly one of Webhook and Command.");
      const key = `${principal.accountId}/${input.name}`;
      let entry: StoredFunction;
      if (input.webhook) {
        checkWebhook(input.webhook, webhooks);
        entry = sealedWebhook(key, input.webhook.url, input.webhook.secret);
      } else {
        if (!isOperator(principal)) {
          throw new CofferError(
            "AccessDenied",
            `User: ${principal.arn} is not authorized to register a command rotation function: a command runs on the Coffer server, so only the operator may register one (docs/rotation.md).`,
          );
        }
        const { program, args = [], roleArn } = input.command!;
        if (!program) throw new CofferError("InvalidParameter", "A command function needs a program.");
        if (!/^arn:aws:iam::\d{12}:role\/[\w+=,.@/-]+$/.test(roleArn)) throw new CofferError("InvalidParameter", "RoleArn must be an IAM role ARN.");
        await checkPassRole(principal, roleArn);
        entry = { kind: "command", command: [program, ...args], roleArn, operator: true };
      }
      return edit((functions) => {
        if (functions[key]) throw new CofferError("AlreadyExists", `The function ${input.name} already exists in account ${principal.accountId}.`);
        functions[key] = entry;
        return describe(key, entry);
      });
    },

    /** The account's registered functions, then the built-ins. */
    async list(principal: Principal): Promise<FunctionDescription[]> {
      await authorizer.authorize({ principal, action: "coffer:ListRotationFunctions", resource: "*" });
      const own = Object.entries(await stored())
        .filter(([key]) => key.startsWith(`${principal.accountId}/`))
        .map(([key, s]) => describe(key, s));
      const builtin = Object.keys(all).map((n): FunctionDescription => ({ name: `coffer-${n}`, arn: arnOf(principal.accountId, `coffer-${n}`), kind: "built-in" }));
      return [...own, ...builtin];
    },

    async deregister(principal: Principal, name: string): Promise<void> {
      await authorizer.authorize({ principal, action: "coffer:DeregisterRotationFunction", resource: arnOf(principal.accountId, name) });
      await edit((functions) => {
        const key = `${principal.accountId}/${name}`;
        if (!functions[key]) throw new CofferError("NotFound", `There is no function ${name} in account ${principal.accountId}.`);
        delete functions[key];
      });
    },

    /** Seals webhook keys an earlier version kept in plaintext (run at start-up). */
    async sealLegacySecrets(): Promise<number> {
      const legacy = (s: StoredFunction) => s.kind === "webhook" && s.secret !== undefined;
      if (!Object.values(await stored()).some(legacy)) return 0;
      return edit((functions) => {
        const keys = Object.keys(functions).filter((key) => legacy(functions[key]));
        for (const key of keys) {
          const s = functions[key] as { url: string; secret: string };
          functions[key] = sealedWebhook(key, s.url, s.secret);
        }
        return keys.length;
      });
    },
  };
}

export type FunctionRegistry = ReturnType<typeof createFunctionRegistry>;

function checkFunctionName(name: string): void {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name) || name.startsWith("coffer-")) {
    throw new CofferError("InvalidParameter", "A function name is 1-64 letters, digits, - or _, and may not start with coffer-.");
  }
}

function checkWebhook(spec: { url: string; secret: string }, webhooks: WebhookClient): void {
  let url: URL;
  try {
    url = new URL(spec.url);
  } catch {
    throw new CofferError("InvalidParameter", "The webhook URL is not a valid URL.");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new CofferError("InvalidParameter", "The webhook URL must be http or https.");
  try {
    webhooks.checkLiteralHost(spec.url);
  } catch (err) {
    throw new CofferError("InvalidParameter", `The webhook URL is refused: ${(err as Error).message}.`);
  }
  if (spec.secret.length < 16) throw new CofferError("InvalidParameter", "The webhook secret must be at least 16 characters.");
}
