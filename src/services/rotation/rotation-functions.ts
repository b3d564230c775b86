import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { randomPassword } from "../../crypto/password.ts";
import { CofferError } from "../../shared/errors.ts";
import { WebhookError, type WebhookClient } from "../webhook/webhook-client.ts";
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

/** Output a command may write (stdout and stderr together) before it is killed; the output itself is dropped. */
export const MAX_COMMAND_OUTPUT_BYTES = 1024 * 1024;

/**
 * A command rotation function: exit status 0 means the step is done. Only the
 * exit status is reported on failure: the command's output may hold secrets.
 * A command cannot hurt the server: it runs in its own process group, killed
 * whole when it outlasts `timeoutMs` or writes more than MAX_COMMAND_OUTPUT_BYTES;
 * one that never reads its stdin (EPIPE) just fails or succeeds by its status.
 */
export function commandRotator(spec: CommandFunction, ctx: CommandContext, timeoutMs = 60_000): Rotator {
  return {
    async step(event) {
      const creds = await ctx.credentialsFor(spec.roleArn);
      const child = spawn(spec.command[0], spec.command.slice(1), {
        stdio: ["pipe", "pipe", "pipe"],
        // Its own process group, so a kill reaches whatever it started too.
        detached: true,
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
      let killedFor: string | undefined;
      const kill = (why: string) => {
        // Also after the command itself exited: something it started may still hold its output open.
        if (killedFor || child.pid === undefined) return;
        killedFor = why;
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          // The group is gone already.
        }
      };
      let output = 0;
      const count = (chunk: Buffer) => {
        output += chunk.length;
        if (output > MAX_COMMAND_OUTPUT_BYTES) kill(`wrote more than ${MAX_COMMAND_OUTPUT_BYTES} bytes of output`);
      };
      child.stdout!.on("data", count);
      child.stderr!.on("data", count);
      // A command that exits (or closes stdin) without reading the event: EPIPE here, judged by its exit status.
      child.stdin!.on("error", () => undefined);
      child.stdin!.end(JSON.stringify(event));
      const timer = setTimeout(() => kill(`did not finish within ${timeoutMs / 1000} s`), timeoutMs);
      const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => {
        child.on("error", () => resolve([127, null]));
        // "close", not "exit": its output pipes are drained (or it was killed) by then.
        child.on("close", (c, sig) => resolve([c, sig]));
      }).finally(() => clearTimeout(timer));
      if (killedFor) throw new CofferError("InvalidRequest", `${event.Step} failed: the rotation command was killed: it ${killedFor}.`);
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
 * and answers 2xx when done. The client refuses internal addresses the
 * operator has not allowed; a failure is reported by status code or a fixed
 * reason, never with the receiver's body (it may echo anything).
 */
export function webhookRotator(spec: WebhookFunction, client: WebhookClient, timeoutMs = 30_000): Rotator {
  return {
    async step(event: RotationEvent) {
      const body = JSON.stringify(event);
      let status: number;
      try {
        status = await client.post({
          url: spec.url,
          headers: {
            "content-type": "application/json",
            "x-coffer-signature": `sha256=${createHmac("sha256", spec.secret).update(body).digest("hex")}`,
          },
          body,
          timeoutMs,
        });
      } catch (err) {
        const reason = err instanceof WebhookError ? err.reason : "the request failed";
        throw new CofferError("InvalidRequest", `${event.Step} failed: the rotation webhook did not answer: ${reason}.`);
      }
      if (status >= 300 && status <= 399) {
        throw new CofferError("InvalidRequest", `${event.Step} failed: the rotation webhook answered ${status} (redirects are not followed).`);
      }
      if (status < 200 || status > 299) throw new CofferError("InvalidRequest", `${event.Step} failed: the rotation webhook answered ${status}.`);
    },
  };
}

/** Passwords for database rotators: no characters that break connection strings or URLs. */
export const CONNECTION_SAFE_EXCLUDES = `/@"'\\\` :;,%?#&=+`;

export function localRandomPassword(options: { length?: number; excludeCharacters?: string; excludePunctuation?: boolean }): string {
  return randomPassword({ length: options.length ?? 32, excludeCharacters: options.excludeCharacters, excludePunctuation: options.excludePunctuation });
}
