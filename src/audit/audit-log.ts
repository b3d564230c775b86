import { createHash, createHmac, hkdfSync } from "node:crypto";
import { appendFile } from "node:fs/promises";
import type { AuditCheckpoint, AuditRow, Store } from "../storage/store.ts";
import type { CloudTrailEvent } from "./audit-types.ts";
import { usernameOf } from "./audit-event.ts";

export const GENESIS_HASH = "0".repeat(64);
/** A permanent signed checkpoint whenever a commit passes a multiple of this; the signed head moves with every commit. */
export const CHECKPOINT_EVERY = 1000;
export const HEAD_SETTING = "audit.head";
export const ANCHOR_SETTING = "audit.anchor";

export function chainHash(prevHash: string, record: string): string {
  return createHash("sha256").update(prevHash).update("\n").update(record).digest("hex");
}

/** The checkpoint signing key, derived from the master key so a copy of the database alone cannot forge one. */
export function checkpointKey(masterKey: Buffer): Buffer {
  return Buffer.from(hkdfSync("sha256", masterKey, Buffer.alloc(0), "coffer audit checkpoints", 32));
}

export function signCheckpoint(key: Buffer, seq: number, hash: string, time: number): string {
  return createHmac("sha256", key).update(`${seq}\n${hash}\n${time}`).digest("hex");
}

/**
 * The retention anchor: the last removed event, which the remaining chain
 * continues from. Its signature has its own label, so no checkpoint or head
 * signature (same key, same seq and hash) can be passed off as an anchor.
 */
export interface AuditAnchor {
  seq: number;
  hash: string;
  signature?: string;
}

export function signAnchor(key: Buffer, seq: number, hash: string): string {
  return createHmac("sha256", key).update(`coffer audit anchor\n${seq}\n${hash}`).digest("hex");
}

/** A row before it has its place in the chain. */
export type AuditEntry = Omit<AuditRow, "seq" | "prevHash" | "hash">;

export function entryOf(event: CloudTrailEvent, kind: "event" | "intent" = "event"): AuditEntry {
  const accountIds = new Set([event.recipientAccountId]);
  for (const r of event.resources ?? []) if (r.accountId) accountIds.add(r.accountId);
  const entry: AuditEntry = {
    kind,
    record: JSON.stringify(kind === "event" ? event : { intent: true, requestID: event.requestID, eventName: event.eventName, eventSource: event.eventSource, eventTime: event.eventTime, userIdentity: event.userIdentity }),
    time: Date.parse(event.eventTime),
    eventId: event.eventID,
    eventName: event.eventName,
    eventSource: event.eventSource,
    accountIds: [...accountIds],
    readOnly: event.readOnly,
    resources: (event.resources ?? []).map((r) => ({ type: r.type, name: r.ARN })),
  };
  const username = usernameOf(event.userIdentity);
  if (username !== undefined) entry.username = username;
  if (event.userIdentity.accessKeyId) entry.accessKeyId = event.userIdentity.accessKeyId;
  return entry;
}

interface AuditLogDeps {
  store: Pick<Store, "transaction" | "getAuditHead">;
  key: Buffer;
  clock: { now(): number };
  /** Optional JSON-lines copy of every event, written after it is committed. */
  filePath?: string;
  onFileError?: (err: Error) => void;
}

/**
 * The append-only, hash-chained audit log with group commit: entries from
 * concurrent requests wait together and are written in one transaction; each
 * append resolves only once its entry is durable, and rejects if it could not
 * be written, so the caller can fail closed.
 */
export function createAuditLog({ store, key, clock, filePath, onFileError }: AuditLogDeps) {
  let pending: { entry: AuditEntry; resolve: () => void; reject: (err: unknown) => void }[] = [];
  let flushing: Promise<void> | undefined;
  let head: { seq: number; hash: string } | undefined;

  async function flush(): Promise<void> {
    while (pending.length > 0) {
      const batch = pending;
      pending = [];
      try {
        const rows = await store.transaction(async (tx) => {
          if (!head) {
            const last = await tx.getAuditHead();
            const anchor = await tx.getSetting(ANCHOR_SETTING);
            head = last
              ? { seq: last.seq, hash: last.hash }
              : anchor
                ? (JSON.parse(anchor) as { seq: number; hash: string })
                : { seq: 0, hash: GENESIS_HASH };
          }
          let { seq, hash } = head;
          const out: AuditRow[] = [];
          for (const { entry } of batch) {
            seq += 1;
            const row: AuditRow = { seq, prevHash: hash, hash: chainHash(hash, entry.record), ...entry };
            hash = row.hash;
            out.push(row);
          }
          await tx.appendAuditRows(out);
          const time = clock.now();
          const signed: AuditCheckpoint = { seq, hash, time, signature: signCheckpoint(key, seq, hash, time) };
          if (Math.floor(seq / CHECKPOINT_EVERY) > Math.floor(head.seq / CHECKPOINT_EVERY)) await tx.putAuditCheckpoint(signed);
          await tx.putSetting(HEAD_SETTING, JSON.stringify(signed));
          return out;
        });
        const last = rows[rows.length - 1];
        head = { seq: last.seq, hash: last.hash };
        for (const p of batch) p.resolve();
        if (filePath) {
          const lines = rows.filter((r) => r.kind === "event").map((r) => `${r.record}\n`).join("");
          if (lines) appendFile(filePath, lines, { mode: 0o600 }).catch((err: Error) => onFileError?.(err));
        }
      } catch (err) {
        head = undefined; // re-read from the store next time: the failed batch may or may not be there
        for (const p of batch) p.reject(err);
      }
    }
  }

  // One flush at a time; whatever arrives meanwhile waits for the next (that is the group commit).
  function kick(): void {
    if (flushing || pending.length === 0) return;
    flushing = new Promise<void>((resolve) => setImmediate(resolve))
      .then(flush)
      .finally(() => {
        flushing = undefined;
        kick();
      });
  }

  return {
    /** Resolves once the entry is durable in the chain; rejects if it could not be written. */
    append(entry: AuditEntry): Promise<void> {
      const done = new Promise<void>((resolve, reject) => pending.push({ entry, resolve, reject }));
      kick();
      return done;
    },

    /** Waits for everything appended so far. */
    async drain(): Promise<void> {
      while (flushing) await flushing;
    },
  };
}

export type AuditLog = ReturnType<typeof createAuditLog>;
