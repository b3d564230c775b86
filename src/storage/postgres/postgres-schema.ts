import type pg from "pg";
import { iamPolicyTables } from "../sql-iam-policies.ts";
import { REPLICATION_TABLES } from "../sql-replication.ts";

/**
 * Schema migrations, applied in order and recorded in coffer_migrations.
 * Append new steps; never edit a step that has shipped. Names compare in
 * byte order (COLLATE "C"), as in SQLite, so listings and the by-path range
 * scans agree across backends.
 */
const steps: string[] = [
  `CREATE TABLE secrets (
     arn TEXT COLLATE "C" PRIMARY KEY,
     account_id TEXT COLLATE "C" NOT NULL,
     name TEXT COLLATE "C" NOT NULL,
     purge_at BIGINT,
     rotate_at BIGINT,
     doc TEXT NOT NULL
   );
   CREATE UNIQUE INDEX secrets_by_name ON secrets (account_id, name);
   CREATE INDEX secrets_by_purge ON secrets (purge_at) WHERE purge_at IS NOT NULL;
   CREATE INDEX secrets_by_rotation ON secrets (rotate_at) WHERE rotate_at IS NOT NULL;
   CREATE TABLE versions (
     secret_arn TEXT COLLATE "C" NOT NULL REFERENCES secrets (arn),
     version_id TEXT COLLATE "C" NOT NULL,
     created_at BIGINT NOT NULL,
     key_arn TEXT NOT NULL,
     value_kind TEXT NOT NULL,
     last_accessed_at BIGINT,
     sealed_value BYTEA,
     wrapped_data_key BYTEA,
     PRIMARY KEY (secret_arn, version_id)
   );
   CREATE TABLE version_stages (
     secret_arn TEXT COLLATE "C" NOT NULL,
     stage TEXT COLLATE "C" NOT NULL,
     version_id TEXT COLLATE "C" NOT NULL,
     PRIMARY KEY (secret_arn, stage),
     FOREIGN KEY (secret_arn, version_id) REFERENCES versions (secret_arn, version_id)
   );
   CREATE INDEX version_stages_by_version ON version_stages (secret_arn, version_id);
   CREATE TABLE keys (
     key_id TEXT COLLATE "C" PRIMARY KEY,
     arn TEXT NOT NULL UNIQUE,
     account_id TEXT COLLATE "C" NOT NULL,
     created_at BIGINT NOT NULL,
     master_key_id TEXT NOT NULL,
     sealed_material BYTEA NOT NULL,
     meta TEXT NOT NULL
   );
   CREATE INDEX keys_by_account ON keys (account_id);
   CREATE TABLE aliases (
     account_id TEXT COLLATE "C" NOT NULL,
     alias_name TEXT COLLATE "C" NOT NULL,
     key_id TEXT COLLATE "C" NOT NULL REFERENCES keys (key_id),
     PRIMARY KEY (account_id, alias_name)
   );
   CREATE TABLE access_keys (
     access_key_id TEXT COLLATE "C" PRIMARY KEY,
     principal_arn TEXT COLLATE "C" NOT NULL,
     account_id TEXT NOT NULL,
     status TEXT NOT NULL,
     created_at BIGINT NOT NULL,
     master_key_id TEXT NOT NULL,
     sealed_secret BYTEA NOT NULL,
     expires_at BIGINT,
     session TEXT
   );
   CREATE INDEX access_keys_by_principal ON access_keys (principal_arn);
   CREATE TABLE settings (
     name TEXT COLLATE "C" PRIMARY KEY,
     value TEXT NOT NULL
   );
   CREATE TABLE principals (
     arn TEXT COLLATE "C" PRIMARY KEY,
     account_id TEXT COLLATE "C" NOT NULL,
     kind TEXT NOT NULL,
     name TEXT COLLATE "C" NOT NULL,
     doc TEXT NOT NULL
   );
   CREATE UNIQUE INDEX principals_by_name ON principals (account_id, kind, name);
   CREATE TABLE audit_rows (
     seq BIGINT PRIMARY KEY,
     kind TEXT NOT NULL,
     time BIGINT NOT NULL,
     event_id TEXT NOT NULL,
     event_name TEXT NOT NULL,
     event_source TEXT NOT NULL,
     account_ids TEXT NOT NULL,
     username TEXT,
     access_key_id TEXT,
     read_only SMALLINT NOT NULL,
     resources TEXT NOT NULL,
     record TEXT NOT NULL,
     prev_hash TEXT NOT NULL,
     hash TEXT NOT NULL
   );
   CREATE INDEX audit_rows_by_time ON audit_rows (time);
   CREATE TABLE audit_checkpoints (
     seq BIGINT PRIMARY KEY,
     hash TEXT NOT NULL,
     time BIGINT NOT NULL,
     signature TEXT NOT NULL
   );
   CREATE TABLE alert_outbox (
     id TEXT PRIMARY KEY,
     next_attempt_at BIGINT NOT NULL,
     doc TEXT NOT NULL
   );
   CREATE INDEX alert_outbox_due ON alert_outbox (next_attempt_at);
   CREATE TABLE audit_reads (
     principal_arn TEXT NOT NULL,
     resource_arn TEXT NOT NULL,
     PRIMARY KEY (principal_arn, resource_arn)
   );
   CREATE TABLE parameters (
     arn TEXT COLLATE "C" PRIMARY KEY,
     account_id TEXT COLLATE "C" NOT NULL,
     name TEXT COLLATE "C" NOT NULL,
     due_at BIGINT,
     doc TEXT NOT NULL
   );
   CREATE UNIQUE INDEX parameters_by_name ON parameters (account_id, name);
   CREATE INDEX parameters_due ON parameters (due_at) WHERE due_at IS NOT NULL;
   CREATE TABLE parameter_versions (
     parameter_arn TEXT COLLATE "C" NOT NULL REFERENCES parameters (arn),
     version INTEGER NOT NULL,
     sealed_value BYTEA,
     wrapped_data_key BYTEA,
     doc TEXT NOT NULL,
     PRIMARY KEY (parameter_arn, version)
   );
   CREATE TABLE parameter_labels (
     parameter_arn TEXT COLLATE "C" NOT NULL,
     label TEXT COLLATE "C" NOT NULL,
     version INTEGER NOT NULL,
     PRIMARY KEY (parameter_arn, label),
     FOREIGN KEY (parameter_arn, version) REFERENCES parameter_versions (parameter_arn, version)
   );
   CREATE INDEX parameter_labels_by_version ON parameter_labels (parameter_arn, version);
   -- Moved by every committed write that may change what a node holds in memory (postgres-store.ts):
   -- the counter is the sum of the rows, one per shard, so concurrent writers rarely touch the same row.
   CREATE TABLE coffer_changes (id INTEGER PRIMARY KEY, n BIGINT NOT NULL);
   INSERT INTO coffer_changes VALUES (0, 0);`,
  // IAM OpenID Connect identity providers (docs/workload-identity.md).
  `CREATE TABLE oidc_providers (
     arn TEXT COLLATE "C" PRIMARY KEY,
     account_id TEXT COLLATE "C" NOT NULL,
     doc TEXT NOT NULL
   );
   CREATE INDEX oidc_providers_by_account ON oidc_providers (account_id, arn);`,
  // IAM customer managed policies and groups (src/storage/sql-iam-policies.ts).
  iamPolicyTables(' COLLATE "C"'),
  // Multi-region replication: region links and the outbox (src/storage/sql-replication.ts).
  REPLICATION_TABLES,
];

/** The schema version this Coffer writes. */
export const SCHEMA_VERSION = steps.length;

/** Key of the advisory lock migrations run under (any constant; "coffer" in ASCII). */
const MIGRATION_LOCK = 0x636f66666572;

export class SchemaError extends Error {}

/**
 * Brings the schema to SCHEMA_VERSION, one transaction per step, under an
 * advisory lock so nodes started together do not race; refuses a database
 * that a newer Coffer migrated. Returns the steps it applied.
 */
export async function migrate(client: pg.ClientBase, now = Date.now()): Promise<number[]> {
  await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
  try {
    await client.query(
      "CREATE TABLE IF NOT EXISTS coffer_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)",
    );
    const current = await schemaVersion(client);
    if (current > SCHEMA_VERSION) {
      throw new SchemaError(
        `The database was migrated by a newer Coffer (schema version ${current}; this Coffer knows up to ${SCHEMA_VERSION}): upgrade this node.`,
      );
    }
    const applied: number[] = [];
    for (let v = current + 1; v <= SCHEMA_VERSION; v++) {
      await client.query("BEGIN");
      try {
        await client.query(steps[v - 1]);
        await client.query("INSERT INTO coffer_migrations (version, applied_at) VALUES ($1, $2)", [v, now]);
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK");
        throw err;
      }
      applied.push(v);
    }
    return applied;
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]);
  }
}

/** The highest migration applied (0 on an empty database). */
export async function schemaVersion(client: pg.ClientBase): Promise<number> {
  const exists = await client.query("SELECT to_regclass('coffer_migrations') IS NOT NULL AS present");
  if (!exists.rows[0].present) return 0;
  const { rows } = await client.query("SELECT coalesce(max(version), 0)::int AS v FROM coffer_migrations");
  return rows[0].v as number;
}
