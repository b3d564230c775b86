// The audit hash chain's format, shared by every writer of it: the audit log's
// transaction path (src/audit/audit-log.ts) and the SQLite writer thread
// (sqlite/sqlite-audit-worker.mjs). Plain JavaScript (types in
// audit-chain.d.mts) so that thread starts without a TypeScript loader: tsx
// registered in a worker costs its own loader thread and half a second.
import { createHash, createHmac } from "node:crypto";

export const GENESIS_HASH = "0".repeat(64);
/** A permanent signed checkpoint whenever a commit passes a multiple of this; the signed head moves with every commit. */
export const CHECKPOINT_EVERY = 1000;
export const HEAD_SETTING = "audit.head";
export const ANCHOR_SETTING = "audit.anchor";

export function chainHash(prevHash, record) {
  return createHash("sha256").update(prevHash).update("\n").update(record).digest("hex");
}

export function signCheckpoint(key, seq, hash, time) {
  return createHmac("sha256", key).update(`${seq}\n${hash}\n${time}`).digest("hex");
}

export function chainHead(last, anchorSetting) {
  if (last) return { seq: last.seq, hash: last.hash };
  if (anchorSetting) {
    const anchor = JSON.parse(anchorSetting);
    return { seq: anchor.seq, hash: anchor.hash };
  }
  return { seq: 0, hash: GENESIS_HASH };
}

export function chainBatch(head, entries, key, time) {
  let { seq, hash } = head;
  const rows = [];
  for (const entry of entries) {
    seq += 1;
    const row = { seq, prevHash: hash, hash: chainHash(hash, entry.record), ...entry };
    hash = row.hash;
    rows.push(row);
  }
  const signedHead = { seq, hash, time, signature: signCheckpoint(key, seq, hash, time) };
  const passed = Math.floor(seq / CHECKPOINT_EVERY) > Math.floor(head.seq / CHECKPOINT_EVERY);
  return passed ? { rows, signedHead, checkpoint: signedHead } : { rows, signedHead };
}

// A row's column values in the order of the SQL backends' audit_rows table (seq, kind, time, event_id,
// event_name, event_source, account_ids, username, access_key_id, read_only, resources, record, prev_hash, hash).
export function auditRowParams(r) {
  return [
    r.seq,
    r.kind,
    r.time,
    r.eventId,
    r.eventName,
    r.eventSource,
    `|${r.accountIds.join("|")}|`,
    r.username ?? null,
    r.accessKeyId ?? null,
    r.readOnly ? 1 : 0,
    JSON.stringify(r.resources),
    r.record,
    r.prevHash,
    r.hash,
  ];
}
