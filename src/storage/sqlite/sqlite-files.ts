import { chmodSync, closeSync, constants, fchmodSync, openSync } from "node:fs";
import Database from "better-sqlite3";

/**
 * The files of an embedded database are private to the server's user whatever
 * the umask: the database file is made 0600 before SQLite opens it, and SQLite
 * gives its -wal, -shm and -journal files the database file's own mode.
 */
export function makePrivate(path: string): void {
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600);
  try {
    fchmodSync(fd, 0o600);
  } catch (err) {
    // Someone else's file (shared through group permissions): theirs to set.
    if ((err as NodeJS.ErrnoException).code !== "EPERM") throw err;
  } finally {
    closeSync(fd);
  }
  for (const side of ["-wal", "-shm", "-journal"]) {
    try {
      chmodSync(path + side, 0o600);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "EPERM") throw err;
    }
  }
}

/**
 * An exclusive lock held for as long as this process keeps it: SQLite's
 * EXCLUSIVE lock on a file of its own, an fcntl lock the kernel drops when the
 * process dies, so a SIGKILLed holder leaves nothing stale and a reused pid
 * cannot fool it. Returns undefined when another process (or another holder
 * in this one) has it.
 */
export function tryExclusiveLock(path: string): { release(): void } | undefined {
  makePrivate(path);
  const db = new Database(path, { timeout: 0 });
  try {
    db.pragma("locking_mode = EXCLUSIVE");
    db.exec("BEGIN EXCLUSIVE");
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code === "SQLITE_BUSY") return undefined;
    throw err;
  }
  return {
    release() {
      if (db.open) db.close();
    },
  };
}

/** The master key ids that sealed rows of an existing database name (older databases carry no key check). */
export function sealedMasterKeyIds(path: string): string[] {
  const db = new Database(path, { readonly: true, timeout: 5000 });
  try {
    const rows = db
      .prepare("SELECT DISTINCT master_key_id AS id FROM keys UNION SELECT DISTINCT master_key_id AS id FROM access_keys")
      .all() as { id: string }[];
    return rows.map((r) => r.id);
  } finally {
    db.close();
  }
}
