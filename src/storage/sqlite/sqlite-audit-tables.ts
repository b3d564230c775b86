/**
 * The store's operations on the audit tables: the hash chain (audit_rows, audit_checkpoints),
 * the first-read marks (audit_reads) and the alert outbox. Kept out of sqlite-store.ts so that
 * file holds the connections, the transaction queue and the resource rows; sqlite-store.ts
 * spreads these into its reader and transaction objects, so the Store interface is unchanged.
 * The audit writer thread (sqlite-audit-writer.ts) shares the insert statements through
 * sqlite-audit-sql.mjs.
 */
import type Database from "better-sqlite3";
import type { AlertDelivery, AuditRow, StoreReader, StoreTx } from "../store.ts";
import { INSERT_AUDIT_CHECKPOINT, INSERT_AUDIT_ROW, auditRowParams } from "./sqlite-audit-sql.mjs";

type Row = Record<string, unknown>;
/** A connection's cached prepared statements (see statements() in sqlite-store.ts). */
type Statements = (sql: string) => Database.Statement;

type AuditReads = Pick<
  StoreReader,
  "getAuditHead" | "listAuditRows" | "queryAuditEvents" | "listAuditCheckpoints" | "listDueAlerts" | "hasRead"
>;
type AuditWrites = Pick<
  StoreTx,
  "appendAuditRows" | "putAuditCheckpoint" | "deleteAuditRowsThrough" | "putAlertDelivery" | "deleteAlertDelivery" | "markRead"
>;

export function sqliteAuditReads(db: Database.Database, sql: Statements): AuditReads {
  return {
    async getAuditHead() {
      return toAuditRow(sql("SELECT * FROM audit_rows ORDER BY seq DESC LIMIT 1").get() as Row | undefined);
    },
    async listAuditRows(fromSeq, limit) {
      return (sql("SELECT * FROM audit_rows WHERE seq >= ? ORDER BY seq LIMIT ?").all(fromSeq, limit) as Row[]).map(
        (r) => toAuditRow(r)!,
      );
    },
    async queryAuditEvents(q) {
      const where = ["kind = 'event'", "account_ids LIKE ?"];
      const args: unknown[] = [`%|${q.accountId}|%`];
      if (q.startTime !== undefined) (where.push("time >= ?"), args.push(q.startTime));
      if (q.endTime !== undefined) (where.push("time <= ?"), args.push(q.endTime));
      if (q.beforeSeq !== undefined) (where.push("seq < ?"), args.push(q.beforeSeq));
      if (q.attribute) {
        const column = {
          EventId: "event_id = ?",
          EventName: "event_name = ?",
          EventSource: "event_source = ?",
          Username: "username = ?",
          AccessKeyId: "access_key_id = ?",
          ReadOnly: "read_only = ?",
        }[q.attribute.key as string];
        if (column) {
          where.push(column);
          args.push(q.attribute.key === "ReadOnly" ? (q.attribute.value === "true" ? 1 : 0) : q.attribute.value);
        } else {
          // ResourceName / ResourceType: matched inside the JSON list of resources.
          where.push("resources LIKE ?");
          args.push(`%"${q.attribute.key === "ResourceType" ? "type" : "name"}":${JSON.stringify(q.attribute.value)}%`);
        }
      }
      args.push(q.limit);
      // Built from fixed fragments only; every value is a bound parameter.
      return (db.prepare(`SELECT * FROM audit_rows WHERE ${where.join(" AND ")} ORDER BY seq DESC LIMIT ?`).all(...args) as Row[]).map(
        (r) => toAuditRow(r)!,
      );
    },
    async listAuditCheckpoints() {
      return (sql("SELECT * FROM audit_checkpoints ORDER BY seq").all() as Row[]).map((r) => ({
        seq: r.seq as number,
        hash: r.hash as string,
        time: r.time as number,
        signature: r.signature as string,
      }));
    },
    async listDueAlerts(now, limit) {
      return (sql("SELECT doc FROM alert_outbox WHERE next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?").all(now, limit) as Row[]).map(
        (r) => JSON.parse(r.doc as string) as AlertDelivery,
      );
    },
    async hasRead(principalArn, resourceArn) {
      return sql("SELECT 1 FROM audit_reads WHERE principal_arn = ? AND resource_arn = ?").get(principalArn, resourceArn) !== undefined;
    },
  };
}

export function sqliteAuditWrites(sql: Statements): AuditWrites {
  return {
    async appendAuditRows(rows) {
      const insert = sql(INSERT_AUDIT_ROW);
      for (const r of rows) insert.run(...auditRowParams(r));
    },
    async putAuditCheckpoint(c) {
      sql(INSERT_AUDIT_CHECKPOINT).run(c.seq, c.hash, c.time, c.signature);
    },
    async deleteAuditRowsThrough(seq) {
      sql("DELETE FROM audit_rows WHERE seq <= ?").run(seq);
      sql("DELETE FROM audit_checkpoints WHERE seq <= ?").run(seq);
    },
    async putAlertDelivery(d) {
      sql("INSERT OR REPLACE INTO alert_outbox (id, next_attempt_at, doc) VALUES (?, ?, ?)").run(d.id, d.nextAttemptAt, JSON.stringify(d));
    },
    async deleteAlertDelivery(id) {
      sql("DELETE FROM alert_outbox WHERE id = ?").run(id);
    },
    async markRead(principalArn, resourceArn) {
      sql("INSERT OR IGNORE INTO audit_reads (principal_arn, resource_arn) VALUES (?, ?)").run(principalArn, resourceArn);
    },
  };
}

function toAuditRow(row: Row | undefined): AuditRow | undefined {
  if (!row) return undefined;
  const r: AuditRow = {
    seq: row.seq as number,
    kind: row.kind as AuditRow["kind"],
    time: row.time as number,
    eventId: row.event_id as string,
    eventName: row.event_name as string,
    eventSource: row.event_source as string,
    accountIds: (row.account_ids as string).split("|").filter(Boolean),
    readOnly: row.read_only === 1,
    resources: JSON.parse(row.resources as string) as AuditRow["resources"],
    record: row.record as string,
    prevHash: row.prev_hash as string,
    hash: row.hash as string,
  };
  if (row.username != null) r.username = row.username as string;
  if (row.access_key_id != null) r.accessKeyId = row.access_key_id as string;
  return r;
}
