import Database from "better-sqlite3";
import type {
  ParameterRecord,
  ParameterVersionRecord,
  PrincipalRecord,
  Store,
  StoreReader,
  StoreTx,
  VersionRecord,
} from "../store.ts";
import { createNestingGuard } from "../nesting-guard.ts";
import { parametersByPathQuery, type Dialect } from "../sql-queries.ts";
import { createThreadAuditWriter, type ThreadAuditWriter } from "../thread-audit-writer.ts";
import { accessKeyParams, toAccessKey, toAlias, toKey, toParameterVersion, toSecret, toVersion, type Row } from "../sql-rows.ts";
import { UPSERT_SETTING } from "./sqlite-audit-sql.mjs";
import { sqliteAuditReads, sqliteAuditWrites } from "./sqlite-audit-tables.ts";
import { makePrivate } from "./sqlite-files.ts";
import { createTurnWord, giveMainTurn, takeMainTurn, threadGone } from "./sqlite-write-turn.mjs";
import { migrate } from "./sqlite-schema.ts";
import { sqliteOidcReads, sqliteOidcWrites } from "./sqlite-oidc.ts";
import { sqlIamPolicyReads, sqlIamPolicyWrites } from "../sql-iam-policies.ts";
import { sqlReplicationReads, sqlReplicationWrites, type RunSql } from "../sql-replication.ts";

type Db = Database.Database;
const SQLITE: Dialect = { position: "instr" };

const AUDIT_WORKER = new URL("./sqlite-audit-worker.mjs", import.meta.url);

/** How long a connection waits for another's write lock (the audit writer thread's, or the main one's). */
const BUSY_TIMEOUT_MS = 5000;

/**
 * The embedded default backend. One writer connection runs transactions one
 * at a time (BEGIN IMMEDIATE ... COMMIT, WAL, synchronous=FULL, so a resolved
 * transaction survives kill -9 and power loss); a second, read-only
 * connection serves reads outside transactions and so sees only committed data.
 * The audit chain has a third connection of its own, in a worker thread
 * (sqlite-audit-worker.mjs, run by ../thread-audit-writer.ts), so its commits' fsyncs do not stop the event loop;
 * the two writers take turns on SQLite's write lock (busy_timeout).
 * The files are the server user's alone (0600), whatever the umask.
 */
export function openSqliteStore(path: string): Store {
  if (path !== ":memory:") makePrivate(path);
  const writer = new Database(path);
  writer.pragma("journal_mode = WAL");
  writer.pragma("synchronous = FULL");
  writer.pragma("foreign_keys = ON");
  writer.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  migrate(writer);
  const reader = path === ":memory:" ? writer : new Database(path, { readonly: true });
  reader.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);

  const reads = sqliteReader(reader);
  const tx = sqliteTx(writer);
  let queue: Promise<unknown> = Promise.resolve();
  // The audit chain's writer thread, started on first use (an in-memory database cannot be shared with it).
  let auditWriter: ThreadAuditWriter | undefined;
  const turn = createTurnWord();
  const nesting = createNestingGuard();

  async function run<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    // With an audit writer thread, wait for the write turn without blocking the event loop
    // (SQLite's busy handler would sleep on it while the thread commits).
    const turns = auditWriter !== undefined;
    if (turns) await takeMainTurn(turn, BUSY_TIMEOUT_MS);
    try {
      writer.exec("BEGIN IMMEDIATE");
      const result = await fn(tx);
      writer.exec("COMMIT");
      return result;
    } catch (err) {
      if (writer.inTransaction) writer.exec("ROLLBACK");
      throw err;
    } finally {
      if (turns) giveMainTurn(turn);
    }
  }


  return {
    ...reads,
    auditWriter:
      path === ":memory:" ? undefined : (key: Buffer) => (auditWriter ??= sqliteAuditWriter(path, key, turn)),
    transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
      const nested = nesting.nested();
      if (nested) return Promise.reject(nested);
      // better-sqlite3 is synchronous and has one connection, so async
      // transactions are queued rather than interleaved.
      const result = queue.then(() => nesting.mark(() => run(fn)));
      queue = result.catch(() => undefined);
      return result;
    },
    async close() {
      await auditWriter?.close();
      await queue;
      if (reader !== writer) reader.close();
      writer.close();
    },
  };
}

/**
 * The audit chain's writer thread on the database file at `path`
 * (sqlite-audit-worker.mjs), taking turns with the main connection through `turn`.
 */
export function sqliteAuditWriter(path: string, key: Buffer, turn: Int32Array, busyTimeoutMs = BUSY_TIMEOUT_MS): ThreadAuditWriter {
  return createThreadAuditWriter(AUDIT_WORKER, { path, busyTimeoutMs, turn }, key, () => threadGone(turn));
}

/** The replication tables' runner: "$n" placeholders become "?" (sql-replication.ts uses each argument once, in order). */
function replicationRunner(db: Db): RunSql {
  const sql = statements(db);
  return async (text, args) => {
    const stmt = sql(text.replace(/\$\d+/g, "?"));
    return stmt.reader ? (stmt.all(...args) as { doc: string }[]) : (stmt.run(...args), []);
  };
}

function statements(db: Db) {
  const cache = new Map<string, Database.Statement>();
  return (sql: string): Database.Statement => {
    let stmt = cache.get(sql);
    if (!stmt) {
      stmt = db.prepare(sql);
      cache.set(sql, stmt);
    }
    return stmt;
  };
}

function sqliteReader(db: Db): StoreReader {
  const sql = statements(db);
  const stagesOf = (secretArn: string, versionId: string): string[] =>
    (
      sql("SELECT stage FROM version_stages WHERE secret_arn = ? AND version_id = ? ORDER BY stage").all(
        secretArn,
        versionId,
      ) as Row[]
    ).map((r) => r.stage as string);
  const version = (row: Row | undefined): VersionRecord | undefined =>
    row && toVersion(row, stagesOf(row.secret_arn as string, row.version_id as string));
  const labelsOf = (parameterArn: string, v: number): string[] =>
    (
      sql("SELECT label FROM parameter_labels WHERE parameter_arn = ? AND version = ? ORDER BY label").all(parameterArn, v) as Row[]
    ).map((r) => r.label as string);
  const parameterVersion = (row: Row | undefined): ParameterVersionRecord | undefined =>
    row && toParameterVersion(row, labelsOf(row.parameter_arn as string, row.version as number));

  return {
    async getSecret(arn) {
      return toSecret(sql("SELECT doc FROM secrets WHERE arn = ?").get(arn) as Row | undefined);
    },
    async getSecretByName(accountId, name) {
      return toSecret(sql("SELECT doc FROM secrets WHERE account_id = ? AND name = ?").get(accountId, name) as Row);
    },
    async listSecrets(accountId) {
      return (sql("SELECT doc FROM secrets WHERE account_id = ? ORDER BY name").all(accountId) as Row[]).map(
        (r) => toSecret(r)!,
      );
    },
    async listSecretsDueForPurge(now) {
      return (
        sql("SELECT doc FROM secrets WHERE purge_at IS NOT NULL AND purge_at <= ? ORDER BY purge_at").all(now) as Row[]
      ).map((r) => toSecret(r)!);
    },
    async listSecretsDueForRotation(now, limit) {
      return (
        sql("SELECT doc FROM secrets WHERE rotate_at IS NOT NULL AND rotate_at <= ? ORDER BY rotate_at LIMIT ?").all(now, limit) as Row[]
      ).map((r) => toSecret(r)!);
    },
    async getVersion(secretArn, versionId) {
      return version(sql("SELECT * FROM versions WHERE secret_arn = ? AND version_id = ?").get(secretArn, versionId) as Row);
    },
    async getVersionByStage(secretArn, stage) {
      return version(
        sql(
          `SELECT v.* FROM version_stages s JOIN versions v
             ON v.secret_arn = s.secret_arn AND v.version_id = s.version_id
           WHERE s.secret_arn = ? AND s.stage = ?`,
        ).get(secretArn, stage) as Row,
      );
    },
    async listVersions(secretArn) {
      const rows = sql(
        "SELECT * FROM versions WHERE secret_arn = ? ORDER BY created_at DESC, version_id DESC",
      ).all(secretArn) as Row[];
      const stages = new Map<string, string[]>();
      for (const r of sql("SELECT version_id, stage FROM version_stages WHERE secret_arn = ? ORDER BY stage").all(
        secretArn,
      ) as Row[]) {
        const list = stages.get(r.version_id as string) ?? [];
        list.push(r.stage as string);
        stages.set(r.version_id as string, list);
      }
      return rows.map((r) => toVersion(r, stages.get(r.version_id as string) ?? []));
    },
    async getKey(keyId) {
      return toKey(sql("SELECT * FROM keys WHERE key_id = ?").get(keyId) as Row);
    },
    async listKeys(accountId) {
      return (sql("SELECT * FROM keys WHERE account_id = ? ORDER BY key_id").all(accountId) as Row[]).map(
        (r) => toKey(r)!,
      );
    },
    async getAlias(accountId, aliasName) {
      return toAlias(sql("SELECT * FROM aliases WHERE account_id = ? AND alias_name = ?").get(accountId, aliasName) as Row);
    },
    async listAliases(accountId) {
      return (sql("SELECT * FROM aliases WHERE account_id = ? ORDER BY alias_name").all(accountId) as Row[]).map(
        (r) => toAlias(r)!,
      );
    },
    async getAccessKey(accessKeyId) {
      return toAccessKey(sql("SELECT * FROM access_keys WHERE access_key_id = ?").get(accessKeyId) as Row);
    },
    async listAccessKeys(principalArn) {
      return (
        sql("SELECT * FROM access_keys WHERE principal_arn = ? ORDER BY created_at, access_key_id").all(
          principalArn,
        ) as Row[]
      ).map((r) => toAccessKey(r)!);
    },
    async listAllAccessKeys() {
      return (sql("SELECT * FROM access_keys ORDER BY access_key_id").all() as Row[]).map((r) => toAccessKey(r)!);
    },
    ...sqliteAuditReads(db, sql),
    ...sqliteOidcReads(sql),
    ...sqlIamPolicyReads({ all: async (text, args) => sql(text).all(...args) as Row[] }),
    ...sqlReplicationReads(replicationRunner(db)),
    async getSetting(name) {
      const row = sql("SELECT value FROM settings WHERE name = ?").get(name) as Row | undefined;
      return row?.value as string | undefined;
    },
    async getPrincipal(arn) {
      const row = sql("SELECT doc FROM principals WHERE arn = ?").get(arn) as Row | undefined;
      return row && (JSON.parse(row.doc as string) as PrincipalRecord);
    },
    async listPrincipals(accountId, kind) {
      return (
        sql("SELECT doc FROM principals WHERE account_id = ? AND kind = ? ORDER BY name").all(accountId, kind) as Row[]
      ).map((r) => JSON.parse(r.doc as string) as PrincipalRecord);
    },
    async getParameter(arn) {
      const row = sql("SELECT doc FROM parameters WHERE arn = ?").get(arn) as Row | undefined;
      return row && (JSON.parse(row.doc as string) as ParameterRecord);
    },
    async listParametersByPath(accountId, path, { recursive, after, limit }) {
      const { text, args } = parametersByPathQuery(SQLITE, accountId, path, recursive, after, limit);
      return (sql(text).all(...args) as Row[]).map((r) => JSON.parse(r.doc as string) as ParameterRecord);
    },
    async listParametersDue(now, limit) {
      return (
        sql("SELECT doc FROM parameters WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY due_at LIMIT ?").all(now, limit) as Row[]
      ).map((r) => JSON.parse(r.doc as string) as ParameterRecord);
    },
    async getParameterVersion(parameterArn, v) {
      return parameterVersion(
        sql("SELECT * FROM parameter_versions WHERE parameter_arn = ? AND version = ?").get(parameterArn, v) as Row | undefined,
      );
    },
    async getParameterVersionByLabel(parameterArn, label) {
      return parameterVersion(
        sql(
          `SELECT v.* FROM parameter_labels l JOIN parameter_versions v
             ON v.parameter_arn = l.parameter_arn AND v.version = l.version
           WHERE l.parameter_arn = ? AND l.label = ?`,
        ).get(parameterArn, label) as Row | undefined,
      );
    },
    async listParameterVersions(parameterArn) {
      const rows = sql("SELECT * FROM parameter_versions WHERE parameter_arn = ? ORDER BY version DESC").all(parameterArn) as Row[];
      const labels = new Map<number, string[]>();
      for (const r of sql("SELECT version, label FROM parameter_labels WHERE parameter_arn = ? ORDER BY label").all(parameterArn) as Row[]) {
        const list = labels.get(r.version as number) ?? [];
        list.push(r.label as string);
        labels.set(r.version as number, list);
      }
      return rows.map((r) => toParameterVersion(r, labels.get(r.version as number) ?? []));
    },
  };
}

function sqliteTx(db: Db): StoreTx {
  const sql = statements(db);
  return {
    ...sqliteReader(db),
    async putSecret(s) {
      sql(
        `INSERT INTO secrets (arn, account_id, name, purge_at, rotate_at, doc) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (arn) DO UPDATE SET name = excluded.name, purge_at = excluded.purge_at,
           rotate_at = excluded.rotate_at, doc = excluded.doc`,
      ).run(s.arn, s.accountId, s.name, s.purgeAt ?? null, s.rotateAt ?? null, JSON.stringify(s));
    },
    async deleteSecret(arn) {
      sql("DELETE FROM version_stages WHERE secret_arn = ?").run(arn);
      sql("DELETE FROM versions WHERE secret_arn = ?").run(arn);
      sql("DELETE FROM secrets WHERE arn = ?").run(arn);
    },
    async putVersion(v) {
      sql(
        `INSERT INTO versions (secret_arn, version_id, created_at, key_arn, value_kind, last_accessed_at, sealed_value, wrapped_data_key)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (secret_arn, version_id) DO UPDATE SET key_arn = excluded.key_arn,
           value_kind = excluded.value_kind, last_accessed_at = excluded.last_accessed_at,
           sealed_value = excluded.sealed_value, wrapped_data_key = excluded.wrapped_data_key`,
      ).run(
        v.secretArn,
        v.versionId,
        v.createdAt,
        v.keyArn,
        v.valueKind,
        v.lastAccessedAt ?? null,
        v.sealedValue ?? null,
        v.wrappedDataKey ?? null,
      );
      sql("DELETE FROM version_stages WHERE secret_arn = ? AND version_id = ?").run(v.secretArn, v.versionId);
      // A label sits on one version only: writing it here moves it from wherever it was.
      const put = sql(
        `INSERT INTO version_stages (secret_arn, stage, version_id) VALUES (?, ?, ?)
         ON CONFLICT (secret_arn, stage) DO UPDATE SET version_id = excluded.version_id`,
      );
      for (const stage of v.stages) put.run(v.secretArn, stage, v.versionId);
    },
    async deleteVersion(secretArn, versionId) {
      sql("DELETE FROM version_stages WHERE secret_arn = ? AND version_id = ?").run(secretArn, versionId);
      sql("DELETE FROM versions WHERE secret_arn = ? AND version_id = ?").run(secretArn, versionId);
    },
    async putKey(k) {
      sql(
        `INSERT INTO keys (key_id, arn, account_id, created_at, master_key_id, sealed_material, meta)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (key_id) DO UPDATE SET master_key_id = excluded.master_key_id,
           sealed_material = excluded.sealed_material, meta = excluded.meta`,
      ).run(k.keyId, k.arn, k.accountId, k.createdAt, k.masterKeyId, k.sealedMaterial, JSON.stringify(k.meta));
    },
    async putAlias(a) {
      sql(
        `INSERT INTO aliases (account_id, alias_name, key_id) VALUES (?, ?, ?)
         ON CONFLICT (account_id, alias_name) DO UPDATE SET key_id = excluded.key_id`,
      ).run(a.accountId, a.aliasName, a.keyId);
    },
    async deleteAlias(accountId, aliasName) {
      sql("DELETE FROM aliases WHERE account_id = ? AND alias_name = ?").run(accountId, aliasName);
    },
    async putAccessKey(k) {
      sql(
        `INSERT INTO access_keys (access_key_id, principal_arn, account_id, status, created_at, master_key_id,
           sealed_secret, expires_at, session)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (access_key_id) DO UPDATE SET status = excluded.status, master_key_id = excluded.master_key_id,
           sealed_secret = excluded.sealed_secret, expires_at = excluded.expires_at, session = excluded.session`,
      ).run(...accessKeyParams(k));
    },
    async deleteAccessKey(accessKeyId) {
      sql("DELETE FROM access_keys WHERE access_key_id = ?").run(accessKeyId);
    },
    async putPrincipal(p) {
      sql(
        `INSERT INTO principals (arn, account_id, kind, name, doc) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (arn) DO UPDATE SET doc = excluded.doc`,
      ).run(p.arn, p.accountId, p.kind, p.name, JSON.stringify(p));
    },
    async deletePrincipal(arn) {
      sql("DELETE FROM principals WHERE arn = ?").run(arn);
    },
    ...sqliteAuditWrites(sql),
    ...sqliteOidcWrites(sql),
    ...sqlIamPolicyWrites({ run: async (text, args) => void sql(text).run(...args) }),
    ...sqlReplicationWrites(replicationRunner(db)),
    async putParameter(p) {
      sql(
        `INSERT INTO parameters (arn, account_id, name, due_at, doc) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (arn) DO UPDATE SET name = excluded.name, due_at = excluded.due_at, doc = excluded.doc`,
      ).run(p.arn, p.accountId, p.name, p.dueAt ?? null, JSON.stringify(p));
    },
    async deleteParameter(arn) {
      sql("DELETE FROM parameter_labels WHERE parameter_arn = ?").run(arn);
      sql("DELETE FROM parameter_versions WHERE parameter_arn = ?").run(arn);
      sql("DELETE FROM parameters WHERE arn = ?").run(arn);
    },
    async putParameterVersion(v) {
      const { labels, sealedValue, wrappedDataKey, ...doc } = v;
      sql(
        `INSERT INTO parameter_versions (parameter_arn, version, sealed_value, wrapped_data_key, doc) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (parameter_arn, version) DO UPDATE SET sealed_value = excluded.sealed_value,
           wrapped_data_key = excluded.wrapped_data_key, doc = excluded.doc`,
      ).run(v.parameterArn, v.version, sealedValue ?? null, wrappedDataKey ?? null, JSON.stringify(doc));
      sql("DELETE FROM parameter_labels WHERE parameter_arn = ? AND version = ?").run(v.parameterArn, v.version);
      // A label sits on one version only: writing it here moves it from wherever it was.
      const put = sql(
        `INSERT INTO parameter_labels (parameter_arn, label, version) VALUES (?, ?, ?)
         ON CONFLICT (parameter_arn, label) DO UPDATE SET version = excluded.version`,
      );
      for (const label of labels) put.run(v.parameterArn, label, v.version);
    },
    async deleteParameterVersion(parameterArn, v) {
      sql("DELETE FROM parameter_labels WHERE parameter_arn = ? AND version = ?").run(parameterArn, v);
      sql("DELETE FROM parameter_versions WHERE parameter_arn = ? AND version = ?").run(parameterArn, v);
    },
    async putSetting(name, value) {
      sql(UPSERT_SETTING).run(name, value);
    },
  };
}
