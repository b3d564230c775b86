import { existsSync } from "node:fs";
import { join } from "node:path";
import { openPostgresStore, postgresSealedKeyIds } from "../storage/postgres/postgres-store.ts";
import { sealedMasterKeyIds } from "../storage/sqlite/sqlite-files.ts";
import { openSqliteStore } from "../storage/sqlite/sqlite-store.ts";
import type { Store } from "../storage/store.ts";
import type { Config } from "./config.ts";

export interface OpenedStore {
  store: Store;
  /** Where the data is, for messages (never the database password). */
  where: string;
  /** The master key ids that sealed its rows, for a database older than the stored key check. */
  sealedKeyIds(): Promise<string[]>;
}

/**
 * The one place that chooses and opens the backend: PostgreSQL when
 * databaseUrl is set (migrated to this version's schema first), else SQLite
 * in the data directory. Nothing else names a database file.
 */
export async function openStore(config: Config): Promise<OpenedStore> {
  if (config.databaseUrl) {
    const url = config.databaseUrl;
    return { store: await openPostgresStore(url), where: redactedUrl(url), sealedKeyIds: () => postgresSealedKeyIds(url) };
  }
  const path = sqlitePath(config);
  return { store: openSqliteStore(path), where: path, sealedKeyIds: async () => sealedMasterKeyIds(path) };
}

/** Throws unless there is Coffer data to open (for admin commands, which must not create it). */
export function requireData(config: Config): void {
  if (config.databaseUrl || existsSync(sqlitePath(config))) return;
  throw new Error(`There is no Coffer data directory at ${config.dataDir}: start the server once first.`);
}

function sqlitePath(config: Config): string {
  return join(config.dataDir, "coffer.db");
}

/** The URL without its password, for logs and errors. */
export function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(unparsable database URL)";
  }
}
