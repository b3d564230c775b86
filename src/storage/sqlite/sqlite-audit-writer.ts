import { once } from "node:events";
import { Worker } from "node:worker_threads";
import type { AuditEntry, AuditWriter } from "../store.ts";
import { threadGone } from "./sqlite-write-turn.mjs";

const WORKER_URL = new URL("./sqlite-audit-worker.mjs", import.meta.url);

type Ack = { ids: number[]; firstSeq: number; error?: undefined } | { ids: number[]; error: string };

interface InFlight {
  count: number;
  resolve(firstSeq: number): void;
  reject(err: Error): void;
}

export interface SqliteAuditWriter extends AuditWriter {
  /** Waits for what is in flight, then stops the thread and its connection. */
  close(): Promise<void>;
}

/**
 * The SQLite audit writer: a worker thread with its own connection to the
 * database file chains and commits the batches the audit log sends, one
 * message per flush. Sends do not wait for the previous commit: while the
 * thread syncs one group, the next queues up and goes into its next
 * transaction. If the thread dies, every batch it had not acknowledged fails
 * (the requests behind them fail closed) and the next batch starts a new
 * thread, which reads the chain's head from the database. The thread and the
 * main connection take turns to write through `turn` (sqlite-write-turn.mjs).
 */
export function createSqliteAuditWriter(path: string, key: Buffer, busyTimeoutMs: number, turn: Int32Array): SqliteAuditWriter {
  let worker: Worker | undefined;
  let nextId = 1;
  // Insertion order is send order, which is the order the thread acknowledges in.
  const inFlight = new Map<number, InFlight>();
  let idle: (() => void) | undefined;
  let closed = false;

  function start(): Worker {
    // The key is copied to the thread; the master key it was derived from never is.
    // A copy with its own memory: a Buffer may be a view of a shared pool, and cloning a view clones the whole pool.
    const w = new Worker(WORKER_URL, { workerData: { path, key: new Uint8Array(key), busyTimeoutMs, turn }, execArgv: [] });
    w.on("message", (ack: Ack) => settle(ack));
    w.on("error", (err) => lost(w, err));
    w.on("exit", (code) => lost(w, new Error(`the audit writer thread exited (code ${code})`)));
    return w;
  }

  function settle(ack: Ack): void {
    let seq = ack.error === undefined ? ack.firstSeq : 0;
    for (const id of ack.ids) {
      const p = inFlight.get(id);
      if (!p) continue;
      inFlight.delete(id);
      if (ack.error === undefined) {
        p.resolve(seq);
        seq += p.count;
      } else {
        p.reject(new Error(`audit write failed: ${ack.error}`));
      }
    }
    quiet();
  }

  function lost(w: Worker, err: Error): void {
    if (worker !== w) return;
    worker = undefined;
    threadGone(turn);
    // Committed or not, nobody can tell: these requests fail closed.
    for (const p of inFlight.values()) p.reject(new Error(`audit write failed: ${err.message}`));
    inFlight.clear();
    quiet();
  }

  /** An idle thread does not keep the process alive; a busy one does, until its batches are durable. */
  function quiet(): void {
    if (inFlight.size > 0) return;
    worker?.unref();
    idle?.();
    idle = undefined;
  }

  return {
    append(entries: readonly AuditEntry[], time: number): Promise<number> {
      if (closed) return Promise.reject(new Error("audit write failed: the store is closed"));
      worker ??= start();
      const id = nextId++;
      const done = new Promise<number>((resolve, reject) => inFlight.set(id, { count: entries.length, resolve, reject }));
      worker.ref();
      try {
        worker.postMessage({ id, time, entries });
      } catch (err) {
        inFlight.get(id)?.reject(new Error(`audit write failed: ${(err as Error).message}`));
        inFlight.delete(id);
        quiet();
      }
      return done;
    },

    async close(): Promise<void> {
      closed = true;
      if (inFlight.size > 0) await new Promise<void>((resolve) => (idle = resolve));
      const w = worker;
      if (!w) return;
      const exited = once(w, "exit");
      w.postMessage("close");
      await exited;
    },
  };
}
