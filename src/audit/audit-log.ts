import { createHmac, hkdfSync } from "node:crypto";
import { appendFile } from "node:fs/promises";
import { ANCHOR_SETTING, HEAD_SETTING, chainBatch, chainHead } from "../storage/audit-chain.mjs";
import type { AuditEntry, AuditRow, AuditWriter, Store } from "../storage/store.ts";
import type { CloudTrailEvent } from "./audit-types.ts";
import { usernameOf } from "./audit-event.ts";

// The chain's format lives with the storage that writes it (a writer thread chains rows too).
export { ANCHOR_SETTING, CHECKPOINT_EVERY, GENESIS_HASH, HEAD_SETTING, chainHash, signCheckpoint } from "../storage/audit-chain.mjs";
export type { AuditEntry } from "../storage/store.ts";

/** The checkpoint signing key, derived from the master key so a copy of the database alone cannot forge one. */
export function checkpointKey(masterKey: Buffer): Buffer {
  return Buffer.from(hkdfSync("sha256", masterKey, Buffer.alloc(0), "coffer audit checkpoints", 32));
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

/** An entry as committed: its place in the chain. */
export type CommittedAuditEntry = AuditEntry & { seq: number };

interface AuditLogDeps {
  store: Pick<Store, "transaction" | "getAuditHead" | "auditWriter">;
  key: Buffer;
  clock: { now(): number };
  /** Optional JSON-lines copy of every event, written after it is committed. */
  filePath?: string;
  onFileError?: (err: Error) => void;
  /** Told of every batch: how many entries, how long from hand-over to durable (or failed), and whether it committed (metrics). */
  onBatch?: (entries: number, seconds: number, ok: boolean) => void;
}

interface Pending {
  entry: AuditEntry;
  /** The store epoch the request read memory at (AuditWriter.append's validAt). */
  validAt?: string;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * The append-only, hash-chained audit log with group commit: entries from
 * concurrent requests wait together and are written in one transaction; each
 * append resolves only once its entry is durable, and rejects if it could not
 * be written, so the caller can fail closed.
 *
 * A store with its own audit writer (SQLite and PostgreSQL: a worker thread) gets one message
 * per turn of the event loop with everything appended during it, without
 * waiting for the previous commit: the writer chains and syncs off the loop,
 * folding whatever queued meanwhile into its next transaction. Other stores
 * (in-memory, as in unit tests) chain here, one transaction at a time.
 */
export function createAuditLog({ store, key, clock, filePath, onFileError, onBatch }: AuditLogDeps) {
  const writer: AuditWriter | undefined = store.auditWriter?.(key);
  let pending: Pending[] = [];
  /** The turn's flush, scheduled (writer) or running (transactions). */
  let flushing: Promise<void> | undefined;
  /** Batches handed to the writer and not yet settled. */
  const sent = new Set<Promise<void>>();
  let head: { seq: number; hash: string } | undefined;
  const listeners = new Set<(rows: readonly CommittedAuditEntry[]) => void>();
  /** Why the last batch failed, until one commits again (readiness). */
  let failure: string | undefined;
  let probing: Promise<void> | undefined;

  function settled(entries: number, started: number, err?: unknown): void {
    failure = err === undefined ? undefined : err instanceof Error ? err.message : String(err);
    // A probe (no entries) is no batch to count.
    if (entries > 0) onBatch?.(entries, (performance.now() - started) / 1000, err === undefined);
  }

  function committed(batch: Pending[], rows: readonly CommittedAuditEntry[]): void {
    for (const p of batch) p.resolve();
    for (const listener of listeners) {
      try {
        listener(rows);
      } catch {
        // A follower's failure is its own: the entries are durable and their requests answered.
      }
    }
    if (filePath) {
      let lines = "";
      for (const r of rows) if (r.kind === "event") lines += `${r.record}\n`;
      if (lines) appendFile(filePath, lines, { mode: 0o600 }).catch((err: Error) => onFileError?.(err));
    }
  }

  /** Writer path: hand the turn's entries over and let the next turn start at once (one call per epoch they were read at). */
  function send(): void {
    const all = pending;
    pending = [];
    if (all.length === 0) return;
    if (all.every((p) => p.validAt === all[0].validAt)) return sendBatch(all);
    const byEpoch = new Map<string | undefined, Pending[]>();
    for (const p of all) byEpoch.set(p.validAt, [...(byEpoch.get(p.validAt) ?? []), p]);
    for (const batch of byEpoch.values()) sendBatch(batch);
  }

  function sendBatch(batch: Pending[]): void {
    const entries = batch.map((p) => p.entry);
    const started = performance.now();
    const done = writer!.append(entries, clock.now(), batch[0].validAt).then(
      (firstSeq) => {
        settled(entries.length, started);
        // Rows with their seqs only for whoever follows the trail.
        committed(batch, listeners.size > 0 || filePath ? entries.map((e, i) => ({ ...e, seq: firstSeq + i })) : []);
      },
      (err: unknown) => {
        settled(entries.length, started, err);
        for (const p of batch) p.reject(err);
      },
    );
    sent.add(done);
    void done.finally(() => sent.delete(done));
  }

  /** Transaction path: one batch at a time, the head kept in memory between them. */
  async function flushInTransactions(): Promise<void> {
    while (pending.length > 0) {
      const batch = pending;
      pending = [];
      const started = performance.now();
      try {
        const rows = await store.transaction(async (tx) => {
          head ??= chainHead(await tx.getAuditHead(), await tx.getSetting(ANCHOR_SETTING));
          const time = clock.now();
          const chained = chainBatch(head, batch.map((p) => p.entry), key, time);
          await tx.appendAuditRows(chained.rows);
          if (chained.checkpoint) await tx.putAuditCheckpoint(chained.checkpoint);
          await tx.putSetting(HEAD_SETTING, JSON.stringify(chained.signedHead));
          return chained.rows;
        });
        const last: AuditRow = rows[rows.length - 1];
        head = { seq: last.seq, hash: last.hash };
        settled(batch.length, started);
        committed(batch, rows);
      } catch (err) {
        head = undefined; // re-read from the store next time: the failed batch may or may not be there
        settled(batch.length, started, err);
        for (const p of batch) p.reject(err);
      }
    }
  }

  /** An empty batch: proves the writer can take the lock, write and sync, without adding an event. */
  async function probe(): Promise<void> {
    const started = performance.now();
    try {
      if (writer) await writer.append([], clock.now());
      else {
        await store.transaction(async (tx) => {
          const current = chainHead(await tx.getAuditHead(), await tx.getSetting(ANCHOR_SETTING));
          await tx.putSetting(HEAD_SETTING, JSON.stringify(chainBatch(current, [], key, clock.now()).signedHead));
        });
      }
      settled(0, started);
    } catch (err) {
      settled(0, started, err);
    }
  }

  // Whatever arrives while a flush is scheduled or running waits for the next (that is the group commit).
  function kick(): void {
    if (flushing || pending.length === 0) return;
    const turn = new Promise<void>((resolve) => setImmediate(resolve));
    flushing = (writer ? turn.then(send) : turn.then(flushInTransactions)).finally(() => {
      flushing = undefined;
      kick();
    });
  }

  return {
    /**
     * Resolves once the entry is durable in the chain; rejects if it could not be written. With
     * `validAt` (a store epoch), rejects with StaleEpochError, writing nothing, if data changed since.
     */
    append(entry: AuditEntry, validAt?: string): Promise<void> {
      if (validAt !== undefined && !writer) return Promise.reject(new Error("audit: validAt needs the store's audit writer"));
      const done = new Promise<void>((resolve, reject) => pending.push({ entry, validAt, resolve, reject }));
      kick();
      return done;
    },

    /** Waits for everything appended so far. */
    async drain(): Promise<void> {
      while (flushing || sent.size > 0) {
        if (flushing) await flushing;
        else await Promise.allSettled([...sent]);
      }
    },

    /**
     * Undefined while the trail can be written; otherwise why the last batch
     * failed. A failed writer recovers with the next batch that commits (a
     * dead writer thread is restarted by it), so while one has failed this
     * first tries an empty batch: it takes the write lock, re-signs the
     * chain's head and commits, adding no event (readiness).
     */
    async unhealthy(): Promise<string | undefined> {
      if (failure === undefined) return undefined;
      probing ??= probe().finally(() => (probing = undefined));
      await probing;
      return failure;
    },

    /**
     * Calls `listener` with each group of entries once it is durable, in chain
     * order (the alert worker follows the trail this way instead of reading
     * it back). Returns the function that stops it.
     */
    onCommitted(listener: (rows: readonly CommittedAuditEntry[]) => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

export type AuditLog = ReturnType<typeof createAuditLog>;
