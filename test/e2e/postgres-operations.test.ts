import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { CreateSecretCommand, GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshSchema, postgresUnavailable, sql } from "../postgres.ts";
import { printedCredentials, spawnServer } from "./spawn.ts";
import { spawnedCleanup } from "./spawned.ts";

/**
 * Operating Coffer on PostgreSQL (docs/deploy.md): `coffer migrate` alone, a
 * node refusing a database a newer Coffer migrated or one sealed under
 * another master key, with a clear error and no change to the data, and the
 * database URL's password kept out of what Coffer prints.
 */
const unavailable = await postgresUnavailable();
const bin = fileURLToPath(new URL("../../bin/coffer.js", import.meta.url));
const coffer = (args: string[], env: Record<string, string> = {}) =>
  promisify(execFile)(process.execPath, [bin, ...args], { env: { ...process.env, ...env } }).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
  );

describe.skipIf(unavailable !== undefined)(`operating on PostgreSQL${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  const { tempDir, track } = spawnedCleanup("coffer-pgops-", "file");
  let database: Awaited<ReturnType<typeof freshSchema>>;
  const masterKey = randomBytes(32).toString("base64");
  beforeAll(async () => {
    database = await freshSchema("coffer_ops");
  });
  afterAll(async () => {
    await database?.drop();
  });
  const query = (text: string, args: unknown[] = []) => sql(database.url, text, args);

  it("coffer migrate brings an empty database to this version's schema and says so; a second run changes nothing", async () => {
    const first = await coffer(["migrate", "--database-url", database.url, "--data-dir", tempDir()]);
    expect(first).toMatchObject({ code: 0, out: expect.stringContaining("is up to date") });
    const versions = await query("SELECT version FROM coffer_migrations ORDER BY version");
    expect(versions.length).toBeGreaterThan(0);
    expect((await coffer(["migrate", "--database-url", database.url, "--data-dir", tempDir()])).code).toBe(0);
    expect(await query("SELECT version FROM coffer_migrations ORDER BY version")).toEqual(versions);
  });

  it("a node with another master key refuses the database, naming both keys, and leaves the data as it was", async () => {
    const a = track(await spawnServer(["--data-dir", tempDir()], { COFFER_DATABASE_URL: database.url, COFFER_MASTER_KEY: masterKey }));
    const credentials = printedCredentials(a.output());
    const sm = new SecretsManagerClient({ endpoint: a.url, region: "us-east-1", credentials, maxAttempts: 1 });
    await sm.send(new CreateSecretCommand({ Name: "ops/db", SecretString: "kept" }));
    const other = randomBytes(32).toString("base64");
    const refused = await coffer(["server", "--port", "0", "--data-dir", tempDir()], { COFFER_DATABASE_URL: database.url, COFFER_MASTER_KEY: other });
    expect(refused.code).not.toBe(0);
    expect(refused.out).toMatch(/master key does not open this/);
    expect((await sm.send(new GetSecretValueCommand({ SecretId: "ops/db" }))).SecretString).toBe("kept");
    sm.destroy();
  });

  it("a node refuses a database migrated by a newer Coffer, and coffer migrate does too", async () => {
    await query("INSERT INTO coffer_migrations (version, applied_at) VALUES (999, 0)");
    try {
      const env = { COFFER_DATABASE_URL: database.url, COFFER_MASTER_KEY: masterKey };
      const server = await coffer(["server", "--port", "0", "--data-dir", tempDir()], env);
      expect(server.code).not.toBe(0);
      expect(server.out).toMatch(/migrated by a newer Coffer \(schema version 999; this Coffer knows up to \d+\): upgrade this node/);
      const migrate = await coffer(["migrate", "--data-dir", tempDir()], env);
      expect(migrate.code).not.toBe(0);
      expect(migrate.out).toContain("migrated by a newer Coffer");
    } finally {
      await query("DELETE FROM coffer_migrations WHERE version = 999");
    }
  });

  it("rotates the master key beside a running node (--nodes is required), which keeps serving; the old key no longer opens", async () => {
    const db = await freshSchema("coffer_rotate");
    try {
      const env = { COFFER_DATABASE_URL: db.url, COFFER_MASTER_KEY: masterKey };
      const node = track(await spawnServer(["--data-dir", tempDir()], env));
      const credentials = printedCredentials(node.output());
      const sm = new SecretsManagerClient({ endpoint: node.url, region: "us-east-1", credentials, maxAttempts: 1 });
      await sm.send(new CreateSecretCommand({ Name: "rot/db", SecretString: "kept" }));
      const next = randomBytes(32).toString("base64");
      const withoutNodes = await coffer(["master-key", "rotate", "--data-dir", tempDir()], { ...env, COFFER_NEW_MASTER_KEY: next });
      expect(withoutNodes.code).not.toBe(0);
      expect(withoutNodes.out).toContain("--nodes N");
      const rotated = await coffer(["master-key", "rotate", "--nodes", "1", "--data-dir", tempDir()], { ...env, COFFER_NEW_MASTER_KEY: next });
      expect(rotated.code, rotated.out).toBe(0);
      expect((await sm.send(new GetSecretValueCommand({ SecretId: "rot/db" }))).SecretString).toBe("kept");
      sm.destroy();
      const old = await coffer(["server", "--port", "0", "--data-dir", tempDir()], env);
      expect(old.code).not.toBe(0);
      expect(old.out).toMatch(/master key does not open this/);
      const fresh = track(await spawnServer(["--data-dir", tempDir()], { ...env, COFFER_MASTER_KEY: next }));
      const onFresh = new SecretsManagerClient({ endpoint: fresh.url, region: "us-east-1", credentials, maxAttempts: 1 });
      expect((await onFresh.send(new GetSecretValueCommand({ SecretId: "rot/db" }))).SecretString).toBe("kept");
      onFresh.destroy();
    } finally {
      await db.drop();
    }
  }, 120_000);

  it("never prints the database password, even when the database cannot be reached", async () => {
    const url = "postgres://coffer:hunter2-not-printed@127.0.0.1:1/coffer";
    const r = await coffer(["migrate", "--database-url", url, "--data-dir", tempDir()]);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain("Cannot reach the PostgreSQL database");
    expect(r.out).not.toContain("hunter2");
  });
});
