import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { backupSqlite, deleteSqliteSettings, inspectSqliteBackup, syncFile } from "../storage/sqlite/sqlite-backup.ts";
import { makePrivate } from "../storage/sqlite/sqlite-files.ts";
import type { Config } from "./config.ts";
import { KEY_CHECK_SETTING } from "./data-dir.ts";

/**
 * Backup and restore of the embedded store (docs/backup.md). A backup is the
 * database as it stood at one instant, still sealed: secret values, key
 * material and access-key secrets stay encrypted under the master key, which
 * is not in it. It carries the passphrase salt (not secret) when the data
 * directory has one, since the key cannot be derived again without it.
 */

/** The passphrase salt file's contents, carried inside the backup. */
const SALT_SETTING = "backup.passphraseSalt";
const SALT_FILE = "master.salt";
const DB_FILE = "coffer.db";

export interface BackupInfo {
  file: string;
  /** The id of the master key the backup's data is sealed under (not the key). */
  masterKeyId?: string;
}

export function backupDataDir(config: Pick<Config, "dataDir">, out: string): BackupInfo {
  const db = join(config.dataDir, DB_FILE);
  if (!existsSync(db)) throw new Error(`There is no Coffer data directory at ${config.dataDir}: nothing to back up (on PostgreSQL, use pg_dump: docs/backup.md).`);
  const file = resolve(out);
  if (existsSync(file)) throw new Error(`${file} exists already; a backup never overwrites a file: give a new name.`);
  const saltFile = join(config.dataDir, SALT_FILE);
  const extra: Record<string, string> = existsSync(saltFile) ? { [SALT_SETTING]: readFileSync(saltFile, "utf8") } : {};
  try {
    backupSqlite(db, file, extra);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw new Error(`${file} exists already; a backup never overwrites a file: give a new name.`);
    if (code === "ENOENT") throw new Error(`Cannot write the backup: the directory of ${file} does not exist.`);
    throw err;
  }
  return { file, masterKeyId: keyIdOf(inspectSqliteBackup(file, [KEY_CHECK_SETTING])[KEY_CHECK_SETTING]) };
}

/**
 * Restores a backup into a new data directory: `dataDir` must not exist or
 * be empty, so a restore never mixes with, or replaces, live data. The
 * server started there needs the master key the backup was sealed under.
 */
export function restoreDataDir(from: string, dataDir: string): BackupInfo {
  const file = resolve(from);
  if (!existsSync(file) || !statSync(file).isFile()) throw new Error(`There is no backup file at ${file}.`);
  const dir = resolve(dataDir);
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new Error(`The data directory ${dir} is not empty; a restore goes into a new (or empty) directory only.`);
  }
  const settings = inspectSqliteBackup(file, [KEY_CHECK_SETTING, SALT_SETTING]);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const db = join(dir, DB_FILE);
  makePrivate(db);
  copyFileSync(file, db);
  if (settings[SALT_SETTING]) {
    deleteSqliteSettings(db, [SALT_SETTING]);
    writeFileSync(join(dir, SALT_FILE), settings[SALT_SETTING], { mode: 0o600, flag: "wx" });
  }
  syncFile(db);
  syncFile(dir);
  return { file: dir, masterKeyId: keyIdOf(settings[KEY_CHECK_SETTING]) };
}

function keyIdOf(check: string | undefined): string | undefined {
  return check ? (JSON.parse(check) as { id?: string }).id : undefined;
}
