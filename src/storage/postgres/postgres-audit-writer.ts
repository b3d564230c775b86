import type pg from "pg";
import { ANCHOR_SETTING, HEAD_SETTING, auditRowParams, chainBatch, chainHead } from "../audit-chain.mjs";
import type { AuditEntry, AuditWriter } from "../store.ts";

interface Batch {
  entries: readonly AuditEntry[];
  time: number;
  resolve(firstSeq: number): void;
  reject(err: Error): void;
}

/** Rows per INSERT: 14 parameters each, well under PostgreSQL's 65535. */
const ROWS_PER_INSERT = 1000;

/**
 * The PostgreSQL audit writer. One chain for every node: each commit locks
 * the audit_chain_lock row, reads the head the last committer (of any node)
 * left, chains its entries after it and commits, so nodes take turns and
 * the chain never forks. Within a node, batches that arrive while a commit
 * runs go into the next one together (group commit: one transaction, one
 * WAL flush). The commit runs on its own connection, so the event loop only
 * waits on the network. A batch resolves when its rows are durable and
 * rejects when that is not known (the request behind it fails closed).
 */
export function createPostgresAuditWriter(pool: pg.Pool, key: Buffer): AuditWriter & { close(): Promise<void> } {
  let queued: Batch[] = [];
  let running: Promise<void> | undefined;
  let closed = false;

  async function commit(batches: Batch[]): Promise<number> {
    const entries = batches.length === 1 ? batches[0].entries : batches.flatMap((b) => b.entries);
    const client = await pool.connect();
    let broken = false;
    try {
      // READ COMMITTED: the head is read by a statement that starts after the lock is held, so it is the latest.
      await client.query("BEGIN ISOLATION LEVEL READ COMMITTED");
      await client.query("SELECT id FROM audit_chain_lock WHERE id = 1 FOR UPDATE");
      const { rows: heads } = await client.query(
        `SELECT (SELECT row_to_json(r) FROM (SELECT seq, hash FROM audit_rows ORDER BY seq DESC LIMIT 1) r) AS last,
                (SELECT value FROM settings WHERE name = $1) AS anchor`,
        [ANCHOR_SETTING],
      );
      const last = heads[0].last as { seq: number | string; hash: string } | null;
      const head = chainHead(last ? { seq: Number(last.seq), hash: last.hash } : undefined, heads[0].anchor ?? undefined);
      const { rows, signedHead, checkpoint } = chainBatch(head, entries, key, batches[batches.length - 1].time);
      for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
        const chunk = rows.slice(i, i + ROWS_PER_INSERT);
        const values = chunk.map((_, r) => `(${Array.from({ length: 14 }, (_, c) => `$${r * 14 + c + 1}`).join(", ")})`);
        await client.query(
          `INSERT INTO audit_rows (seq, kind, time, event_id, event_name, event_source, account_ids, username,
             access_key_id, read_only, resources, record, prev_hash, hash) VALUES ${values.join(", ")}`,
          chunk.flatMap((row) => auditRowParams(row)),
        );
      }
      if (checkpoint) {
        await client.query(
          `INSERT INTO audit_checkpoints (seq, hash, time, signature) VALUES ($1, $2, $3, $4)
           ON CONFLICT (seq) DO UPDATE SET hash = excluded.hash, time = excluded.time, signature = excluded.signature`,
          [checkpoint.seq, checkpoint.hash, checkpoint.time, checkpoint.signature],
        );
      }
      await client.query(
        "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        [HEAD_SETTING, JSON.stringify(signedHead)],
      );
      await client.query("COMMIT");
      return head.seq + 1;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => (broken = true));
      throw err;
    } finally {
      client.release(broken);
    }
  }

  async function drain(): Promise<void> {
    while (queued.length > 0) {
      const batches = queued;
      queued = [];
      try {
        let seq = await commit(batches);
        for (const b of batches) {
          b.resolve(seq);
          seq += b.entries.length;
        }
      } catch (err) {
        const failure = new Error(`audit write failed: ${(err as Error).message}`);
        for (const b of batches) b.reject(failure);
      }
    }
  }

  return {
    append(entries, time) {
      if (closed) return Promise.reject(new Error("audit write failed: the store is closed"));
      const done = new Promise<number>((resolve, reject) => queued.push({ entries, time, resolve, reject }));
      running ??= drain().finally(() => (running = undefined));
      return done;
    },
    async close() {
      closed = true;
      await running;
    },
  };
}
