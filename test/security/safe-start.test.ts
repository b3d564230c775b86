import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { CreateSecretCommand, GetSecretValueCommand, ListSecretsCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import Database from "better-sqlite3";
import { describe, expect, it, vi } from "vitest";
import { printedCredentials, spawnServer, type Spawned } from "../e2e/spawn.ts";
import { spawnedCleanup } from "../e2e/spawned.ts";

/**
 * Issue 12, item 16: the server refuses to start on a master key that does not
 * open the data, never makes a new key over existing data, runs once per data
 * directory, keeps its files private whatever the umask, warns on plain HTTP
 * off loopback, runs without core dumps, and survives a failed first start.
 */

// Each test starts several server processes (and CLI runs): generous on a busy machine; a hang detector, not a timing.
vi.setConfig({ testTimeout: 180_000 });

const bin = fileURLToPath(new URL("../../bin/coffer.js", import.meta.url));
const { tempDir, track } = spawnedCleanup("coffer-safe-start-");

async function started(args: string[], env: Record<string, string> = {}): Promise<Spawned> {
  const s = await spawnServer(args, env);
  track(s);
  return s;
}

async function stopped(s: Spawned): Promise<void> {
  s.child.kill("SIGTERM");
  expect(await s.exited).toBe(0);
}

/** Starts a server that must refuse: resolves to its output; a server that listens fails the test. */
async function refused(args: string[], env: Record<string, string> = {}): Promise<string> {
  let s: Spawned;
  try {
    s = await spawnServer(args, env);
  } catch (err) {
    const text = (err as Error).message;
    expect(text).toMatch(/^server exited with [1-9]\d*:/);
    return text;
  }
  track(s);
  throw new Error(`the server started when it should have refused:\n${s.output()}`);
}

function client(url: string, credentials: { accessKeyId: string; secretAccessKey: string }) {
  return new SecretsManagerClient({ endpoint: url, region: "us-east-1", credentials, maxAttempts: 1 });
}

/** A data directory that has served once and holds a secret. */
async function usedDataDir(env: Record<string, string> = {}) {
  const dataDir = tempDir();
  const s = await started(["--data-dir", dataDir], env);
  const creds = printedCredentials(s.output());
  await client(s.url, creds).send(new CreateSecretCommand({ Name: "kept", SecretString: "kept-value" }));
  await stopped(s);
  return { dataDir, creds };
}

const coffer = (args: string[], env: Record<string, string> = {}) =>
  promisify(execFile)(process.execPath, [bin, ...args], { env: { ...process.env, ...env } });

describe("a master key that does not open the data", () => {
  it("refuses a wrong key file, leaves it alone, and starts again with the right one", async () => {
    const { dataDir, creds } = await usedDataDir();
    const keyFile = join(dataDir, "master.key");
    const right = readFileSync(keyFile, "utf8");
    const wrong = randomBytes(32).toString("base64") + "\n";
    writeFileSync(keyFile, wrong, { mode: 0o600 });
    const out = await refused(["--data-dir", dataDir]);
    expect(out).toMatch(/master key does not open this data directory/);
    expect(out).not.toContain(wrong.trim());
    expect(readFileSync(keyFile, "utf8")).toBe(wrong);

    // A wrong key from the environment is refused the same way.
    expect(await refused(["--data-dir", dataDir], { COFFER_MASTER_KEY: randomBytes(32).toString("base64") })).toMatch(
      /master key does not open this data directory/,
    );

    writeFileSync(keyFile, right, { mode: 0o600 });
    const back = await started(["--data-dir", dataDir]);
    expect((await client(back.url, creds).send(new GetSecretValueCommand({ SecretId: "kept" }))).SecretString).toBe("kept-value");
  });

  it("refuses a missing key file and never creates a new key over existing data", async () => {
    const { dataDir } = await usedDataDir();
    unlinkSync(join(dataDir, "master.key"));
    const out = await refused(["--data-dir", dataDir]);
    expect(out).toMatch(/master key file .* does not exist/);
    expect(existsSync(join(dataDir, "master.key"))).toBe(false);
    // The admin command that works on the data directory refuses too, without making a key.
    const cli = await coffer(["account", "create", "111111111111", "--data-dir", dataDir]).then(
      () => "succeeded",
      (e: { stderr: string }) => e.stderr,
    );
    expect(cli).toMatch(/master key file .* does not exist/);
    expect(existsSync(join(dataDir, "master.key"))).toBe(false);
  });

  it("refuses a wrong passphrase, and a missing salt", async () => {
    const passphrase = "correct horse battery staple";
    const { dataDir, creds } = await usedDataDir({ COFFER_MASTER_PASSPHRASE: passphrase });
    expect(await refused(["--data-dir", dataDir], { COFFER_MASTER_PASSPHRASE: "incorrect horse battery staple" })).toMatch(
      /master key does not open this data directory/,
    );
    const saltFile = join(dataDir, "master.salt");
    const salt = readFileSync(saltFile, "utf8");
    unlinkSync(saltFile);
    expect(await refused(["--data-dir", dataDir], { COFFER_MASTER_PASSPHRASE: passphrase })).toMatch(/salt file .* does not exist/);
    expect(existsSync(saltFile)).toBe(false);
    writeFileSync(saltFile, salt);
    const back = await started(["--data-dir", dataDir], { COFFER_MASTER_PASSPHRASE: passphrase });
    await client(back.url, creds).send(new ListSecretsCommand({}));
  });

  it("checks data directories made before the key check was stored (from their sealed rows)", async () => {
    const { dataDir, creds } = await usedDataDir();
    const db = new Database(join(dataDir, "coffer.db"));
    db.prepare("DELETE FROM settings WHERE name LIKE 'master.%'").run();
    db.close();
    const keyFile = join(dataDir, "master.key");
    const right = readFileSync(keyFile, "utf8");
    writeFileSync(keyFile, randomBytes(32).toString("base64") + "\n", { mode: 0o600 });
    expect(await refused(["--data-dir", dataDir])).toMatch(/master key does not open this data directory/);
    writeFileSync(keyFile, right, { mode: 0o600 });
    const back = await started(["--data-dir", dataDir]);
    await client(back.url, creds).send(new ListSecretsCommand({}));
  });
});

describe("one server per data directory", () => {
  it("refuses a second server while admin commands keep working, and a killed server's lock does not linger", async () => {
    const dataDir = tempDir();
    const first = await started(["--data-dir", dataDir]);
    const creds = printedCredentials(first.output());
    expect(await refused(["--data-dir", dataDir])).toMatch(/Another Coffer server is running on the data directory/);
    // The first server is unharmed.
    await client(first.url, creds).send(new ListSecretsCommand({}));
    // Admin commands on the live data directory still work.
    const { stdout } = await coffer(["account", "create", "111111111111", "--data-dir", dataDir]);
    expect(stdout).toContain("[account-111111111111]");

    first.child.kill("SIGKILL");
    await first.exited;
    const next = await started(["--data-dir", dataDir]);
    await client(next.url, creds).send(new ListSecretsCommand({}));
  });
});

/** Runs `coffer server` under a shell prelude (umask, ulimit), exec'd so the pid is the server's. */
function spawnUnder(prelude: string, args: string[], env: Record<string, string> = {}): Promise<Spawned> {
  const quoted = [process.execPath, bin, "server", "--port", "0", ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
  const child = spawn("sh", ["-c", `${prelude}; exec ${quoted}`], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return new Promise<Spawned>((resolve, reject) => {
    const check = () => {
      const m = /Coffer listening on (\S+)/.exec(out);
      if (m) resolve({ child, url: m[1], output: () => out, exited });
    };
    child.stdout.on("data", check);
    void exited.then((code) => reject(new Error(`server exited with ${code}:\n${out}`)));
  }).then((s) => {
    track(s);
    return s;
  });
}

const mode = (file: string) => (statSync(file).mode & 0o777).toString(8).padStart(4, "0");

describe("private files whatever the umask", () => {
  it("creates the directory 0700 and every data file 0600 under umask 000", async () => {
    const dataDir = join(tempDir(), "data");
    const s = await spawnUnder("umask 000", ["--data-dir", dataDir, "--tls", "auto"]);
    for (const f of ["coffer.db-wal", "coffer.db-shm"]) expect(existsSync(join(dataDir, f)), f).toBe(true);
    expect(mode(dataDir)).toBe("0700");
    for (const f of readdirSync(dataDir)) expect(`${f} ${mode(join(dataDir, f))}`).toBe(`${f} 0600`);
    for (const f of ["coffer.db", "coffer.db-wal", "coffer.db-shm", "master.key", "admin-credentials", "tls-key.pem", "tls-cert.pem"]) {
      expect(readdirSync(dataDir)).toContain(f);
    }
    await stopped(s);

    const salted = join(tempDir(), "data");
    const p = await spawnUnder("umask 000", ["--data-dir", salted], { COFFER_MASTER_PASSPHRASE: "correct horse battery staple" });
    expect(mode(salted)).toBe("0700");
    for (const f of readdirSync(salted)) expect(`${f} ${mode(join(salted, f))}`).toBe(`${f} 0600`);
    expect(readdirSync(salted)).toContain("master.salt");
    await stopped(p);
  });
});

describe("start-up warnings and process limits", () => {
  it("warns when it serves plain HTTP on a non-loopback address, not on loopback or with TLS", async () => {
    const plain = await started(["--data-dir", tempDir(), "--host", "0.0.0.0"]);
    const warning = /"level":40[^\n]*without TLS/;
    expect(plain.output()).toMatch(warning);
    const loopback = await started(["--data-dir", tempDir()]);
    expect(loopback.output()).not.toMatch(warning);
    const tls = await started(["--data-dir", tempDir(), "--host", "0.0.0.0", "--tls", "auto"]);
    expect(tls.output()).not.toMatch(warning);
  });

  it("runs with core dumps disabled (soft and hard limit 0)", async () => {
    // Started with core dumps allowed, as a shell with `ulimit -c unlimited` would.
    const s = await spawnUnder("ulimit -S -c unlimited 2>/dev/null || true", ["--data-dir", tempDir()]);
    const limits = readFileSync(`/proc/${s.child.pid}/limits`, "utf8");
    expect(limits).toMatch(/^Max core file size\s+0\s+0\s/m);
  });
});

describe("a failed first start", () => {
  it("does not lock the administrator out: starting again works with the saved credentials", async () => {
    const dataDir = tempDir();
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    try {
      const port = String((busy.address() as AddressInfo).port);
      const out = await refused(["--data-dir", dataDir, "--port", port]);
      expect(out).toMatch(/EADDRINUSE/);
      expect(out).toContain(join(dataDir, "admin-credentials"));
    } finally {
      busy.close();
    }
    const s = await started(["--data-dir", dataDir]);
    const text = readFileSync(join(dataDir, "admin-credentials"), "utf8");
    const creds = {
      accessKeyId: /aws_access_key_id = (\S+)/.exec(text)![1],
      secretAccessKey: /aws_secret_access_key = (\S+)/.exec(text)![1],
    };
    await client(s.url, creds).send(new ListSecretsCommand({}));
  });
});
