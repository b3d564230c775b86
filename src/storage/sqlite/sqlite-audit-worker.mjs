// The audit writer thread (started by sqlite-audit-writer.ts). It owns its own
// connection to the database, so the chain's hashing, its INSERTs and the
// COMMIT's fsync happen here and the main thread's event loop keeps serving.
// Plain JavaScript: a worker has no TypeScript loader, and registering tsx in
// one costs a loader thread and half a second at every (re)start.
//
// Messages in: { id, time, entries } (one per flush of the main thread), or
// "close". Out: { ids, firstSeq } once those batches are durable, or
// { ids, error } when they may not be. Whatever queued up while a commit ran is
// taken with receiveMessageOnPort and committed together: one transaction, one
// fsync per group.
import { parentPort, receiveMessageOnPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import { ANCHOR_SETTING, HEAD_SETTING, auditRowParams, chainBatch, chainHead } from "../audit-chain.mjs";
import { giveThreadTurn, takeThreadTurn } from "./sqlite-write-turn.mjs";
import { GET_SETTING, INSERT_AUDIT_CHECKPOINT, INSERT_AUDIT_ROW, LAST_AUDIT_ROW, UPSERT_SETTING } from "./sqlite-audit-sql.mjs";

const { path, key: keyBytes, busyTimeoutMs, turn } = workerData;
const key = Buffer.from(keyBytes);
const db = new Database(path);
// The main connection set WAL on the file already; synchronous is per connection.
db.pragma("journal_mode = WAL");
db.pragma("synchronous = FULL");
db.pragma(`busy_timeout = ${Number(busyTimeoutMs)}`);

const lastRow = db.prepare(LAST_AUDIT_ROW);
const getSetting = db.prepare(GET_SETTING);
const insertRow = db.prepare(INSERT_AUDIT_ROW);
const insertCheckpoint = db.prepare(INSERT_AUDIT_CHECKPOINT);
const putSetting = db.prepare(UPSERT_SETTING);

/** Chains and commits the batches in one transaction; returns the first seq given. */
function commit(batches) {
  const entries = batches.length === 1 ? batches[0].entries : batches.flatMap((b) => b.entries);
  // The main connection's turn comes first when it is waiting; then IMMEDIATE takes the write lock
  // before the head is read, so it cannot go stale before the INSERTs.
  takeThreadTurn(turn, busyTimeoutMs);
  try {
    db.exec("BEGIN IMMEDIATE");
    // Re-read every time (an index lookup): a failed batch, a restart or retention on the main
    // connection may have moved it, and a cached head would fork the chain.
    const head = chainHead(lastRow.get(), getSetting.get(ANCHOR_SETTING)?.value);
    const { rows, signedHead, checkpoint } = chainBatch(head, entries, key, batches[batches.length - 1].time);
    for (const row of rows) insertRow.run(...auditRowParams(row));
    if (checkpoint) insertCheckpoint.run(checkpoint.seq, checkpoint.hash, checkpoint.time, checkpoint.signature);
    putSetting.run(HEAD_SETTING, JSON.stringify(signedHead));
    db.exec("COMMIT");
    return head.seq + 1;
  } catch (err) {
    if (db.inTransaction) db.exec("ROLLBACK");
    throw err;
  } finally {
    giveThreadTurn(turn);
  }
}

parentPort.on("message", (first) => {
  const batches = [];
  let closing = first === "close";
  if (!closing) {
    batches.push(first);
    for (let next = receiveMessageOnPort(parentPort); next; next = receiveMessageOnPort(parentPort)) {
      if (next.message === "close") {
        closing = true;
        break;
      }
      batches.push(next.message);
    }
  }
  if (batches.length > 0) {
    const ids = batches.map((b) => b.id);
    try {
      parentPort.postMessage({ ids, firstSeq: commit(batches) });
    } catch (err) {
      parentPort.postMessage({ ids, error: err instanceof Error ? err.message : String(err) });
    }
  }
  if (closing) {
    db.close();
    parentPort.close();
  }
});
