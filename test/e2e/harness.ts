import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import Database from "better-sqlite3";
import { pino } from "pino";
import { loadConfig } from "../../src/app/config.ts";
import { createCoffer, type Coffer } from "../../src/app/compose.ts";
import { freshSchema, sql } from "../postgres.ts";

export interface Running {
  coffer: Coffer;
  url: string;
  dataDir: string;
  /** Under `npm run test:postgres`: the server's database (its own schema). */
  databaseUrl?: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  client: SecretsManagerClient;
  clientFor(credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }): SecretsManagerClient;
  stop(): Promise<void>;
}

/**
 * With COFFER_TEST_BACKEND=postgres (`npm run test:postgres`) every server
 * the harness starts keeps its data in a fresh PostgreSQL schema, one per
 * data directory (a restart on the same directory finds its data again).
 */
const databases = new Map<string, Promise<Awaited<ReturnType<typeof freshSchema>>>>();
function testDatabase(dataDir: string): Promise<Awaited<ReturnType<typeof freshSchema>>> | undefined {
  if (process.env.COFFER_TEST_BACKEND !== "postgres") return undefined;
  let database = databases.get(dataDir);
  if (!database) databases.set(dataDir, (database = freshSchema(`coffer_wire_${process.env.COFFER_TEST_RUN ?? "x"}`)));
  return database;
}

/** Whether the harness's servers keep their data in PostgreSQL rather than the data directory's SQLite file. */
export const onPostgres = process.env.COFFER_TEST_BACKEND === "postgres";

/** Starts a real Coffer server on a free port in a fresh data directory, as a user would run it. */
export async function startCoffer(
  opts: { env?: Record<string, string>; clock?: { now(): number }; logFile?: string; dataDir?: string; configFile?: string; port?: number } = {},
): Promise<Running> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "coffer-e2e-"));
  const database = await testDatabase(dataDir);
  const config = loadConfig(
    { port: opts.port ?? 0, dataDir, logLevel: opts.logFile ? "debug" : "silent", ...(opts.configFile ? { config: opts.configFile } : {}) },
    { ...(database ? { COFFER_DATABASE_URL: database.url } : {}), ...opts.env },
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
    databaseUrl: config.databaseUrl,
    credentials,
    client: clientFor(credentials),
    clientFor,
    async stop() {
      await coffer.stop();
      if (!opts.dataDir) {
        rmSync(dataDir, { recursive: true, force: true });
        await database?.drop();
        databases.delete(dataDir);
      }
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

/**
 * Statements run on the server's database behind its back, as someone with
 * the database (not the master key) could: the SQLite file, or the
 * PostgreSQL schema under `npm run test:postgres`.
 */
export async function behindTheServer(run: Running, statements: string): Promise<void> {
  if (run.databaseUrl) {
    await sql(run.databaseUrl, statements);
    return;
  }
  const db = new Database(join(run.dataDir, "coffer.db"));
  try {
    db.exec(statements);
  } finally {
    db.close();
  }
}
