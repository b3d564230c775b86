import pg from "pg";
import { auditRowParams } from "../audit-chain.mjs";
import { createChangeSync } from "../change-sync.ts";
import { createNestingGuard } from "../nesting-guard.ts";
import { createThreadAuditWriter, type ThreadAuditWriter } from "../thread-audit-writer.ts";
import { auditEventsQuery, numberedParameters, parametersByPathQuery, type Dialect } from "../sql-queries.ts";
import {
  accessKeyParams,
  toAccessKey,
  toAlias,
  toAuditRow,
  toKey,
  toParameterVersion,
  toSecret,
  toVersion,
  type Row,
} from "../sql-rows.ts";
import { UNCACHED_WRITES, type AlertDelivery, type ParameterRecord, type PrincipalRecord, type Store, type StoreReader, type StoreTx } from "../store.ts";
import { migrate } from "./postgres-schema.ts";
import { postgresOidcReads, postgresOidcWrites } from "./postgres-oidc.ts";
import { sqlIamPolicyReads, sqlIamPolicyWrites } from "../sql-iam-policies.ts";
import { sqlReplicationReads, sqlReplicationWrites, type RunSql } from "../sql-replication.ts";

const POSTGRES: Dialect = { position: "strpos" };
const AUDIT_WORKER = new URL("./postgres-audit-worker.mjs", import.meta.url);

/**
 * Serialization failures, deadlocks, and unique violations (a row a racing transaction inserted
 * first, which the retry then sees): the transaction is retried from the start.
 */
const RETRYABLE = new Set(["40001", "40P01", "23505"]);
const MAX_ATTEMPTS = 100;

/** Moves the change counter: the row of this connection's shard (coffer_changes' rows sum to it). */
const BUMP_CHANGES = "INSERT INTO coffer_changes (id, n) VALUES ($1, 1) ON CONFLICT (id) DO UPDATE SET n = coffer_changes.n + 1";
const SHARDS = 1024;
const shards = new WeakMap<pg.PoolClient, number>();
/** A connection runs one transaction at a time, so writers on different connections rarely share a row. */
function shardOf(conn: pg.PoolClient): number {
  let shard = shards.get(conn);
  if (shard === undefined) shards.set(conn, (shard = 1 + Math.floor(Math.random() * SHARDS)));
  return shard;
}

export interface PostgresStoreOptions {
  /** Connections for transactions, and as many again for reads outside them (default 10). */
  poolSize?: number;
}

/** bigint columns (times, seqs) as numbers: every value Coffer stores is far below 2^53. */
const types = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === pg.types.builtins.INT8 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/**
 * The PostgreSQL backend, which several Coffer nodes share. Transactions run
 * REPEATABLE READ (one snapshot each) and take row locks where an invariant
 * spans rows: every write to a secret, parameter or principal reads its row
 * first, FOR UPDATE inside a transaction, so writers of one resource queue
 * on it; a transaction that loses a race (a row changed or inserted since
 * its snapshot, a deadlock) is retried from the start. So label moves,
 * ClientRequestToken idempotency, name uniqueness and deletion windows hold
 * under writes racing through different nodes, without SERIALIZABLE's
 * predicate locks, which on small tables made writes to different secrets
 * fail each other. Every committed write that may change what a node keeps
 * in memory moves a change counter in the same transaction (a sum of
 * sharded rows, so concurrent writers rarely share one); sync() reads it
 * (one query in flight, however many requests wait: change-sync.ts) and
 * tells onChange listeners when it moved, so a node never serves from
 * memory what another node changed before the request arrived. The audit
 * chain is one chain for all nodes, appended by a thread with its own
 * connection (postgres-audit-worker.mjs), which also reads the counter in
 * each commit (Store.epoch). Reads outside transactions use a pool of their
 * own and see committed data.
 */
export async function openPostgresStore(url: string, opts: PostgresStoreOptions = {}): Promise<Store> {
  const size = opts.poolSize ?? 10;
  const config = { connectionString: url, types, application_name: "coffer" };
  const txPool = new pg.Pool({ ...config, max: size });
  const readPool = new pg.Pool({ ...config, max: size });
  // A connection that breaks must not take the process down, idle (the pool's "error") or checked out
  // between two queries (the client's own "error": the next query fails instead); the next checkout reconnects.
  for (const pool of [txPool, readPool]) {
    pool.on("error", () => undefined);
    pool.on("connect", (client) => client.on("error", () => undefined));
  }

  const client = await txPool.connect().catch(async (err: Error) => {
    await Promise.all([txPool.end(), readPool.end()]);
    throw new Error(`Cannot reach the PostgreSQL database: ${err.message}`);
  });
  try {
    await migrate(client);
  } catch (err) {
    client.release();
    await Promise.all([txPool.end(), readPool.end()]);
    throw err;
  }
  client.release();

  const reads = postgresReader((text, args) => query(readPool, text, args));
  let auditWriter: ThreadAuditWriter | undefined;
  // Read by the audit thread when there is one (free under load: its commits read it), else here.
  const changes = createChangeSync(async () => {
    if (auditWriter) return auditWriter.readCounter();
    const rows = await query(readPool, "SELECT sum(n)::text AS counter FROM coffer_changes", []);
    return rows[0].counter as string;
  });
  const nesting = createNestingGuard();

  async function attempt<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    const conn = await txPool.connect();
    let broken = false;
    try {
      await conn.query("BEGIN ISOLATION LEVEL REPEATABLE READ");
      let counted = false;
      const tx = postgresTx(conn, () => (counted = true));
      const result = await nesting.mark(() => fn(tx));
      // Last, so the counter row is held for as short a time as possible.
      if (counted) await query(conn, BUMP_CHANGES, [shardOf(conn)]);
      await conn.query("COMMIT");
      return result;
    } catch (err) {
      await conn.query("ROLLBACK").catch(() => (broken = true));
      throw err;
    } finally {
      conn.release(broken);
    }
  }

  return {
    ...reads,
    auditWriter: (key: Buffer) => (auditWriter ??= createThreadAuditWriter(AUDIT_WORKER, { url }, key, undefined, (n) => changes.observe(n))),
    async transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
      const nested = nesting.nested();
      if (nested) throw nested;
      for (let n = 1; ; n++) {
        try {
          return await attempt(fn);
        } catch (err) {
          if (!RETRYABLE.has((err as { code?: string }).code ?? "") || n >= MAX_ATTEMPTS) throw err;
          // Jittered backoff, growing to 20 ms, so racing writers fall out of step.
          await new Promise((r) => setTimeout(r, Math.random() * Math.min(20, n)));
        }
      }
    },
    sync: () => changes.sync(),
    onChange: (listener) => changes.onChange(listener),
    epoch: () => changes.current(),
    async close() {
      await auditWriter?.close();
      await Promise.all([txPool.end(), readPool.end()]);
    },
  };
}

type Exec = (text: string, args: unknown[]) => Promise<Row[]>;

/** Named statements are parsed once per connection; the name is the text's number in this map. */
const statementNames = new Map<string, string>();

async function query(db: pg.Pool | pg.PoolClient, text: string, args: unknown[]): Promise<Row[]> {
  let name = statementNames.get(text);
  if (name === undefined) statementNames.set(text, (name = `coffer_${statementNames.size}`));
  const result = await db.query({ name, text, values: args });
  return result.rows as Row[];
}

/**
 * Reads, on the read pool or inside a transaction. Inside one (`lock`), the
 * secret, parameter and principal rows are read FOR UPDATE: every write to
 * one of them reads it first, so writers of one resource queue on its row
 * (instead of deadlocking on its versions and labels in different orders, or
 * both adding a version, an access key, a label on the same snapshot).
 */
function postgresReader(exec: Exec, lock = false): StoreReader {
  const forUpdate = lock ? " FOR UPDATE" : "";
  const one = async (text: string, args: unknown[]): Promise<Row | undefined> => (await exec(text, args))[0];
  const docs = async <T>(text: string, args: unknown[]): Promise<T[]> =>
    (await exec(text, args)).map((r) => JSON.parse(r.doc as string) as T);
  const stagesOf = async (secretArn: string, versionId: string): Promise<string[]> =>
    (
      await exec("SELECT stage FROM version_stages WHERE secret_arn = $1 AND version_id = $2 ORDER BY stage", [secretArn, versionId])
    ).map((r) => r.stage as string);
  const version = async (row: Row | undefined) =>
    row && toVersion(row, await stagesOf(row.secret_arn as string, row.version_id as string));
  const labelsOf = async (parameterArn: string, v: number): Promise<string[]> =>
    (
      await exec("SELECT label FROM parameter_labels WHERE parameter_arn = $1 AND version = $2 ORDER BY label", [parameterArn, v])
    ).map((r) => r.label as string);
  const parameterVersion = async (row: Row | undefined) =>
    row && toParameterVersion(row, await labelsOf(row.parameter_arn as string, row.version as number));
  /** Rows with a list of (owner id, item) pairs grouped onto them, each list in the pairs' order. */
  const grouped = <K>(pairs: Row[], id: string, item: string) => {
    const map = new Map<K, string[]>();
    for (const r of pairs) {
      const list = map.get(r[id] as K) ?? [];
      list.push(r[item] as string);
      map.set(r[id] as K, list);
    }
    return map;
  };

  return {
    ...postgresOidcReads(exec, lock),
    async getSecret(arn) {
      return toSecret(await one(`SELECT doc FROM secrets WHERE arn = $1${forUpdate}`, [arn]));
    },
    async getSecretByName(accountId, name) {
      return toSecret(await one(`SELECT doc FROM secrets WHERE account_id = $1 AND name = $2${forUpdate}`, [accountId, name]));
    },
    async listSecrets(accountId) {
      return (await exec("SELECT doc FROM secrets WHERE account_id = $1 ORDER BY name", [accountId])).map((r) => toSecret(r)!);
    },
    async listSecretsDueForPurge(now) {
      return (await exec("SELECT doc FROM secrets WHERE purge_at IS NOT NULL AND purge_at <= $1 ORDER BY purge_at", [now])).map(
        (r) => toSecret(r)!,
      );
    },
    async listSecretsDueForRotation(now, limit) {
      return (
        await exec("SELECT doc FROM secrets WHERE rotate_at IS NOT NULL AND rotate_at <= $1 ORDER BY rotate_at LIMIT $2", [now, limit])
      ).map((r) => toSecret(r)!);
    },
    async getVersion(secretArn, versionId) {
      return version(await one("SELECT * FROM versions WHERE secret_arn = $1 AND version_id = $2", [secretArn, versionId]));
    },
    async getVersionByStage(secretArn, stage) {
      return version(
        await one(
          `SELECT v.* FROM version_stages s JOIN versions v
             ON v.secret_arn = s.secret_arn AND v.version_id = s.version_id
           WHERE s.secret_arn = $1 AND s.stage = $2`,
          [secretArn, stage],
        ),
      );
    },
    async listVersions(secretArn) {
      const rows = await exec("SELECT * FROM versions WHERE secret_arn = $1 ORDER BY created_at DESC, version_id DESC", [secretArn]);
      const stages = grouped<string>(
        await exec("SELECT version_id, stage FROM version_stages WHERE secret_arn = $1 ORDER BY stage", [secretArn]),
        "version_id",
        "stage",
      );
      return rows.map((r) => toVersion(r, stages.get(r.version_id as string) ?? []));
    },
    async getKey(keyId) {
      return toKey(await one("SELECT * FROM keys WHERE key_id = $1", [keyId]));
    },
    async listKeys(accountId) {
      return (await exec("SELECT * FROM keys WHERE account_id = $1 ORDER BY key_id", [accountId])).map((r) => toKey(r)!);
    },
    async getAlias(accountId, aliasName) {
      return toAlias(await one("SELECT * FROM aliases WHERE account_id = $1 AND alias_name = $2", [accountId, aliasName]));
    },
    async listAliases(accountId) {
      return (await exec("SELECT * FROM aliases WHERE account_id = $1 ORDER BY alias_name", [accountId])).map((r) => toAlias(r)!);
    },
    async getAccessKey(accessKeyId) {
      return toAccessKey(await one("SELECT * FROM access_keys WHERE access_key_id = $1", [accessKeyId]));
    },
    async listAccessKeys(principalArn) {
      return (
        await exec("SELECT * FROM access_keys WHERE principal_arn = $1 ORDER BY created_at, access_key_id", [principalArn])
      ).map((r) => toAccessKey(r)!);
    },
    async listAllAccessKeys() {
      return (await exec("SELECT * FROM access_keys ORDER BY access_key_id", [])).map((r) => toAccessKey(r)!);
    },
    ...sqlReplicationReads(exec as RunSql),
    async getSetting(name) {
      return (await one("SELECT value FROM settings WHERE name = $1", [name]))?.value as string | undefined;
    },
    ...sqlIamPolicyReads({ all: (text, args) => exec(numberedParameters(text), args) }, forUpdate),
    async getPrincipal(arn) {
      return (await docs<PrincipalRecord>(`SELECT doc FROM principals WHERE arn = $1${forUpdate}`, [arn]))[0];
    },
    async listPrincipals(accountId, kind) {
      return docs<PrincipalRecord>("SELECT doc FROM principals WHERE account_id = $1 AND kind = $2 ORDER BY name", [accountId, kind]);
    },
    async getAuditHead() {
      return toAuditRow(await one("SELECT * FROM audit_rows ORDER BY seq DESC LIMIT 1", []));
    },
    async listAuditRows(fromSeq, limit) {
      return (await exec("SELECT * FROM audit_rows WHERE seq >= $1 ORDER BY seq LIMIT $2", [fromSeq, limit])).map((r) => toAuditRow(r)!);
    },
    async queryAuditEvents(q) {
      const { text, args } = auditEventsQuery(q);
      return (await exec(numberedParameters(text), args)).map((r) => toAuditRow(r)!);
    },
    async listAuditCheckpoints() {
      return (await exec("SELECT seq, hash, time, signature FROM audit_checkpoints ORDER BY seq", [])).map((r) => ({
        seq: r.seq as number,
        hash: r.hash as string,
        time: r.time as number,
        signature: r.signature as string,
      }));
    },
    async listDueAlerts(now, limit) {
      return docs<AlertDelivery>("SELECT doc FROM alert_outbox WHERE next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2", [now, limit]);
    },
    async hasRead(principalArn, resourceArn) {
      return (await one("SELECT 1 AS hit FROM audit_reads WHERE principal_arn = $1 AND resource_arn = $2", [principalArn, resourceArn])) !== undefined;
    },
    async getParameter(arn) {
      return (await docs<ParameterRecord>(`SELECT doc FROM parameters WHERE arn = $1${forUpdate}`, [arn]))[0];
    },
    async listParametersByPath(accountId, path, { recursive, after, limit }) {
      const { text, args } = parametersByPathQuery(POSTGRES, accountId, path, recursive, after, limit);
      return docs<ParameterRecord>(numberedParameters(text), args);
    },
    async listParametersDue(now, limit) {
      return docs<ParameterRecord>("SELECT doc FROM parameters WHERE due_at IS NOT NULL AND due_at <= $1 ORDER BY due_at LIMIT $2", [now, limit]);
    },
    async getParameterVersion(parameterArn, v) {
      return parameterVersion(await one("SELECT * FROM parameter_versions WHERE parameter_arn = $1 AND version = $2", [parameterArn, v]));
    },
    async getParameterVersionByLabel(parameterArn, label) {
      return parameterVersion(
        await one(
          `SELECT v.* FROM parameter_labels l JOIN parameter_versions v
             ON v.parameter_arn = l.parameter_arn AND v.version = l.version
           WHERE l.parameter_arn = $1 AND l.label = $2`,
          [parameterArn, label],
        ),
      );
    },
    async listParameterVersions(parameterArn) {
      const rows = await exec("SELECT * FROM parameter_versions WHERE parameter_arn = $1 ORDER BY version DESC", [parameterArn]);
      const labels = grouped<number>(
        await exec("SELECT version, label FROM parameter_labels WHERE parameter_arn = $1 ORDER BY label", [parameterArn]),
        "version",
        "label",
      );
      return rows.map((r) => toParameterVersion(r, labels.get(r.version as number) ?? []));
    },
  };
}

/** The transaction's reads and writes on one connection; `counted` is called before a write that moves the change counter. */
function postgresTx(conn: pg.PoolClient, counted: () => void): StoreTx {
  const exec: Exec = (text, args) => query(conn, text, args);
  const run = async (text: string, args: unknown[]) => void (await exec(text, args));
  const writes: Omit<StoreTx, keyof StoreReader> = {
    ...sqlReplicationWrites(exec as RunSql),
    async putSecret(s) {
      await run(
        `INSERT INTO secrets (arn, account_id, name, purge_at, rotate_at, doc) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (arn) DO UPDATE SET name = excluded.name, purge_at = excluded.purge_at,
           rotate_at = excluded.rotate_at, doc = excluded.doc`,
        [s.arn, s.accountId, s.name, s.purgeAt ?? null, s.rotateAt ?? null, JSON.stringify(s)],
      );
    },
    async deleteSecret(arn) {
      await run("DELETE FROM version_stages WHERE secret_arn = $1", [arn]);
      await run("DELETE FROM versions WHERE secret_arn = $1", [arn]);
      await run("DELETE FROM secrets WHERE arn = $1", [arn]);
    },
    async putVersion(v) {
      await run(
        `INSERT INTO versions (secret_arn, version_id, created_at, key_arn, value_kind, last_accessed_at, sealed_value, wrapped_data_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (secret_arn, version_id) DO UPDATE SET key_arn = excluded.key_arn,
           value_kind = excluded.value_kind, last_accessed_at = excluded.last_accessed_at,
           sealed_value = excluded.sealed_value, wrapped_data_key = excluded.wrapped_data_key`,
        [v.secretArn, v.versionId, v.createdAt, v.keyArn, v.valueKind, v.lastAccessedAt ?? null, v.sealedValue ?? null, v.wrappedDataKey ?? null],
      );
      await run("DELETE FROM version_stages WHERE secret_arn = $1 AND version_id = $2", [v.secretArn, v.versionId]);
      // A label sits on one version only: writing it here moves it from wherever it was.
      for (const stage of v.stages) {
        await run(
          `INSERT INTO version_stages (secret_arn, stage, version_id) VALUES ($1, $2, $3)
           ON CONFLICT (secret_arn, stage) DO UPDATE SET version_id = excluded.version_id`,
          [v.secretArn, stage, v.versionId],
        );
      }
    },
    async deleteVersion(secretArn, versionId) {
      await run("DELETE FROM version_stages WHERE secret_arn = $1 AND version_id = $2", [secretArn, versionId]);
      await run("DELETE FROM versions WHERE secret_arn = $1 AND version_id = $2", [secretArn, versionId]);
    },
    async putKey(k) {
      await run(
        `INSERT INTO keys (key_id, arn, account_id, created_at, master_key_id, sealed_material, meta)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (key_id) DO UPDATE SET master_key_id = excluded.master_key_id,
           sealed_material = excluded.sealed_material, meta = excluded.meta`,
        [k.keyId, k.arn, k.accountId, k.createdAt, k.masterKeyId, k.sealedMaterial, JSON.stringify(k.meta)],
      );
    },
    async putAlias(a) {
      await run(
        `INSERT INTO aliases (account_id, alias_name, key_id) VALUES ($1, $2, $3)
         ON CONFLICT (account_id, alias_name) DO UPDATE SET key_id = excluded.key_id`,
        [a.accountId, a.aliasName, a.keyId],
      );
    },
    async deleteAlias(accountId, aliasName) {
      await run("DELETE FROM aliases WHERE account_id = $1 AND alias_name = $2", [accountId, aliasName]);
    },
    async putAccessKey(k) {
      await run(
        `INSERT INTO access_keys (access_key_id, principal_arn, account_id, status, created_at, master_key_id,
           sealed_secret, expires_at, session)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (access_key_id) DO UPDATE SET status = excluded.status, master_key_id = excluded.master_key_id,
           sealed_secret = excluded.sealed_secret, expires_at = excluded.expires_at, session = excluded.session`,
        accessKeyParams(k),
      );
    },
    async deleteAccessKey(accessKeyId) {
      await run("DELETE FROM access_keys WHERE access_key_id = $1", [accessKeyId]);
    },
    async putSetting(name, value) {
      await run("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value", [name, value]);
    },
    async putPrincipal(p) {
      await run(
        `INSERT INTO principals (arn, account_id, kind, name, doc) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (arn) DO UPDATE SET doc = excluded.doc`,
        [p.arn, p.accountId, p.kind, p.name, JSON.stringify(p)],
      );
    },
    async deletePrincipal(arn) {
      await run("DELETE FROM principals WHERE arn = $1", [arn]);
    },
    ...sqlIamPolicyWrites({ run: (text, args) => run(numberedParameters(text), args) }),
    async appendAuditRows(rows) {
      for (const r of rows) {
        await run(
          `INSERT INTO audit_rows (seq, kind, time, event_id, event_name, event_source, account_ids, username,
             access_key_id, read_only, resources, record, prev_hash, hash)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
          auditRowParams(r),
        );
      }
    },
    async putAuditCheckpoint(c) {
      await run(
        `INSERT INTO audit_checkpoints (seq, hash, time, signature) VALUES ($1, $2, $3, $4)
         ON CONFLICT (seq) DO UPDATE SET hash = excluded.hash, time = excluded.time, signature = excluded.signature`,
        [c.seq, c.hash, c.time, c.signature],
      );
    },
    async deleteAuditRowsThrough(seq) {
      await run("DELETE FROM audit_rows WHERE seq <= $1", [seq]);
      await run("DELETE FROM audit_checkpoints WHERE seq <= $1", [seq]);
    },
    async putAlertDelivery(d) {
      await run(
        `INSERT INTO alert_outbox (id, next_attempt_at, doc) VALUES ($1, $2, $3)
         ON CONFLICT (id) DO UPDATE SET next_attempt_at = excluded.next_attempt_at, doc = excluded.doc`,
        [d.id, d.nextAttemptAt, JSON.stringify(d)],
      );
    },
    async deleteAlertDelivery(id) {
      await run("DELETE FROM alert_outbox WHERE id = $1", [id]);
    },
    async markRead(principalArn, resourceArn) {
      await run("INSERT INTO audit_reads (principal_arn, resource_arn) VALUES ($1, $2) ON CONFLICT DO NOTHING", [principalArn, resourceArn]);
    },
    async putParameter(p) {
      await run(
        `INSERT INTO parameters (arn, account_id, name, due_at, doc) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (arn) DO UPDATE SET name = excluded.name, due_at = excluded.due_at, doc = excluded.doc`,
        [p.arn, p.accountId, p.name, p.dueAt ?? null, JSON.stringify(p)],
      );
    },
    async deleteParameter(arn) {
      await run("DELETE FROM parameter_labels WHERE parameter_arn = $1", [arn]);
      await run("DELETE FROM parameter_versions WHERE parameter_arn = $1", [arn]);
      await run("DELETE FROM parameters WHERE arn = $1", [arn]);
    },
    async putParameterVersion(v) {
      const { labels, sealedValue, wrappedDataKey, ...doc } = v;
      await run(
        `INSERT INTO parameter_versions (parameter_arn, version, sealed_value, wrapped_data_key, doc) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (parameter_arn, version) DO UPDATE SET sealed_value = excluded.sealed_value,
           wrapped_data_key = excluded.wrapped_data_key, doc = excluded.doc`,
        [v.parameterArn, v.version, sealedValue ?? null, wrappedDataKey ?? null, JSON.stringify(doc)],
      );
      await run("DELETE FROM parameter_labels WHERE parameter_arn = $1 AND version = $2", [v.parameterArn, v.version]);
      for (const label of labels) {
        await run(
          `INSERT INTO parameter_labels (parameter_arn, label, version) VALUES ($1, $2, $3)
           ON CONFLICT (parameter_arn, label) DO UPDATE SET version = excluded.version`,
          [v.parameterArn, label, v.version],
        );
      }
    },
    async deleteParameterVersion(parameterArn, v) {
      await run("DELETE FROM parameter_labels WHERE parameter_arn = $1 AND version = $2", [parameterArn, v]);
      await run("DELETE FROM parameter_versions WHERE parameter_arn = $1 AND version = $2", [parameterArn, v]);
    },
    ...postgresOidcWrites(exec),
  };
  for (const [name, write] of Object.entries(writes) as [string, (...a: unknown[]) => Promise<void>][]) {
    if (UNCACHED_WRITES.has(name)) continue;
    (writes as Record<string, unknown>)[name] = (...args: unknown[]) => (counted(), write(...args));
  }
  return { ...postgresReader(exec, true), ...writes };
}

/** The master key ids that sealed rows of the database (a check after a master key rotation). */
export async function postgresSealedKeyIds(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url, application_name: "coffer" });
  await client.connect();
  try {
    const { rows } = await client.query("SELECT DISTINCT master_key_id AS id FROM keys UNION SELECT DISTINCT master_key_id AS id FROM access_keys");
    return rows.map((r) => r.id as string);
  } finally {
    await client.end();
  }
}
