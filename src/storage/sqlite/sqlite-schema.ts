import { iamPolicyTables } from "../sql-iam-policies.ts";
import type Database from "better-sqlite3";
import { REPLICATION_TABLES } from "../sql-replication.ts";

/**
 * Schema migrations, applied in order and recorded in PRAGMA user_version.
 * Append new steps; never edit a step that has shipped.
 */
const steps: string[] = [
  `CREATE TABLE secrets (
     arn TEXT PRIMARY KEY,
     account_id TEXT NOT NULL,
     name TEXT NOT NULL,
     purge_at INTEGER,
     doc TEXT NOT NULL
   );
   CREATE UNIQUE INDEX secrets_by_name ON secrets (account_id, name);
   CREATE INDEX secrets_by_purge ON secrets (purge_at) WHERE purge_at IS NOT NULL;
   CREATE TABLE versions (
     secret_arn TEXT NOT NULL REFERENCES secrets (arn),
     version_id TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     key_arn TEXT NOT NULL,
     value_kind TEXT NOT NULL,
     last_accessed_at INTEGER,
     sealed_value BLOB,
     wrapped_data_key BLOB,
     PRIMARY KEY (secret_arn, version_id)
   );
   CREATE TABLE version_stages (
     secret_arn TEXT NOT NULL,
     stage TEXT NOT NULL,
     version_id TEXT NOT NULL,
     PRIMARY KEY (secret_arn, stage),
     FOREIGN KEY (secret_arn, version_id) REFERENCES versions (secret_arn, version_id)
   );
   CREATE INDEX version_stages_by_version ON version_stages (secret_arn, version_id);
   CREATE TABLE keys (
     key_id TEXT PRIMARY KEY,
     arn TEXT NOT NULL UNIQUE,
     account_id TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     master_key_id TEXT NOT NULL,
     sealed_material BLOB NOT NULL,
     meta TEXT NOT NULL
   );
   CREATE TABLE aliases (
     account_id TEXT NOT NULL,
     alias_name TEXT NOT NULL,
     key_id TEXT NOT NULL REFERENCES keys (key_id),
     PRIMARY KEY (account_id, alias_name)
   );
   CREATE TABLE access_keys (
     access_key_id TEXT PRIMARY KEY,
     principal_arn TEXT NOT NULL,
     account_id TEXT NOT NULL,
     status TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     master_key_id TEXT NOT NULL,
     sealed_secret BLOB NOT NULL,
     expires_at INTEGER,
     session TEXT
   );
   CREATE INDEX access_keys_by_principal ON access_keys (principal_arn);
   CREATE TABLE settings (
     name TEXT PRIMARY KEY,
     value TEXT NOT NULL
   );`,
  `CREATE TABLE principals (
     arn TEXT PRIMARY KEY,
     account_id TEXT NOT NULL,
     kind TEXT NOT NULL,
     name TEXT NOT NULL,
     doc TEXT NOT NULL
   );
   CREATE UNIQUE INDEX principals_by_name ON principals (account_id, kind, name);`,
  `CREATE TABLE audit_rows (
     seq INTEGER PRIMARY KEY,
     kind TEXT NOT NULL,
     time INTEGER NOT NULL,
     event_id TEXT NOT NULL,
     event_name TEXT NOT NULL,
     event_source TEXT NOT NULL,
     account_ids TEXT NOT NULL,
     username TEXT,
     access_key_id TEXT,
     read_only INTEGER NOT NULL,
     resources TEXT NOT NULL,
     record TEXT NOT NULL,
     prev_hash TEXT NOT NULL,
     hash TEXT NOT NULL
   );
   CREATE INDEX audit_rows_by_time ON audit_rows (time);
   CREATE TABLE audit_checkpoints (
     seq INTEGER PRIMARY KEY,
     hash TEXT NOT NULL,
     time INTEGER NOT NULL,
     signature TEXT NOT NULL
   );
   CREATE TABLE alert_outbox (
     id TEXT PRIMARY KEY,
     next_attempt_at INTEGER NOT NULL,
     doc TEXT NOT NULL
   );
   CREATE INDEX alert_outbox_due ON alert_outbox (next_attempt_at);
   CREATE TABLE audit_reads (
     principal_arn TEXT NOT NULL,
     resource_arn TEXT NOT NULL,
     PRIMARY KEY (principal_arn, resource_arn)
   );`,
  `ALTER TABLE secrets ADD COLUMN rotate_at INTEGER;
   CREATE INDEX secrets_by_rotation ON secrets (rotate_at) WHERE rotate_at IS NOT NULL;`,
  // Parameter Store. GetParametersByPath reads a range of parameters_by_name.
  `CREATE TABLE parameters (
     arn TEXT PRIMARY KEY,
     account_id TEXT NOT NULL,
     name TEXT NOT NULL,
     due_at INTEGER,
     doc TEXT NOT NULL
   );
   CREATE UNIQUE INDEX parameters_by_name ON parameters (account_id, name);
   CREATE INDEX parameters_due ON parameters (due_at) WHERE due_at IS NOT NULL;
   CREATE TABLE parameter_versions (
     parameter_arn TEXT NOT NULL REFERENCES parameters (arn),
     version INTEGER NOT NULL,
     sealed_value BLOB,
     wrapped_data_key BLOB,
     doc TEXT NOT NULL,
     PRIMARY KEY (parameter_arn, version)
   );
   CREATE TABLE parameter_labels (
     parameter_arn TEXT NOT NULL,
     label TEXT NOT NULL,
     version INTEGER NOT NULL,
     PRIMARY KEY (parameter_arn, label),
     FOREIGN KEY (parameter_arn, version) REFERENCES parameter_versions (parameter_arn, version)
   );
   CREATE INDEX parameter_labels_by_version ON parameter_labels (parameter_arn, version);`,
  // IAM OpenID Connect identity providers (docs/workload-identity.md).
  `CREATE TABLE oidc_providers (
     arn TEXT PRIMARY KEY,
     account_id TEXT NOT NULL,
     doc TEXT NOT NULL
   );
   CREATE INDEX oidc_providers_by_account ON oidc_providers (account_id, arn);`,
  // IAM customer managed policies and groups (src/storage/sql-iam-policies.ts).
  iamPolicyTables(""),
  // Multi-region replication: region links and the outbox (src/storage/sql-replication.ts).
  REPLICATION_TABLES,
];

export function migrate(db: Database.Database): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > steps.length) {
    throw new Error(`database schema version ${current} is newer than this Coffer (${steps.length})`);
  }
  for (let i = current; i < steps.length; i++) {
    db.transaction(() => {
      db.exec(steps[i]);
      db.pragma(`user_version = ${i + 1}`);
    })();
  }
}
