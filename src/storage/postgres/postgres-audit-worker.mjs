// The PostgreSQL audit writer thread (started through ../thread-audit-writer.ts
// by postgres-store.ts). It owns one connection, so the chain's hashing, its
// INSERTs and the commit's round trips happen here and the main thread's event
// loop keeps serving. Plain JavaScript, like the SQLite thread: a worker has no
// TypeScript loader.
//
// One chain for every node: each commit locks the audit_chain_lock row, reads
// the head the last committer (of any node) left, chains its entries after it
// and commits, so nodes take turns and the chain never forks. Batches that
// arrive while a commit runs go into the next one together (group commit).
// It also reads the change counter for the node's sync (postgres-store.ts):
// readings asked for while a commit runs are answered by the next commit's
// first round trip, so under load they cost no query of their own.
import { parentPort, workerData } from "node:worker_threads";
import pg from "pg";
import { ANCHOR_SETTING, HEAD_SETTING, auditRowParams, chainBatch, chainHead } from "../audit-chain.mjs";

const { url, key: keyBytes } = workerData;
const key = Buffer.from(keyBytes);
const pool = new pg.Pool({ connectionString: url, max: 1, application_name: "coffer-audit" });
// A connection that breaks, idle or checked out between two queries, must not end the thread:
// the next query fails instead, and the next commit reconnects.
pool.on("error", () => undefined);
pool.on("connect", (client) => client.on("error", () => undefined));

/** Takes the chain's lock, then reads where the chain continues (its last row, or the retention anchor). */
const HEAD_UNDER_LOCK = `BEGIN ISOLATION LEVEL READ COMMITTED;
  SELECT id FROM audit_chain_lock WHERE id = 1 FOR UPDATE;
  SELECT (SELECT row_to_json(r) FROM (SELECT seq, hash FROM audit_rows ORDER BY seq DESC LIMIT 1) r) AS last,
         (SELECT value FROM settings WHERE name = '${ANCHOR_SETTING}') AS anchor,
         (SELECT sum(n) FROM coffer_changes)::text AS counter`;

/** Rows per INSERT: 14 parameters each, well under PostgreSQL's 65535. */
const ROWS_PER_INSERT = 1000;

/**
 * Chains and commits the batches in one transaction; returns the first seq given and the change
 * counter. A batch sent with `validAt` (the epoch its request read memory at) goes in only if the
 * counter, read under the lock, still has that value; the others are returned as `stale`.
 */
async function commit(all) {
  const client = await pool.connect();
  let broken = false;
  try {
    // One round trip: the simple protocol runs the three statements in order, each with a fresh
    // snapshot, so the head is read by a statement that starts after the lock is held.
    const results = await client.query(HEAD_UNDER_LOCK);
    const { last, anchor, counter } = results[2].rows[0];
    const batches = all.filter((b) => b.validAt === undefined || b.validAt === counter);
    const stale = all.filter((b) => !batches.includes(b)).map((b) => b.id);
    if (batches.length === 0) {
      await client.query("ROLLBACK");
      return { counter, stale };
    }
    const entries = batches.length === 1 ? batches[0].entries : batches.flatMap((b) => b.entries);
    const head = chainHead(last ? { seq: Number(last.seq), hash: last.hash } : undefined, anchor ?? undefined);
    const { rows, signedHead, checkpoint } = chainBatch(head, entries, key, batches[batches.length - 1].time);
    // The rows, then the signed head and any checkpoint in the statement of the last chunk.
    for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
      const chunk = rows.slice(i, i + ROWS_PER_INSERT);
      const params = chunk.flatMap((row) => auditRowParams(row));
      const values = chunk.map((_, r) => `(${Array.from({ length: 14 }, (_, c) => `$${r * 14 + c + 1}`).join(", ")})`);
      const insert = `INSERT INTO audit_rows (seq, kind, time, event_id, event_name, event_source, account_ids, username,
          access_key_id, read_only, resources, record, prev_hash, hash) VALUES ${values.join(", ")}`;
      if (i + ROWS_PER_INSERT < rows.length) {
        await client.query(insert, params);
        continue;
      }
      const n = params.length;
      const mark = checkpoint
        ? `, mark AS (INSERT INTO audit_checkpoints (seq, hash, time, signature) VALUES ($${n + 3}, $${n + 4}, $${n + 5}, $${n + 6})
             ON CONFLICT (seq) DO UPDATE SET hash = excluded.hash, time = excluded.time, signature = excluded.signature)`
        : "";
      await client.query(
        `WITH chained AS (${insert})${mark}
         INSERT INTO settings (name, value) VALUES ($${n + 1}, $${n + 2}) ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
        [...params, HEAD_SETTING, JSON.stringify(signedHead), ...(checkpoint ? [checkpoint.seq, checkpoint.hash, checkpoint.time, checkpoint.signature] : [])],
      );
    }
    await client.query("COMMIT");
    return { firstSeq: head.seq + 1, counter, stale };
  } catch (err) {
    await client.query("ROLLBACK").catch(() => (broken = true));
    throw err;
  } finally {
    client.release(broken);
  }
}

let queued = [];
let running;
let closing = false;

async function readCounter() {
  const { rows } = await pool.query("SELECT sum(n)::text AS counter FROM coffer_changes");
  return { counter: rows[0].counter };
}

async function drain() {
  while (queued.length > 0) {
    const messages = queued;
    queued = [];
    const ids = messages.map((m) => m.id);
    const batches = messages.filter((m) => m.entries);
    try {
      parentPort.postMessage({ ids, ...(await (batches.length > 0 ? commit(batches) : readCounter())) });
    } catch (err) {
      parentPort.postMessage({ ids, error: err instanceof Error ? err.message : String(err) });
    }
  }
  running = undefined;
  if (closing) await close();
}

async function close() {
  await pool.end().catch(() => undefined);
  parentPort.close();
}

parentPort.on("message", (message) => {
  if (message === "close") {
    closing = true;
    if (!running) void close();
    return;
  }
  queued.push(message);
  running ??= drain();
});
