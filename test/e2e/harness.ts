import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { pino } from "pino";
import { loadConfig } from "../../src/app/config.ts";
import { createCoffer, type Coffer } from "../../src/app/compose.ts";

export interface Running {
  coffer: Coffer;
  url: string;
  dataDir: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  client: SecretsManagerClient;
  clientFor(credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }): SecretsManagerClient;
  stop(): Promise<void>;
}

/** Starts a real Coffer server on a free port in a fresh data directory, as a user would run it. */
export async function startCoffer(
  opts: { env?: Record<string, string>; clock?: { now(): number }; logFile?: string; dataDir?: string; configFile?: string } = {},
): Promise<Running> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "coffer-e2e-"));
  const config = loadConfig(
    { port: 0, dataDir, logLevel: opts.logFile ? "debug" : "silent", ...(opts.configFile ? { config: opts.configFile } : {}) },
    opts.env ?? {},
  );
  const logger = opts.logFile
    ? pino({ level: "debug" }, pino.destination({ dest: opts.logFile, sync: true }))
    : pino({ level: "silent" });
  const coffer = await createCoffer(config, { logger, clock: opts.clock });
  const url = await coffer.start();
  const credentials = coffer.adminKey!;
  const clientFor: Running["clientFor"] = (creds) =>
    new SecretsManagerClient({ endpoint: url, region: config.region, credentials: creds, maxAttempts: 1 });
  return {
    coffer,
    url,
    dataDir,
    credentials,
    client: clientFor(credentials),
    clientFor,
    async stop() {
      await coffer.stop();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The error a call rejects with (an SDK error: name, message, $metadata); a call that succeeds fails the test. */
export async function failure(promise: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { $metadata?: { httpStatusCode?: number } };
  }
  throw new Error("expected the call to fail");
}
