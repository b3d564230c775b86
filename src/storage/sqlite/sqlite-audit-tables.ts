/**
 * The store's operations on the audit tables: the hash chain (audit_rows, audit_checkpoints),
 * the first-read marks (audit_reads) and the alert outbox. Kept out of sqlite-store.ts so that
 * file holds the connections, the transaction queue and the resource rows; sqlite-store.ts
 * spreads these into its reader and transaction objects, so the Store interface is unchanged.
 * The audit writer thread (sqlite-audit-writer.ts) shares the insert statements through
 * sqlite-audit-sql.mjs.
 */
import type Database from "better-sqlite3";
import type { AlertDelivery, StoreReader, StoreTx } from "../store.ts";
import { auditEventsQuery } from "../sql-queries.ts";
import { toAuditRow, type Row } from "../sql-rows.ts";
import { auditRowParams } from "../audit-chain.mjs";
import { INSERT_AUDIT_CHECKPOINT, INSERT_AUDIT_ROW } from "./sqlite-audit-sql.mjs";

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
      const { text, args } = auditEventsQuery(q);
      return (db.prepare(text).all(...args) as Row[]).map((r) => toAuditRow(r)!);
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
