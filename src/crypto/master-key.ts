/**
 * The master key: Coffer's root of trust. Every other key is wrapped (directly
 * or indirectly) by it, and it is never written anywhere except the key file
 * it was loaded from.
 *
 * Sources:
 *  - file:       base64 of 32 random bytes + "\n". Created 0600 (parent dir 0700)
 *                on first use; an existing file that is group/world accessible
 *                is refused, like ssh refuses private keys.
 *  - env:        base64 of exactly 32 bytes (e.g. `openssl rand -base64 32`).
 *  - passphrase: scrypt(N=2^15, r=8, p=1) -> 32 bytes, with a 16-byte random
 *                salt kept (base64 + "\n", 0600) at saltPath, created on first use.
 *  - command:    a program (argv, run without a shell) that prints the key as
 *                the key file holds it (base64 of 32 bytes) on standard output:
 *                a script asking a cloud KMS, an HSM or a password manager.
 *
 * A key file or salt is created only when the caller says the data is new
 * (`create`): over existing data a missing one is an error, never a fresh key.
 *
 * Error messages name paths and rules, never key material or passphrases.
 */
import { createHmac, randomBytes, scrypt as scryptCb, type ScryptOptions } from "node:crypto";
import { spawn } from "node:child_process";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { CofferError } from "../shared/errors.ts";

export type MasterKeySource =
  | { kind: "file"; path: string }
  | { kind: "env"; base64: string }
  | { kind: "passphrase"; passphrase: string; saltPath: string }
  | { kind: "command"; argv: string[]; timeoutMs?: number };

export interface MasterKey {
  /** Stable, non-secret fingerprint: first 16 hex chars of HMAC-SHA256(key, "coffer-master-key-id"). */
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

export const MASTER_KEY_LENGTH = 32;
export const SALT_LENGTH = 16;
export const MIN_PASSPHRASE_LENGTH = 12;
export const SCRYPT_PARAMS = {
  N: 2 ** 15,
  r: 8,
  p: 1,
  // scrypt needs ~128 * N * r bytes (32 MiB here); Node's default limit is exactly
  // 32 MiB, which OpenSSL's own overhead accounting exceeds, so allow twice that.
  maxmem: 2 * 128 * 2 ** 15 * 8,
} as const;

const ID_LABEL = "coffer-master-key-id";

export async function loadMasterKey(source: MasterKeySource, { create = true }: { create?: boolean } = {}): Promise<MasterKey> {
  let key: Buffer;
  switch (source.kind) {
    case "file":
      key = await loadFromFile(source.path, create);
      break;
    case "env":
      key = decodeKey(source.base64, "The master key from the environment");
      break;
    case "passphrase":
      key = await deriveFromPassphrase(source.passphrase, source.saltPath, create);
      break;
    case "command":
      key = await loadFromCommand(source.argv, source.timeoutMs ?? COMMAND_TIMEOUT_MS);
      break;
    default:
      throw new CofferError("InvalidParameter", "Unknown master key source.");
  }
  return { id: masterKeyId(key), key };
}

/** The non-secret fingerprint of a master key. */
export function masterKeyId(key: Buffer): string {
  return createHmac("sha256", key).update(ID_LABEL).digest("hex").slice(0, 16);
}

// ---------------------------------------------------------------------------

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Strictly decode base64 (surrounding whitespace allowed) to exactly `length`
 * bytes, into a fresh, non-pooled buffer. Returns undefined if it doesn't.
 */
function strictBase64(text: string, length: number): Buffer | undefined {
  const s = text.trim();
  if (!BASE64.test(s)) return undefined;
  const decoded = Buffer.from(s, "base64");
  if (decoded.length !== length) {
    decoded.fill(0);
    return undefined;
  }
  const out = Buffer.alloc(length);
  decoded.copy(out);
  decoded.fill(0);
  return out;
}

function decodeKey(base64: string, what: string): Buffer {
  const key = typeof base64 === "string" ? strictBase64(base64, MASTER_KEY_LENGTH) : undefined;
  if (!key) {
    throw new CofferError(
      "InvalidParameter",
      `${what} must be the base64 encoding of exactly ${MASTER_KEY_LENGTH} bytes (generate one with: openssl rand -base64 ${MASTER_KEY_LENGTH}).`,
    );
  }
  return key;
}

function errCode(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err ? String((err as { code: unknown }).code) : undefined;
}

/**
 * Create `file` holding `contents` with mode 0600, atomically: the bytes are
 * written to a private temp file (opened "wx", 0600) and then hard-linked into
 * place, so a concurrent reader never sees a partially written file and a
 * concurrent creator can't be overwritten. Returns false if `file` already exists.
 */
async function createExclusive(file: string, contents: string): Promise<boolean> {
  const dir = path.dirname(file);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  const handle = await fs.open(tmp, "wx", 0o600);
  try {
    await handle.chmod(0o600); // the umask may have narrowed it further
    await handle.writeFile(contents, "utf8");
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => {});
    await fs.unlink(tmp).catch(() => {});
    throw err;
  }
  await handle.close();
  try {
    await fs.link(tmp, file);
    return true;
  } catch (err) {
    const code = errCode(err);
    if (code === "EEXIST") return false;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "ENOSYS" && code !== "EOPNOTSUPP") throw err;
    // No hard links on this filesystem: fall back to exclusive create in place.
    return await createInPlace(file, contents);
  } finally {
    await fs.unlink(tmp).catch(() => {});
  }
}

async function createInPlace(file: string, contents: string): Promise<boolean> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, "wx", 0o600);
  } catch (err) {
    if (errCode(err) === "EEXIST") return false;
    throw err;
  }
  try {
    await handle.chmod(0o600);
    await handle.writeFile(contents, "utf8");
    await handle.sync();
  } finally {
    await handle.close();
  }
  return true;
}

const NOT_CREATED =
  "but the data directory holds data sealed under a master key: restore it (or name the right one); Coffer never makes a new key over existing data.";

/** Read a file through one descriptor so the checked mode belongs to the bytes read. */
async function readChecked(file: string, what: string, refuseLoosePermissions: boolean): Promise<string> {
  // Symlinks are followed (e.g. Kubernetes secret volumes); fstat checks the target.
  const handle = await fs.open(file, "r").catch((err: unknown) => {
    if (errCode(err) === "ENOENT") throw new CofferError("InvalidParameter", `${what} ${file} does not exist, ${NOT_CREATED}`);
    throw new CofferError("InvalidParameter", `${what} ${file} cannot be opened (${errCode(err) ?? "error"}).`);
  });
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new CofferError("InvalidParameter", `${what} ${file} is not a regular file.`);
    if (refuseLoosePermissions && (st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, "0");
      throw new CofferError(
        "InvalidParameter",
        `${what} ${file} is accessible by group or others (mode ${mode}); it must be private to its owner: chmod 600 ${file}`,
      );
    }
    return await handle.readFile("utf8");
  } finally {
    await handle.close();
  }
}

async function loadFromFile(file: string, create: boolean): Promise<Buffer> {
  if (typeof file !== "string" || file === "") {
    throw new CofferError("InvalidParameter", "The master key file path is empty.");
  }
  if (create) {
    const fresh = randomBytes(MASTER_KEY_LENGTH);
    try {
      if (await createExclusive(file, fresh.toString("base64") + "\n")) return fresh;
    } catch (err) {
      if (err instanceof CofferError) throw err;
      throw new CofferError("InvalidParameter", `The master key file ${file} cannot be created (${errCode(err) ?? "error"}).`);
    }
    fresh.fill(0);
  }
  const text = await readChecked(file, "The master key file", true);
  const key = strictBase64(text, MASTER_KEY_LENGTH);
  if (!key) {
    throw new CofferError(
      "InvalidParameter",
      `The master key file ${file} must contain the base64 encoding of exactly ${MASTER_KEY_LENGTH} bytes.`,
    );
  }
  return key;
}

async function loadOrCreateSalt(saltPath: string, create: boolean): Promise<Buffer> {
  if (typeof saltPath !== "string" || saltPath === "") {
    throw new CofferError("InvalidParameter", "The passphrase salt file path is empty.");
  }
  if (create) {
    const fresh = randomBytes(SALT_LENGTH);
    try {
      if (await createExclusive(saltPath, fresh.toString("base64") + "\n")) return fresh;
    } catch (err) {
      if (err instanceof CofferError) throw err;
      throw new CofferError("InvalidParameter", `The passphrase salt file ${saltPath} cannot be created (${errCode(err) ?? "error"}).`);
    }
  }
  // The salt is not secret, so its permissions are not enforced.
  const text = await readChecked(saltPath, "The passphrase salt file", false);
  const salt = strictBase64(text, SALT_LENGTH);
  if (!salt) {
    throw new CofferError(
      "InvalidParameter",
      `The passphrase salt file ${saltPath} must contain the base64 encoding of exactly ${SALT_LENGTH} bytes.`,
    );
  }
  return salt;
}

function scryptAsync(password: Buffer, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCb(password, salt, keylen, options, (err, derived) => (err ? reject(err) : resolve(derived)));
  });
}

async function deriveFromPassphrase(passphrase: string, saltPath: string, create: boolean): Promise<Buffer> {
  if (typeof passphrase !== "string") {
    throw new CofferError("InvalidParameter", "The master key passphrase must be a string.");
  }
  // NFC so the same passphrase typed with composed or decomposed characters derives the same key.
  const normalized = passphrase.normalize("NFC");
  if ([...normalized].length < MIN_PASSPHRASE_LENGTH) {
    throw new CofferError("InvalidParameter", `The master key passphrase must be at least ${MIN_PASSPHRASE_LENGTH} characters long.`);
  }
  const salt = await loadOrCreateSalt(saltPath, create);
  const secret = Buffer.from(normalized, "utf8");
  try {
    const derived = await scryptAsync(secret, salt, MASTER_KEY_LENGTH, SCRYPT_PARAMS);
    const key = Buffer.alloc(MASTER_KEY_LENGTH);
    derived.copy(key);
    derived.fill(0);
    return key;
  } catch {
    throw new CofferError("Internal", "Deriving the master key from the passphrase failed.");
  } finally {
    secret.fill(0);
  }
}

/** How long a master key command may take before start-up fails. */
export const COMMAND_TIMEOUT_MS = 30_000;
/** More output than any key needs: the command is stopped there. */
const COMMAND_OUTPUT_LIMIT = 4096;

/**
 * Runs the key command without a shell: standard input closed, its standard
 * error passed through to Coffer's (so its own messages reach the operator),
 * its standard output read as the key. Errors name the program (argv[0], not
 * its arguments, which may hold a token) and what went wrong, never the output.
 */
function loadFromCommand(argv: string[], timeoutMs: number): Promise<Buffer> {
  if (!Array.isArray(argv) || argv.length === 0 || argv.some((a) => typeof a !== "string") || argv[0] === "") {
    return Promise.reject(new CofferError("InvalidParameter", "The master key command must be a non-empty list of strings (program, then arguments)."));
  }
  const what = `The master key command (${argv[0]})`;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failure: string | undefined;
    const wipe = () => {
      for (const c of chunks) c.fill(0);
    };
    const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "inherit"], shell: false, timeout: timeoutMs, killSignal: "SIGKILL" });
    child.stdout.on("data", (d: Buffer) => {
      size += d.length;
      if (size > COMMAND_OUTPUT_LIMIT) {
        failure ??= `printed more than ${COMMAND_OUTPUT_LIMIT} bytes`;
        child.kill("SIGKILL");
        d.fill(0);
        return;
      }
      chunks.push(d);
    });
    child.on("error", (err: NodeJS.ErrnoException) => {
      failure ??= err.code === "ENOENT" ? "was not found (give its path, or put it on the PATH)" : `could not be run (${err.code ?? "error"})`;
    });
    child.on("close", (code, signal) => {
      const all = Buffer.concat(chunks);
      wipe();
      try {
        if (!failure && signal) failure = signal === "SIGKILL" && timeoutMs ? `did not finish within ${Math.round(timeoutMs / 1000)} s (or was killed)` : `was killed by ${signal}`;
        if (!failure && code !== 0) failure = `failed with exit code ${code} (its own messages, if any, are on standard error)`;
        if (failure) throw new CofferError("InvalidParameter", `${what} ${failure}.`);
        const key = strictBase64(all.toString("utf8"), MASTER_KEY_LENGTH);
        if (!key) {
          throw new CofferError(
            "InvalidParameter",
            `${what} must print the base64 encoding of exactly ${MASTER_KEY_LENGTH} bytes on standard output, as a key file holds it (it printed something else, not shown).`,
          );
        }
        resolve(key);
      } catch (err) {
        reject(err);
      } finally {
        all.fill(0);
      }
    });
  });
}

/**
 * A command line as configuration gives it: a JSON array of strings (any
 * argument may hold spaces), or a string of words separated by white space.
 * Quotes and backslashes in the string form are refused rather than guessed
 * at, since no shell reads it: use the JSON array.
 */
export function parseCommandLine(value: unknown, what: string): string[] {
  if (Array.isArray(value)) {
    if (value.length === 0 || value.some((a) => typeof a !== "string") || value[0] === "") {
      throw new CofferError("InvalidParameter", `${what} must be a non-empty list of strings: the program, then its arguments.`);
    }
    return value as string[];
  }
  if (typeof value !== "string") throw new CofferError("InvalidParameter", `${what} must be a JSON array of strings or a string.`);
  const text = value.trim();
  if (text.startsWith("[")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new CofferError("InvalidParameter", `${what} starts with "[" but is not a JSON array of strings.`);
    }
    return parseCommandLine(parsed, what);
  }
  if (/["'\\]/.test(text)) {
    throw new CofferError(
      "InvalidParameter",
      `${what} holds quotes or backslashes; it runs without a shell, so give it as a JSON array instead, e.g. ["/usr/local/bin/get-key", "--name", "my key"].`,
    );
  }
  const argv = text.split(/\s+/).filter((a) => a !== "");
  if (argv.length === 0) throw new CofferError("InvalidParameter", `${what} is empty.`);
  return argv;
}
