import { randomUUID } from "node:crypto";
import { copyFileSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { GetParameterCommand, PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { describe, expect, it } from "vitest";
import { coffer, finished } from "./cli-process.ts";
import { printedCredentials, spawnServer } from "./spawn.ts";
import { spawnedCleanup } from "./spawned.ts";

const { tempDir, track } = spawnedCleanup("coffer-backup-");

type Creds = { accessKeyId: string; secretAccessKey: string };
const sm = (url: string, credentials: Creds) => new SecretsManagerClient({ endpoint: url, region: "us-east-1", credentials, maxAttempts: 1 });
const ssm = (url: string, credentials: Creds) => new SSMClient({ endpoint: url, region: "us-east-1", credentials, maxAttempts: 1 });

function run(args: string[], env: Record<string, string> = {}) {
  return finished(coffer(args, { PATH: process.env.PATH, HOME: tempDir(), ...env }));
}

describe("coffer backup and restore", () => {
  it("backs up a running server under writes; the restored directory serves everything and its audit verifies", async () => {
    const dataDir = tempDir();
    const canary = `CANARY-${randomUUID()}`;
    const s = track(await spawnServer(["--data-dir", dataDir]));
    const creds = printedCredentials(s.output());
    const secrets = sm(s.url, creds);
    const params = ssm(s.url, creds);
    await secrets.send(new CreateSecretCommand({ Name: "db/password", SecretString: `${canary}-v1` }));
    await secrets.send(new PutSecretValueCommand({ SecretId: "db/password", SecretString: `${canary}-v2` }));
    await secrets.send(new CreateSecretCommand({ Name: "blob", SecretBinary: Buffer.from(`${canary}-bin`) }));
    await params.send(new PutParameterCommand({ Name: "/app/url", Value: "https://example.test", Type: "String" }));
    await params.send(new PutParameterCommand({ Name: "/app/token", Value: `${canary}-param`, Type: "SecureString" }));
    await params.send(new PutParameterCommand({ Name: "/app/token", Value: `${canary}-param2`, Type: "SecureString", Overwrite: true }));

    // Writes keep going while the backup runs: the backup is one consistent instant, whichever that is.
    let writing = true;
    let written = 0;
    const writer = (async () => {
      await secrets.send(new CreateSecretCommand({ Name: "busy", SecretString: "0" }));
      while (writing) await secrets.send(new PutSecretValueCommand({ SecretId: "busy", SecretString: String(++written) }));
    })();
    const out = join(tempDir(), "coffer.backup");
    const backup = await run(["backup", "--out", out, "--data-dir", dataDir]);
    writing = false;
    await writer;
    expect(backup.stderr).toBe("");
    expect(backup.code).toBe(0);
    expect(backup.stdout).toMatch(/sealed under master key [0-9a-f]{16}/);
    expect(statSync(out).mode & 0o777).toBe(0o600);

    // Still encrypted: no secret value, and not the master key, in the file.
    const bytes = readFileSync(out);
    expect(bytes.includes(canary)).toBe(false);
    const masterKey = readFileSync(join(dataDir, "master.key"), "utf8").trim();
    expect(bytes.includes(masterKey)).toBe(false);
    expect(bytes.includes(Buffer.from(masterKey, "base64"))).toBe(false);

    // A backup never overwrites.
    const again = await run(["backup", "--out", out, "--data-dir", dataDir]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("exists already");

    // Restore into a new directory, with the same master key.
    const restoredDir = join(tempDir(), "restored");
    const restore = await run(["restore", "--from", out, "--data-dir", restoredDir]);
    expect(restore.stderr).toBe("");
    expect(restore.code).toBe(0);
    expect(statSync(restoredDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(restoredDir, "coffer.db")).mode & 0o777).toBe(0o600);
    const keyFile = join(tempDir(), "master.key");
    copyFileSync(join(dataDir, "master.key"), keyFile);

    const r = track(await spawnServer(["--data-dir", restoredDir, "--master-key-file", keyFile]));
    expect(r.output()).not.toContain("AWS_SECRET_ACCESS_KEY"); // not a first start: the same administrator key works
    const rs = sm(r.url, creds);
    expect((await rs.send(new GetSecretValueCommand({ SecretId: "db/password" }))).SecretString).toBe(`${canary}-v2`);
    expect((await rs.send(new GetSecretValueCommand({ SecretId: "db/password", VersionStage: "AWSPREVIOUS" }))).SecretString).toBe(`${canary}-v1`);
    expect((await rs.send(new ListSecretVersionIdsCommand({ SecretId: "db/password" }))).Versions).toHaveLength(2);
    expect(Buffer.from((await rs.send(new GetSecretValueCommand({ SecretId: "blob" }))).SecretBinary!).toString()).toBe(`${canary}-bin`);
    const busy = Number((await rs.send(new GetSecretValueCommand({ SecretId: "busy" }))).SecretString);
    expect(busy).toBeGreaterThanOrEqual(0);
    expect(busy).toBeLessThanOrEqual(written);
    const rp = ssm(r.url, creds);
    expect((await rp.send(new GetParameterCommand({ Name: "/app/url" }))).Parameter?.Value).toBe("https://example.test");
    expect((await rp.send(new GetParameterCommand({ Name: "/app/token", WithDecryption: true }))).Parameter).toMatchObject({ Value: `${canary}-param2`, Version: 2 });
    expect((await rp.send(new GetParameterCommand({ Name: "/app/token:1", WithDecryption: true }))).Parameter?.Value).toBe(`${canary}-param`);
    r.child.kill("SIGTERM");
    await r.exited;

    const verify = await run(["audit", "verify", "--data-dir", restoredDir], { COFFER_MASTER_KEY_FILE: keyFile });
    expect(verify.stderr).toBe("");
    expect(verify.stdout).toContain("audit trail intact");

    // Only into a new directory.
    const refused = await run(["restore", "--from", out, "--data-dir", dataDir]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("is not empty");
  }, 120_000); // several server starts and CLI processes: slow on a busy 2-core machine

  it("refuses a file that is not a Coffer backup, and a restored directory needs its master key", async () => {
    const junk = join(tempDir(), "junk");
    writeFileSync(junk, "not a database at all, just text".repeat(100));
    const bad = await run(["restore", "--from", junk, "--data-dir", join(tempDir(), "x")]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/not a Coffer backup|cannot be opened/);

    const dataDir = tempDir();
    const s = track(await spawnServer(["--data-dir", dataDir]));
    const out = join(tempDir(), "b");
    expect((await run(["backup", "--out", out, "--data-dir", dataDir])).code).toBe(0);
    s.child.kill("SIGTERM");
    await s.exited;
    const restoredDir = join(tempDir(), "r");
    expect((await run(["restore", "--from", out, "--data-dir", restoredDir])).code).toBe(0);
    // No key file given: the default one does not exist there, and none is made over existing data.
    await expect(spawnServer(["--data-dir", restoredDir])).rejects.toThrow(/does not exist/);
  }, 120_000);
});
