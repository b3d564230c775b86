import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { randomPassword } from "../../crypto/password.ts";
import { CofferError } from "../errors.ts";
import type { RotationEvent, RotationSecrets, Rotator } from "./rotation-types.ts";

/**
 * Rotation functions, addressed like Lambda functions
 * (arn:aws:lambda:<region>:<account>:function:<name>). Built-ins exist in
 * every account as coffer-<name>; webhooks are registered per account.
 */

export interface WebhookFunction {
  kind: "webhook";
  url: string;
  /** HMAC-SHA256 key for the x-coffer-signature header the receiver verifies. */
  secret: string;
}

/** A local executable: the event on stdin, the execution role's temporary credentials in its environment. */
export interface CommandFunction {
  kind: "command";
  /** argv: the program and its arguments. */
  command: string[];
  /** The role whose temporary credentials the command gets. */
  roleArn: string;
}

export type FunctionSpec = WebhookFunction | CommandFunction;

export interface CommandContext {
  /** Temporary credentials of a role, for one invocation. */
  credentialsFor(roleArn: string): Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken: string }>;
  /** Coffer's own URL, so an unmodified AWS SDK in the command talks to it (AWS_ENDPOINT_URL). */
  endpoint(): string;
  region: string;
}

/**
 * A command rotation function: exit status 0 means the step is done. Only the
 * exit status is reported on failure: the command's output may hold secrets.
 */
export function commandRotator(spec: CommandFunction, ctx: CommandContext, timeoutMs = 60_000): Rotator {
  return {
    async step(event) {
      const creds = await ctx.credentialsFor(spec.roleArn);
      const child = spawn(spec.command[0], spec.command.slice(1), {
        stdio: ["pipe", "ignore", "ignore"],
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          AWS_ACCESS_KEY_ID: creds.accessKeyId,
          AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
          AWS_SESSION_TOKEN: creds.sessionToken,
          AWS_ENDPOINT_URL: ctx.endpoint(),
          AWS_REGION: ctx.region,
          AWS_DEFAULT_REGION: ctx.region,
          COFFER_ROTATION_STEP: event.Step,
        },
      });
      child.stdin!.end(JSON.stringify(event));
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => {
        child.on("error", () => resolve([127, null]));
        child.on("exit", (c, sig) => resolve([c, sig]));
      }).finally(() => clearTimeout(timer));
      if (code !== 0) {
        throw new CofferError("InvalidRequest", `${event.Step} failed: the rotation command ${signal ? `was killed (${signal})` : `exited with status ${code}`}.`);
      }
    },
  };
}

export function parseFunctionArn(arn: string): { region: string; accountId: string; name: string } | undefined {
  const m = /^arn:aws:lambda:([a-z0-9-]+):(\d{12}):function:([A-Za-z0-9_-]{1,64})$/.exec(arn);
  return m ? { region: m[1], accountId: m[2], name: m[3] } : undefined;
}

/** coffer-random-value: the whole SecretString becomes a new random 40-character value (internal API keys). */
export const randomValueRotator: Rotator = {
  async step(event, secrets) {
    const { SecretId: id, ClientRequestToken: token } = event;
    if (event.Step === "createSecret") {
      if (await hasPendingValue(secrets, id, token)) return;
      await secrets.putPending(id, token, await secrets.randomPassword({ length: 40, excludePunctuation: true }));
    } else if (event.Step === "finishSecret") {
      await finishByMovingCurrent(secrets, id, token);
    }
    // setSecret / testSecret: nothing outside Coffer holds this value.
  },
};

export async function hasPendingValue(secrets: RotationSecrets, secretId: string, token: string): Promise<boolean> {
  try {
    await secrets.getValue(secretId, { versionId: token, versionStage: "AWSPENDING" });
    return true;
  } catch (err) {
    if (err instanceof CofferError && err.code === "NotFound") return false;
    throw err;
  }
}

/** The finishSecret step every rotator shares: AWSCURRENT moves to the new version. */
export async function finishByMovingCurrent(secrets: RotationSecrets, secretId: string, token: string): Promise<void> {
  const { versionStages } = await secrets.describe(secretId);
  const current = Object.entries(versionStages).find(([, stages]) => stages.includes("AWSCURRENT"))?.[0];
  if (current === token) return;
  await secrets.moveCurrent(secretId, token, current!);
}

/**
 * A webhook rotation function: Coffer POSTs the Lambda event, signed; the
 * receiver does the step by calling Coffer's API with its own credentials
 * and answers 2xx when done.
 */
export function webhookRotator(spec: WebhookFunction, timeoutMs = 30_000): Rotator {
  return {
    async step(event: RotationEvent) {
      const body = JSON.stringify(event);
      let res: Response;
      try {
        res = await fetch(spec.url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "x-coffer-signature": `sha256=${createHmac("sha256", spec.secret).update(body).digest("hex")}`,
          },
          body,
          redirect: "manual",
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        throw new CofferError("InvalidRequest", `${event.Step} failed: the rotation webhook did not answer (${(err as Error).name}).`);
      }
      if (res.status < 200 || res.status > 299) {
        const text = (await res.text().catch(() => "")).slice(0, 200);
        throw new CofferError("InvalidRequest", `${event.Step} failed: the rotation webhook answered ${res.status}${text ? `: ${text}` : ""}`);
      }
    },
  };
}

/** Passwords for database rotators: no characters that break connection strings or URLs. */
export const CONNECTION_SAFE_EXCLUDES = `/@"'\\\` :;,%?#&=+`;

export function localRandomPassword(options: { length?: number; excludeCharacters?: string; excludePunctuation?: boolean }): string {
  return randomPassword({ length: options.length ?? 32, excludeCharacters: options.excludeCharacters, excludePunctuation: options.excludePunctuation });
}
