import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, linkSync, openSync, unlinkSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import Database from "better-sqlite3";
import { UPSERT_SETTING } from "./sqlite-audit-sql.mjs";

/** How long the backup waits for the server's write lock to pass (it never takes one itself). */
const BUSY_TIMEOUT_MS = 5000;

/**
 * A consistent copy of a live embedded database: `VACUUM INTO` reads the
 * whole database in one read transaction (a snapshot: in WAL mode writers go
 * on meanwhile and the copy holds none of their later commits), and writes a
 * compacted file without free pages. The copy is written to a private
 * (0600) temp file beside `out`, synced, then linked into place, so `out`
 * never holds half a backup and an existing file is never overwritten.
 * `extra` settings are written into the copy (not the source): what the
 * restore needs that lives outside the database.
 */
export function backupSqlite(source: string, out: string, extra: Record<string, string> = {}): void {
  const tmp = join(dirname(out), `.${basename(out)}.${randomBytes(6).toString("hex")}.tmp`);
  // VACUUM INTO accepts an empty existing file: created here, so its mode is ours (0600) and not the umask's.
  closeSync(openSync(tmp, "wx", 0o600));
  try {
    const db = new Database(source, { readonly: true, fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
    try {
      db.prepare("VACUUM INTO ?").run(tmp);
    } finally {
      db.close();
    }
    const copy = new Database(tmp);
    try {
      copy.pragma("journal_mode = DELETE");
      const put = copy.prepare(UPSERT_SETTING);
      copy.transaction(() => {
        for (const [name, value] of Object.entries(extra)) put.run(name, value);
      })();
    } finally {
      copy.close();
    }
    syncFile(tmp);
    linkSync(tmp, out);
    syncFile(dirname(out));
  } finally {
    unlinkSync(tmp);
  }
}

/**
 * Checks that `file` is an intact Coffer database (SQLite's integrity check,
 * and the tables Coffer keeps) and returns its settings named in `names`.
 */
export function inspectSqliteBackup(file: string, names: string[]): Record<string, string | undefined> {
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new Error(`${file} cannot be opened as a Coffer backup (${(err as Error).message}).`);
  }
  try {
    let check: string;
    try {
      check = String(db.pragma("integrity_check", { simple: true }));
    } catch (err) {
      throw new Error(`${file} is not a Coffer backup: ${(err as Error).message}.`);
    }
    if (check !== "ok") throw new Error(`The backup ${file} is damaged (SQLite integrity check: ${check}).`);
    const tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name));
    for (const t of ["settings", "secrets", "keys", "access_keys"]) {
      if (!tables.has(t)) throw new Error(`${file} is not a Coffer backup: it has no ${t} table.`);
    }
    const get = db.prepare("SELECT value FROM settings WHERE name = ?");
    return Object.fromEntries(names.map((n) => [n, (get.get(n) as { value: string } | undefined)?.value]));
  } finally {
    db.close();
  }
}

/** Removes settings from a restored database that only the backup file needed. */
export function deleteSqliteSettings(file: string, names: string[]): void {
  const db = new Database(file, { fileMustExist: true });
  try {
    const del = db.prepare("DELETE FROM settings WHERE name = ?");
    db.transaction(() => {
      for (const n of names) del.run(n);
    })();
  } finally {
    db.close();
  }
}

export function syncFile(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
