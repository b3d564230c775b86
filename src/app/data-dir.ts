import { createHmac, timingSafeEqual } from "node:crypto";
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, fchmodSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import { loadMasterKey, type MasterKey, type MasterKeySource } from "../crypto/master-key.ts";
import { tryExclusiveLock } from "../storage/sqlite/sqlite-files.ts";
import type { SettingStore } from "../storage/store.ts";

/**
 * The data directory's safety at start: one server at a time, private files,
 * and a master key proven to be the one the data was sealed under before
 * anything is served or sealed.
 */

/** Proof, kept in the database, of which master key the data is sealed under (not the key, nor anything that yields it). */
export const KEY_CHECK_SETTING = "master.keyCheck";
const KEY_CHECK_LABEL = "coffer master key check v1";

interface KeyCheck {
  id: string;
  mac: string;
}

export function keyCheck(key: MasterKey): KeyCheck {
  return { id: key.id, mac: createHmac("sha256", key.key).update(KEY_CHECK_LABEL).digest("hex") };
}

function sameKey(a: KeyCheck, b: KeyCheck): boolean {
  return a.id === b.id && a.mac.length === b.mac.length && timingSafeEqual(Buffer.from(a.mac), Buffer.from(b.mac));
}

/**
 * Loads the master key and proves it opens this data: against the stored key
 * check, or (a data directory from before the check) against the key ids its
 * sealed rows name; then stores the check if it was missing. Over existing
 * data a missing key file or salt is an error, never a new key.
 */
export async function openMasterKey(
  source: MasterKeySource,
  store: SettingStore,
  sealedKeyIds: () => Promise<string[]>,
): Promise<MasterKey> {
  const text = await store.getSetting(KEY_CHECK_SETTING);
  const stored = text ? (JSON.parse(text) as KeyCheck) : undefined;
  const inUse = stored ? [] : await sealedKeyIds();
  const masterKey = await loadMasterKey(source, { create: !stored && inUse.length === 0 });
  const mine = keyCheck(masterKey);
  const expected = stored ? [stored.id] : inUse;
  if (stored ? !sameKey(stored, mine) : inUse.length > 0 && !inUse.includes(mine.id)) {
    throw new Error(
      `The master key does not open this data directory: its data is sealed under master key ${expected.join(", ")}, ` +
        `the key given is ${mine.id}. Check the key file (--master-key-file), COFFER_MASTER_KEY, COFFER_MASTER_PASSPHRASE or COFFER_MASTER_KEY_COMMAND (after "coffer master-key rotate", the old key no longer opens it).`,
    );
  }
  if (!stored) {
    // Nodes starting together on an empty shared database: the first check written wins, the others must match it.
    const first = await store.transaction(async (tx) => {
      const now = await tx.getSetting(KEY_CHECK_SETTING);
      if (now) return JSON.parse(now) as KeyCheck;
      await tx.putSetting(KEY_CHECK_SETTING, JSON.stringify(mine));
      return mine;
    });
    if (!sameKey(first, mine)) {
      throw new Error(
        `The master key does not open this database: another node sealed it under master key ${first.id} a moment ago, ` +
          `the key given is ${mine.id}. Every node needs the same master key (docs/deploy.md).`,
      );
    }
  }
  return masterKey;
}

/** Whether a server holds the data directory's lock; if none does, the caller holds it until it calls release. */
export function tryServerLock(dir: string): { release(): void } | undefined {
  return tryExclusiveLock(join(dir, "server.lock"));
}

/** Creates the data directory 0700; returns a warning if an existing one is open to others. */
export function prepareDataDir(dir: string): string | undefined {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const mode = statSync(dir).mode & 0o777;
  if ((mode & 0o077) === 0) return undefined;
  return `The data directory ${dir} is accessible by group or others (mode ${mode.toString(8).padStart(4, "0")}); make it private: chmod 700 ${dir}`;
}

/**
 * The server's lock on its data directory. Admin commands that open the
 * database directly do not take it, so they keep working beside a server.
 */
export function acquireServerLock(dir: string): { release(): void } {
  const file = join(dir, "server.lock");
  const lock = tryExclusiveLock(file);
  if (!lock) {
    throw new Error(
      `Another Coffer server is running on the data directory ${dir} (it holds ${file}); stop it first, or give this one its own --data-dir.`,
    );
  }
  return lock;
}

export function adminCredentialsFile(dir: string): string {
  return join(dir, "admin-credentials");
}

/** Writes the administrator's credentials file (0600, whatever the umask) in one atomic step. */
export function writeAdminCredentials(dir: string, key: { accessKeyId: string; secretAccessKey: string }): string {
  return writePrivateFile(adminCredentialsFile(dir), `[default]\naws_access_key_id = ${key.accessKeyId}\naws_secret_access_key = ${key.secretAccessKey}\n`);
}

/** The administrator's key from the credentials file, if the data directory has one (for the CLI on this machine). */
export function readAdminCredentials(dir: string): { accessKeyId: string; secretAccessKey: string } | undefined {
  const file = adminCredentialsFile(dir);
  if (!existsSync(file)) return undefined;
  const text = readFileSync(file, "utf8");
  const accessKeyId = /^aws_access_key_id\s*=\s*(\S+)/m.exec(text)?.[1];
  const secretAccessKey = /^aws_secret_access_key\s*=\s*(\S+)/m.exec(text)?.[1];
  return accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined;
}

/** Where the server of a data directory listens (written at each start), so the CLI on the same machine finds it. */
export interface ServerInfo {
  url: string;
  region: string;
  /** With --tls auto: the self-signed certificate clients must trust. */
  caCertificate?: string;
}

export function serverInfoFile(dir: string): string {
  return join(dir, "server.json");
}

export function writeServerInfo(dir: string, info: ServerInfo): void {
  writePrivateFile(serverInfoFile(dir), JSON.stringify(info) + "\n");
}

export function readServerInfo(dir: string): ServerInfo | undefined {
  const file = serverInfoFile(dir);
  if (!existsSync(file)) return undefined;
  try {
    const info = JSON.parse(readFileSync(file, "utf8")) as Partial<ServerInfo>;
    if (typeof info.url === "string" && typeof info.region === "string") {
      return { url: info.url, region: info.region, ...(typeof info.caCertificate === "string" ? { caCertificate: info.caCertificate } : {}) };
    }
  } catch {
    // A torn or foreign file says nothing about the server.
  }
  return undefined;
}

/** Writes a file 0600 (whatever the umask) in one atomic step. */
function writePrivateFile(file: string, text: string): string {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    fchmodSync(fd, 0o600);
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, file);
  return file;
}

/** Whether clients can only reach `host` from this machine. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost" || h === "::1") return true;
  const v4 = h.startsWith("::ffff:") ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith("127.");
}

/**
 * Whether the master key in memory still opens this data (readiness): the
 * stored key check must name it. Another process may have rotated the master
 * key (the data's check then names the new key) or the check may be gone.
 */
export async function masterKeyStillOpens(store: Pick<SettingStore, "getSetting">, masterKey: MasterKey): Promise<boolean> {
  const text = await store.getSetting(KEY_CHECK_SETTING);
  return text !== undefined && sameKey(JSON.parse(text) as KeyCheck, keyCheck(masterKey));
}
