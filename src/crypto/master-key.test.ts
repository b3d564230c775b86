import { createHmac, randomBytes, scryptSync } from "node:crypto";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CofferError } from "../shared/errors.ts";
import { loadMasterKey, masterKeyId, parseCommandLine, type MasterKeySource } from "./master-key.ts";

let dir: string;

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "coffer-mk-"));
});

afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function expectInvalid(source: MasterKeySource, mustNotContain: string[] = []): Promise<CofferError> {
  try {
    await loadMasterKey(source);
  } catch (err) {
    expect(err).toBeInstanceOf(CofferError);
    const e = err as CofferError;
    expect(e.code).toBe("InvalidParameter");
    for (const s of mustNotContain) expect(e.message).not.toContain(s);
    return e;
  }
  throw new Error("expected InvalidParameter");
}

const modeOf = async (p: string): Promise<number> => (await fs.stat(p)).mode & 0o777;

describe("master key id", () => {
  it("is the first 16 hex of HMAC-SHA256(key, 'coffer-master-key-id')", async () => {
    const key = Buffer.alloc(32, 0x42);
    const expected = createHmac("sha256", key).update("coffer-master-key-id").digest("hex").slice(0, 16);
    expect(masterKeyId(key)).toBe(expected);
    const mk = await loadMasterKey({ kind: "env", base64: key.toString("base64") });
    expect(mk.id).toBe(expected);
    expect(mk.id).toMatch(/^[0-9a-f]{16}$/);
    expect(mk.key).toEqual(key);
  });
});

describe("file source", () => {
  it("creates a 0600 file with base64 of 32 random bytes and a newline, in a new 0700 parent dir", async () => {
    const file = path.join(dir, "nested", "deeper", "master.key");
    const mk = await loadMasterKey({ kind: "file", path: file });
    expect(mk.key.length).toBe(32);
    expect(mk.id).toMatch(/^[0-9a-f]{16}$/);
    expect(mk.id).toBe(masterKeyId(mk.key));
    const text = await fs.readFile(file, "utf8");
    expect(text).toBe(mk.key.toString("base64") + "\n");
    expect(await modeOf(file)).toBe(0o600);
    expect(await modeOf(path.dirname(file))).toBe(0o700);
    expect(await modeOf(path.join(dir, "nested"))).toBe(0o700);
    // no temp files left behind
    expect(await fs.readdir(path.dirname(file))).toEqual(["master.key"]);
  });

  it("creates the file 0600 even under a restrictive umask", async () => {
    const old = process.umask(0o277);
    try {
      const file = path.join(dir, "master.key");
      await loadMasterKey({ kind: "file", path: file });
      expect(await modeOf(file)).toBe(0o600);
    } finally {
      process.umask(old);
    }
  });

  it("reuses an existing file: same key and id", async () => {
    const file = path.join(dir, "master.key");
    const a = await loadMasterKey({ kind: "file", path: file });
    const b = await loadMasterKey({ kind: "file", path: file });
    expect(b.key).toEqual(a.key);
    expect(b.id).toBe(a.id);
  });

  it("different files give different keys", async () => {
    const a = await loadMasterKey({ kind: "file", path: path.join(dir, "a.key") });
    const b = await loadMasterKey({ kind: "file", path: path.join(dir, "b.key") });
    expect(a.key.equals(b.key)).toBe(false);
    expect(a.id).not.toBe(b.id);
  });

  it("concurrent first loads agree on one key", async () => {
    const file = path.join(dir, "race", "master.key");
    const results = await Promise.all(Array.from({ length: 16 }, () => loadMasterKey({ kind: "file", path: file })));
    for (const r of results) expect(r.key).toEqual(results[0].key);
    expect(await fs.readFile(file, "utf8")).toBe(results[0].key.toString("base64") + "\n");
    expect(await fs.readdir(path.dirname(file))).toEqual(["master.key"]);
  });

  it("accepts an operator-provided key file (e.g. openssl rand -base64 32 > file)", async () => {
    const file = path.join(dir, "provided.key");
    const key = randomBytes(32);
    await fs.writeFile(file, key.toString("base64") + "\n", { mode: 0o600 });
    await fs.chmod(file, 0o400);
    const mk = await loadMasterKey({ kind: "file", path: file });
    expect(mk.key).toEqual(key);
  });

  it("refuses a file readable by group or others, naming the path but not the key", async () => {
    const file = path.join(dir, "master.key");
    const { key } = await loadMasterKey({ kind: "file", path: file });
    const secrets = [key.toString("base64"), key.toString("base64").slice(0, 12), key.toString("hex").slice(0, 12)];
    for (const mode of [0o644, 0o640, 0o604, 0o660, 0o601, 0o610, 0o700 | 0o004]) {
      await fs.chmod(file, mode);
      const err = await expectInvalid({ kind: "file", path: file }, secrets);
      expect(err.message).toContain(file);
      expect(err.message).toMatch(/group or others/);
    }
    await fs.chmod(file, 0o600);
    expect((await loadMasterKey({ kind: "file", path: file })).key).toEqual(key);
  });

  it("refuses contents that are not base64 of exactly 32 bytes, without echoing them", async () => {
    const file = path.join(dir, "bad.key");
    const contents = [
      randomBytes(16).toString("base64"),
      randomBytes(31).toString("base64"),
      randomBytes(33).toString("base64"),
      randomBytes(64).toString("base64"),
      randomBytes(32).toString("hex"),
      "not base64 at all!!",
      randomBytes(32).toString("base64url").replace(/=+$/, "") + "-_",
      "",
    ];
    for (const c of contents) {
      await fs.writeFile(file, c + "\n", { mode: 0o600 });
      const err = await expectInvalid({ kind: "file", path: file }, c ? [c, c.slice(0, 10)] : []);
      expect(err.message).toContain(file);
      expect(err.message).toMatch(/32 bytes/);
    }
  });

  it("refuses a directory", async () => {
    const sub = path.join(dir, "adir");
    await fs.mkdir(sub, { mode: 0o700 });
    const err = await expectInvalid({ kind: "file", path: sub });
    expect(err.message).toContain(sub);
  });
});

describe("env source", () => {
  it("accepts base64 of exactly 32 bytes (surrounding whitespace allowed)", async () => {
    const key = randomBytes(32);
    const mk = await loadMasterKey({ kind: "env", base64: key.toString("base64") });
    expect(mk.key).toEqual(key);
    const again = await loadMasterKey({ kind: "env", base64: ` ${key.toString("base64")}\n` });
    expect(again.id).toBe(mk.id);
  });

  it("refuses other lengths and non-base64 without echoing the value", async () => {
    const values = [
      "",
      randomBytes(16).toString("base64"),
      randomBytes(24).toString("base64"),
      randomBytes(31).toString("base64"),
      randomBytes(33).toString("base64"),
      randomBytes(32).toString("hex"),
      "correct horse battery staple correct horse battery",
      randomBytes(32).toString("base64").slice(0, 43), // missing padding
    ];
    for (const v of values) {
      const err = await expectInvalid({ kind: "env", base64: v }, v ? [v, v.slice(0, 10)] : []);
      expect(err.message).toMatch(/32 bytes/);
    }
  });
});

describe("passphrase source", () => {
  const passphrase = "correct horse battery staple";

  it("derives a stable key with scrypt N=2^15 r=8 p=1 and a 16-byte salt file created 0600", async () => {
    const saltPath = path.join(dir, "state", "master.salt");
    const a = await loadMasterKey({ kind: "passphrase", passphrase, saltPath });
    expect(await modeOf(saltPath)).toBe(0o600);
    const saltText = await fs.readFile(saltPath, "utf8");
    expect(saltText.endsWith("\n")).toBe(true);
    const salt = Buffer.from(saltText.trim(), "base64");
    expect(salt.length).toBe(16);
    // independent derivation with the documented parameters
    const expected = scryptSync(passphrase, salt, 32, { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
    expect(a.key).toEqual(expected);

    const b = await loadMasterKey({ kind: "passphrase", passphrase, saltPath });
    expect(b.key).toEqual(a.key);
    expect(b.id).toBe(a.id);
    expect(await fs.readFile(saltPath, "utf8")).toBe(saltText); // salt reused, not rewritten
  });

  it("differs with a different salt or passphrase", async () => {
    const a = await loadMasterKey({ kind: "passphrase", passphrase, saltPath: path.join(dir, "a.salt") });
    const b = await loadMasterKey({ kind: "passphrase", passphrase, saltPath: path.join(dir, "b.salt") });
    expect(a.key.equals(b.key)).toBe(false);
    expect(a.id).not.toBe(b.id);
    const c = await loadMasterKey({ kind: "passphrase", passphrase: passphrase + "!", saltPath: path.join(dir, "a.salt") });
    expect(c.key.equals(a.key)).toBe(false);
  });

  it("treats composed and decomposed Unicode spellings alike (NFC)", async () => {
    const saltPath = path.join(dir, "u.salt");
    const composed = "pässwörd-long-enough";
    const a = await loadMasterKey({ kind: "passphrase", passphrase: composed, saltPath });
    const b = await loadMasterKey({ kind: "passphrase", passphrase: composed.normalize("NFD"), saltPath });
    expect(b.key).toEqual(a.key);
  });

  it("rejects passphrases shorter than 12 characters without echoing them", async () => {
    const saltPath = path.join(dir, "short.salt");
    for (const p of ["", "short", "elevenchars"]) {
      const err = await expectInvalid({ kind: "passphrase", passphrase: p, saltPath }, p ? [p] : []);
      expect(err.message).toMatch(/at least 12 characters/);
    }
    // no salt file is created for a rejected passphrase
    await expect(fs.stat(saltPath)).rejects.toThrow();
    // exactly 12 is fine
    await loadMasterKey({ kind: "passphrase", passphrase: "twelve-chars", saltPath });
  });

  it("refuses a corrupt salt file", async () => {
    const saltPath = path.join(dir, "bad.salt");
    await fs.writeFile(saltPath, randomBytes(8).toString("base64") + "\n", { mode: 0o600 });
    const err = await expectInvalid({ kind: "passphrase", passphrase, saltPath }, [passphrase]);
    expect(err.message).toContain(saltPath);
    expect(err.message).toMatch(/16 bytes/);
  });
});

describe("over existing data (create: false)", () => {
  it("never creates a key file or a salt, and says which file is missing", async () => {
    const file = path.join(dir, "master.key");
    await expect(loadMasterKey({ kind: "file", path: file }, { create: false })).rejects.toThrow(/master key file .* does not exist/);
    await expect(fs.stat(file)).rejects.toThrow(/ENOENT/);
    const saltPath = path.join(dir, "master.salt");
    await expect(
      loadMasterKey({ kind: "passphrase", passphrase: "correct horse battery", saltPath }, { create: false }),
    ).rejects.toThrow(/salt file .* does not exist/);
    await expect(fs.stat(saltPath)).rejects.toThrow(/ENOENT/);
    // An existing one loads as usual.
    const made = await loadMasterKey({ kind: "file", path: file });
    expect((await loadMasterKey({ kind: "file", path: file }, { create: false })).id).toBe(made.id);
  });
});

describe("master key from a command", () => {
  it("reads the key a program prints, with no shell in between", async () => {
    const key = randomBytes(32);
    const file = path.join(dir, "k");
    await fs.writeFile(file, key.toString("base64") + "\n");
    const loaded = await loadMasterKey({ kind: "command", argv: ["cat", file] });
    expect(loaded.key.equals(key)).toBe(true);
    // "$(...)" would run under a shell; here it is a file name that does not exist.
    const err = await expectInvalid({ kind: "command", argv: ["cat", "$(id)"] });
    expect(err.message).toContain("failed with exit code 1");
  });

  it("fails clearly without showing the output: bad output, a timeout, a missing program", async () => {
    const leak = randomBytes(16).toString("hex");
    const bad = await expectInvalid({ kind: "command", argv: ["echo", leak] }, [leak]);
    expect(bad.message).toContain("(echo) must print the base64 encoding of exactly 32 bytes");
    const slow = await expectInvalid({ kind: "command", argv: ["sleep", "5"], timeoutMs: 100 });
    expect(slow.message).toContain("did not finish");
    const missing = await expectInvalid({ kind: "command", argv: [path.join(dir, "none")] });
    expect(missing.message).toContain("was not found");
  });

  it("parses a command line as a JSON array or plain words, and refuses quoting it cannot honour", () => {
    expect(parseCommandLine('["/bin/get key", "--name", "a b"]', "x")).toEqual(["/bin/get key", "--name", "a b"]);
    expect(parseCommandLine(["a", "b"], "x")).toEqual(["a", "b"]);
    expect(parseCommandLine("  get-key  --vault ops ", "x")).toEqual(["get-key", "--vault", "ops"]);
    expect(() => parseCommandLine('get-key "a b"', "x")).toThrow(/JSON array/);
    expect(() => parseCommandLine("[1]", "x")).toThrow(/list of strings/);
    expect(() => parseCommandLine("[oops", "x")).toThrow(/not a JSON array/);
    expect(() => parseCommandLine("   ", "x")).toThrow(/empty/);
  });
});
