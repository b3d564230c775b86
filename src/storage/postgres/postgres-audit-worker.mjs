// The PostgreSQL audit writer thread (started through ../thread-audit-writer.ts
// by postgres-store.ts). It owns one connection, so the chain's hashing, its
// INSERTs and the commit's round trips happen here and the main thread's event
// loop keeps serving. Plain JavaScript, like the SQLite thread: a worker has no
// TypeScript loader.
//
// One chain for every node: each commit reads the head the last committer (of
// any node) left and inserts its entries at the seqs after it; the chain's
// primary key makes a node that lost the race start again after the new head,
// so the chain never forks (commit() below). Batches that arrive while a
// commit runs go into the next one together (group commit). It also reads the
// change counter for the node's sync and epochs (postgres-store.ts): readings
// asked for while a commit runs are answered by the next commit's first round
// trip, so under load they cost no query of their own.
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

/** Where the chain continues (its last row, or the retention anchor), and the change counter: one statement. */
const HEAD = `SELECT (SELECT row_to_json(r) FROM (SELECT seq, hash FROM audit_rows ORDER BY seq DESC LIMIT 1) r) AS last,
  (SELECT value FROM settings WHERE name = '${ANCHOR_SETTING}') AS anchor,
  (SELECT sum(n) FROM coffer_changes)::text AS counter`;

/** Another node appending between our head read and our INSERT costs a retry; this many in a row is an error. */
const MAX_ATTEMPTS = 50;

/**
 * Chains and commits the batches; returns the first seq given and the change counter. Nodes take
 * turns through the chain's primary key: rows are inserted at the seqs after the head just read,
 * so if another node appended meanwhile the INSERT fails on a seq it took, nothing is written,
 * and the batch is chained again after the new head. No fork is possible and no lock is held
 * between round trips. A batch sent with `validAt` (the epoch its request read memory at) goes in
 * only if the counter, read after it arrived, still has that value; the others are `stale`.
 * Two round trips per commit: the head, then one autocommitted statement.
 */
async function commit(all) {
  const client = await pool.connect();
  let broken = false;
  try {
    for (let attempt = 1; ; attempt++) {
      const { last, anchor, counter } = (await client.query({ name: "coffer_audit_head", text: HEAD })).rows[0];
      const batches = all.filter((b) => b.validAt === undefined || b.validAt === counter);
      const stale = all.filter((b) => !batches.includes(b)).map((b) => b.id);
      if (batches.length === 0) return { counter, stale };
      const entries = batches.length === 1 ? batches[0].entries : batches.flatMap((b) => b.entries);
      const head = chainHead(last ? { seq: Number(last.seq), hash: last.hash } : undefined, anchor ?? undefined);
      const { rows, signedHead, checkpoint } = chainBatch(head, entries, key, batches[batches.length - 1].time);
      try {
        await write(client, rows, signedHead, checkpoint);
        return { firstSeq: head.seq + 1, counter, stale };
      } catch (err) {
        // 23505 on audit_rows' key: another node appended first. Anything else fails the batches.
        if (err?.code !== "23505" || attempt >= MAX_ATTEMPTS) throw err;
      }
    }
  } catch (err) {
    // A connection-level failure (no SQLSTATE): the connection is not reused.
    broken = err?.code === undefined;
    throw err;
  } finally {
    client.release(broken);
  }
}

/**
 * The rows (a column array each), the signed head and any checkpoint: one autocommitted statement
 * of one shape whatever the batch size, so PostgreSQL parses and plans it once per connection.
 */
const APPEND = `WITH chained AS (
    INSERT INTO audit_rows (seq, kind, time, event_id, event_name, event_source, account_ids, username,
      access_key_id, read_only, resources, record, prev_hash, hash)
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[],
      $8::text[], $9::text[], $10::smallint[], $11::text[], $12::text[], $13::text[], $14::text[])
  ), mark AS (
    INSERT INTO audit_checkpoints (seq, hash, time, signature)
    SELECT $17::bigint, $18::text, $19::bigint, $20::text WHERE $17::bigint IS NOT NULL
    ON CONFLICT (seq) DO UPDATE SET hash = excluded.hash, time = excluded.time, signature = excluded.signature
  )
  INSERT INTO settings (name, value) VALUES ($15, $16) ON CONFLICT (name) DO UPDATE SET value = excluded.value`;

async function write(client, rows, signedHead, checkpoint) {
  const columns = Array.from({ length: 14 }, () => new Array(rows.length));
  for (const [r, row] of rows.entries()) for (const [c, value] of auditRowParams(row).entries()) columns[c][r] = value;
  const mark = checkpoint ? [checkpoint.seq, checkpoint.hash, checkpoint.time, checkpoint.signature] : [null, null, null, null];
  await client.query({ name: "coffer_audit_append", text: APPEND, values: [...columns, HEAD_SETTING, JSON.stringify(signedHead), ...mark] });
}

async function readCounter() {
  const { rows } = await pool.query("SELECT sum(n)::text AS counter FROM coffer_changes");
  return { counter: rows[0].counter };
}

let queued = [];
let running;
let closing = false;

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
