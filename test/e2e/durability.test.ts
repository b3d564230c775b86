import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { describe, expect, it } from "vitest";
import { printedCredentials, spawnServer } from "./spawn.ts";
import { spawnedCleanup } from "./spawned.ts";

const { tempDir, track } = spawnedCleanup("coffer-proc-");

function client(url: string, credentials: { accessKeyId: string; secretAccessKey: string }) {
  return new SecretsManagerClient({ endpoint: url, region: "us-east-1", credentials, maxAttempts: 1 });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile());
}

describe("a real server process", () => {
  it("creates key file, database and credentials on first start with the right modes", async () => {
    const dataDir = tempDir();
    const s = await spawnServer(["--data-dir", dataDir]);
    track(s);
    const creds = printedCredentials(s.output());
    expect(creds.accessKeyId).toMatch(/^AKIA[A-Z2-7]{16}$/);
    expect(creds.secretAccessKey).toHaveLength(40);
    expect(statSync(join(dataDir, "master.key")).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, "admin-credentials")).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dataDir, "admin-credentials"), "utf8")).toBe(
      `[default]\naws_access_key_id = ${creds.accessKeyId}\naws_secret_access_key = ${creds.secretAccessKey}\n`,
    );
    // The secret key is printed to the terminal once, never into the structured log.
    const logLines = s.output().split("\n").filter((l) => l.startsWith("{"));
    expect(logLines.join("\n")).not.toContain(creds.secretAccessKey);
    s.child.kill("SIGTERM");
    expect(await s.exited).toBe(0);

    const again = await spawnServer(["--data-dir", dataDir]);
    track(again);
    expect(again.output()).not.toContain("AWS_SECRET_ACCESS_KEY");
    const sm = client(again.url, creds);
    await sm.send(new CreateSecretCommand({ Name: "after-restart", SecretString: "ok" }));
  });

  it("keeps every acknowledged write through kill -9", async () => {
    const dataDir = tempDir();
    const s = await spawnServer(["--data-dir", dataDir]);
    track(s);
    const creds = printedCredentials(s.output());
    const sm = client(s.url, creds);
    await sm.send(new CreateSecretCommand({ Name: "durable", SecretString: "v0" }));
    let acknowledged = 0;
    for (let i = 1; i <= 30; i++) {
      await sm.send(new PutSecretValueCommand({ SecretId: "durable", SecretString: `v${i}` }));
      acknowledged = i;
    }
    s.child.kill("SIGKILL");
    await s.exited;

    const back = await spawnServer(["--data-dir", dataDir]);
    track(back);
    const got = await client(back.url, creds).send(new GetSecretValueCommand({ SecretId: "durable" }));
    expect(got.SecretString).toBe(`v${acknowledged}`);
  });

  it("never writes a secret value in plaintext to the data directory, the logs or an error", async () => {
    const dataDir = tempDir();
    const canary = `CANARY-${randomUUID()}`;
    const s = await spawnServer(["--data-dir", dataDir, "--log-level", "trace"]);
    track(s);
    const sm = client(s.url, printedCredentials(s.output()));
    await sm.send(new CreateSecretCommand({ Name: "planted", SecretString: canary }));
    await sm.send(new PutSecretValueCommand({ SecretId: "planted", SecretBinary: Buffer.from(`${canary}-binary`) }));
    expect((await sm.send(new GetSecretValueCommand({ SecretId: "planted", VersionStage: "AWSPREVIOUS" }))).SecretString).toBe(canary);
    const errors: string[] = [];
    for (const bad of [
      new CreateSecretCommand({ Name: "planted", SecretString: canary }), // exists
      new CreateSecretCommand({ Name: "bad name", SecretString: canary }), // invalid name
      new PutSecretValueCommand({ SecretId: "planted", SecretString: canary + "x".repeat(65_536) }), // too long
      new PutSecretValueCommand({ SecretId: "missing", SecretString: canary }), // not found
      new PutSecretValueCommand({ SecretId: "planted", SecretString: canary, SecretBinary: Buffer.from("x") }), // both
    ]) {
      try {
        await sm.send(bad as never);
        errors.push("(succeeded)");
      } catch (err) {
        errors.push(`${(err as Error).name}: ${(err as Error).message}`);
      }
    }
    expect(errors.every((e) => !e.includes("(succeeded)"))).toBe(true);
    s.child.kill("SIGTERM");
    await s.exited;

    const needles = [canary, Buffer.from(canary).toString("base64"), Buffer.from(`${canary}-binary`).toString("base64")];
    for (const file of filesUnder(dataDir)) {
      const bytes = readFileSync(file);
      for (const n of needles) expect(bytes.includes(Buffer.from(n)), `${n} in ${file}`).toBe(false);
      expect(bytes.includes(Buffer.from(canary, "utf16le")), file).toBe(false);
    }
    for (const n of needles) expect(s.output()).not.toContain(n);
    for (const e of errors) expect(e).not.toContain(canary);
  });
});
