import { timingSafeEqual } from "node:crypto";
import type { AuditCheckpoint, Store } from "../storage/store.ts";
import type { Authorizer, Principal } from "../services/identity/identity-types.ts";
import { ANCHOR_SETTING, GENESIS_HASH, HEAD_SETTING, chainHash, signAnchor, signCheckpoint, type AuditAnchor } from "./audit-log.ts";

export type VerifyResult =
  | { ok: true; rows: number; firstSeq: number; lastSeq: number; checkpoints: number }
  | { ok: false; seq: number; problem: string };

function sameHex(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

/**
 * Walks the audit chain and names the first altered, removed or inserted
 * row. Every row must follow its predecessor (seq + 1, prevHash = its hash)
 * and hash to what it says; every signed checkpoint, and the signed head
 * written with each commit, must match the row at its seq. Rewriting the
 * chain needs the checkpoint key, which lives only with the master key. So
 * does moving the retention anchor: removing the oldest events and writing an
 * anchor after them fails its signature.
 */
export async function verifyAuditChain(
  store: Pick<Store, "listAuditRows" | "listAuditCheckpoints" | "getSetting">,
  key: Buffer,
): Promise<VerifyResult> {
  const anchorText = await store.getSetting(ANCHOR_SETTING);
  const anchor: AuditAnchor = anchorText ? (JSON.parse(anchorText) as AuditAnchor) : { seq: 0, hash: GENESIS_HASH };
  if (anchorText) {
    if (typeof anchor.signature !== "string") {
      return {
        ok: false,
        seq: anchor.seq,
        problem: `the retention anchor at event ${anchor.seq} is not signed: events before it were removed outside retention (an anchor from an older Coffer is signed when the server starts)`,
      };
    }
    if (!sameHex(signAnchor(key, anchor.seq, anchor.hash), anchor.signature)) {
      return { ok: false, seq: anchor.seq, problem: `the retention anchor at event ${anchor.seq} was forged or altered: events before it were removed` };
    }
  }
  const readHead = async (): Promise<AuditCheckpoint | undefined> => {
    const text = await store.getSetting(HEAD_SETTING);
    return text ? (JSON.parse(text) as AuditCheckpoint) : undefined;
  };
  const forged = (c: AuditCheckpoint) => !sameHex(signCheckpoint(key, c.seq, c.hash, c.time), c.signature);
  let head = await readHead();
  const checkpoints = await store.listAuditCheckpoints();
  const signedAt = new Map<number, AuditCheckpoint>(checkpoints.map((c) => [c.seq, c]));
  if (head) signedAt.set(head.seq, head);
  for (const c of signedAt.values()) {
    if (forged(c)) return { ok: false, seq: c.seq, problem: `the signed checkpoint at event ${c.seq} was forged or altered` };
  }

  let expectSeq = anchor.seq + 1;
  let prevHash = anchor.hash;
  let rows = 0;
  // Hashes of the rows past the head read first: a writer may commit rows and a newer head while we walk.
  const pastHead = new Map<number, string>();
  for (;;) {
    const batch = await store.listAuditRows(expectSeq, 1000);
    if (batch.length > 0) {
      for (const row of batch) {
        if (row.seq !== expectSeq) {
          return { ok: false, seq: expectSeq, problem: `event ${expectSeq}${row.seq - 1 > expectSeq ? ` to ${row.seq - 1}` : ""} removed` };
        }
        if (row.prevHash !== prevHash) {
          return { ok: false, seq: row.seq, problem: `event ${row.seq} does not follow event ${row.seq - 1}: an event was inserted or removed here` };
        }
        if (chainHash(row.prevHash, row.record) !== row.hash) {
          return { ok: false, seq: row.seq, problem: `event ${row.seq} was altered` };
        }
        const signed = signedAt.get(row.seq);
        if (signed && !sameHex(signed.hash, row.hash)) {
          return { ok: false, seq: row.seq, problem: `event ${row.seq} does not match its signed checkpoint: the chain was rewritten up to here` };
        }
        if (head && row.seq > head.seq) pastHead.set(row.seq, row.hash);
        prevHash = row.hash;
        expectSeq += 1;
        rows += 1;
      }
      continue;
    }
    const lastSeq = expectSeq - 1;
    if (!head || head.seq >= lastSeq) break;
    // Rows past the head: every writer commits its rows with their signed head in one transaction,
    // so a head read now covers them, unless they were put there by someone without the key.
    const newer = await readHead();
    if (!newer || newer.seq <= head.seq) {
      return { ok: false, seq: head.seq + 1, problem: `events ${head.seq + 1} to ${lastSeq} were appended without a signed head` };
    }
    if (forged(newer)) return { ok: false, seq: newer.seq, problem: `the signed checkpoint at event ${newer.seq} was forged or altered` };
    const hash = pastHead.get(newer.seq);
    if (hash !== undefined && !sameHex(newer.hash, hash)) {
      return { ok: false, seq: newer.seq, problem: `event ${newer.seq} does not match its signed checkpoint: the chain was rewritten up to here` };
    }
    // A head past the rows read so far: the walk goes on to it (its row is checked when it is read).
    if (hash === undefined) signedAt.set(newer.seq, newer);
    head = newer;
  }
  const lastSeq = expectSeq - 1;
  if (head && head.seq > lastSeq) {
    return { ok: false, seq: lastSeq + 1, problem: `events ${lastSeq + 1} to ${head.seq} removed from the end of the chain` };
  }
  return { ok: true, rows, firstSeq: anchor.seq + 1, lastSeq, checkpoints: checkpoints.length };
}

/**
 * The chain check as an authorised API (Coffer.VerifyAuditTrail, shown by the
 * web console): the caller needs `coffer:VerifyAuditTrail`. It walks the
 * whole chain, as `coffer audit verify` does on the data directory, so it
 * costs a read of every event: an operator's check, not a per-page call.
 */
export function createAuditVerification({
  store,
  key,
  authorizer,
}: {
  store: Pick<Store, "listAuditRows" | "listAuditCheckpoints" | "getSetting">;
  key: Buffer;
  authorizer: Authorizer;
}) {
  return {
    async verify(principal: Principal): Promise<VerifyResult> {
      await authorizer.authorize({ principal, action: "coffer:VerifyAuditTrail", resource: "*" });
      return verifyAuditChain(store, key);
    },
  };
}

export type AuditVerification = ReturnType<typeof createAuditVerification>;
