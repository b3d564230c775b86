import { createReadStream } from "node:fs";
import { mkdir, open } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { AuditRow, Store } from "../storage/store.ts";
import { ANCHOR_SETTING, chainHash, signAnchor, type AuditAnchor } from "./audit-log.ts";

/**
 * Retention: rows older than the cut-off are first written, with their
 * hashes, to a JSON-lines export (fsync'd), and only then removed; the last
 * exported row becomes the chain's anchor, so the chain stays verifiable
 * from the export's last hash onwards, and the export verifies on its own.
 * The anchor is signed with the audit key (derived from the master key): with
 * the database file alone, nobody can remove more events and move it on.
 */
export async function exportAndPrune(
  store: Pick<Store, "listAuditRows" | "transaction" | "getSetting">,
  {
    before,
    exportDir,
    key,
    maxSeq = Number.MAX_SAFE_INTEGER,
  }: { before: number; exportDir: string; key: Buffer; maxSeq?: number },
): Promise<{ file?: string; rows: number }> {
  const anchorText = await store.getSetting(ANCHOR_SETTING);
  const from = anchorText ? (JSON.parse(anchorText) as { seq: number }).seq + 1 : 1;
  const expiring: AuditRow[] = [];
  for (let next = from; ; ) {
    const batch = await store.listAuditRows(next, 1000);
    // Only an unbroken run from the start of the chain: every removed row must be in the export.
    const stop = batch.findIndex((r) => r.time >= before || r.seq > maxSeq);
    const old = stop === -1 ? batch : batch.slice(0, stop);
    expiring.push(...old);
    if (stop !== -1 || batch.length === 0) break;
    next = batch[batch.length - 1].seq + 1;
  }
  if (expiring.length === 0) return { rows: 0 };
  const first = expiring[0];
  const last = expiring[expiring.length - 1];
  await mkdir(exportDir, { recursive: true, mode: 0o700 });
  const file = join(exportDir, `audit-${String(first.seq).padStart(12, "0")}-${String(last.seq).padStart(12, "0")}.jsonl`);
  const handle = await open(file, "wx", 0o600);
  try {
    const lines = expiring.map((r) =>
      JSON.stringify({ seq: r.seq, kind: r.kind, time: r.time, prevHash: r.prevHash, hash: r.hash, record: r.record }),
    );
    await handle.writeFile(lines.join("\n") + "\n");
    await handle.sync();
  } finally {
    await handle.close();
  }
  await store.transaction(async (tx) => {
    await tx.deleteAuditRowsThrough(last.seq);
    const anchor: AuditAnchor = { seq: last.seq, hash: last.hash, signature: signAnchor(key, last.seq, last.hash) };
    await tx.putSetting(ANCHOR_SETTING, JSON.stringify(anchor));
  });
  return { file, rows: expiring.length };
}

/**
 * Coffer before signed anchors wrote them bare: the server signs such an
 * anchor once, at start, trusting it as it stands then (the operator's word).
 * Returns whether it signed one.
 */
export async function signLegacyAnchor(store: Pick<Store, "transaction">, key: Buffer): Promise<boolean> {
  return store.transaction(async (tx) => {
    const text = await tx.getSetting(ANCHOR_SETTING);
    if (!text) return false;
    const anchor = JSON.parse(text) as AuditAnchor;
    if (anchor.signature !== undefined) return false;
    const signed: AuditAnchor = { seq: anchor.seq, hash: anchor.hash, signature: signAnchor(key, anchor.seq, anchor.hash) };
    await tx.putSetting(ANCHOR_SETTING, JSON.stringify(signed));
    return true;
  });
}

/** Checks an export on its own: consecutive seqs, each row chained to the previous and hashing to what it says. */
export async function verifyExport(file: string): Promise<{ ok: true; firstSeq: number; lastSeq: number; lastHash: string } | { ok: false; seq: number; problem: string }> {
  let prev: { seq: number; hash: string } | undefined;
  let firstSeq = 0;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    if (!line) continue;
    const row = JSON.parse(line) as { seq: number; prevHash: string; hash: string; record: string };
    if (!prev) firstSeq = row.seq;
    if (prev && row.seq !== prev.seq + 1) return { ok: false, seq: prev.seq + 1, problem: `event ${prev.seq + 1} removed from the export` };
    if (prev && row.prevHash !== prev.hash) return { ok: false, seq: row.seq, problem: `event ${row.seq} does not follow event ${prev.seq}` };
    if (chainHash(row.prevHash, row.record) !== row.hash) return { ok: false, seq: row.seq, problem: `event ${row.seq} was altered` };
    prev = { seq: row.seq, hash: row.hash };
  }
  if (!prev) return { ok: false, seq: 0, problem: "the export is empty" };
  return { ok: true, firstSeq, lastSeq: prev.seq, lastHash: prev.hash };
}
