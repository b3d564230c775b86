// The SQL that writes the audit chain, shared by the store's transactions
// (sqlite-store.ts) and the writer thread (sqlite-audit-worker.mjs), which is
// plain JavaScript so it starts without a TypeScript loader. Types in
// sqlite-audit-sql.d.mts.

export const INSERT_AUDIT_ROW = `INSERT INTO audit_rows (seq, kind, time, event_id, event_name, event_source, account_ids, username,
  access_key_id, read_only, resources, record, prev_hash, hash)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

export const INSERT_AUDIT_CHECKPOINT = "INSERT OR REPLACE INTO audit_checkpoints (seq, hash, time, signature) VALUES (?, ?, ?, ?)";

export const UPSERT_SETTING = "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value";

export const LAST_AUDIT_ROW = "SELECT seq, hash FROM audit_rows ORDER BY seq DESC LIMIT 1";

export const GET_SETTING = "SELECT value FROM settings WHERE name = ?";
