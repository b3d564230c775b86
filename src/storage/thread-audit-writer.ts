import { once } from "node:events";
import { Worker } from "node:worker_threads";
import { StaleEpochError, type AuditEntry, type AuditWriter } from "./store.ts";

type Ack = { ids: number[]; firstSeq?: number; counter?: string; stale?: number[]; error?: undefined } | { ids: number[]; error: string };

interface InFlight {
  /** Entries of a batch; 0 for a counter reading. */
  count: number;
  reading: boolean;
  resolve(value: number | string): void;
  reject(err: Error): void;
}

export interface ThreadAuditWriter extends AuditWriter {
  /**
   * The database's change counter (PostgreSQL: postgres-store.ts), read by
   * the thread in a statement that starts after this call: in its next
   * commit's first round trip when batches are waiting, else on its own.
   * Under load, readings cost the event loop nothing but this message.
   */
  readCounter(): Promise<string>;
  /** Waits for what is in flight, then stops the thread and its connection. */
  close(): Promise<void>;
}

/**
 * An audit writer whose commits run in a worker thread with its own database
 * connection (the SQLite and PostgreSQL backends' threads), so chaining,
 * INSERTs and the commit's sync cost the event loop one message per flush.
 * Sends do not wait for the previous commit: while the thread commits one
 * group, the next queues up and goes into its next transaction. If the
 * thread dies, every batch it had not acknowledged fails (the requests
 * behind them fail closed) and the next batch starts a new thread, which
 * reads the chain's head from the database.
 *
 * The thread gets `workerData` plus `key` (a copy: the master key it was
 * derived from never goes there). It receives { id, time, entries } per
 * flush, or "close"; it answers { ids, firstSeq } once those batches are
 * durable (in the order sent), or { ids, error } when they may not be.
 * A thread that keeps a change counter also takes { id, read: "counter" }
 * and answers it in the same way, with `counter` (readCounter); it reports
 * the counter with every commit, and leaves out batches whose `validAt` is
 * no longer the counter, naming them in `stale`.
 */
export function createThreadAuditWriter(
  workerUrl: URL,
  workerData: Record<string, unknown>,
  key: Buffer,
  onLost: () => void = () => undefined,
  /** Each change counter reading the thread reports (PostgreSQL), before the calls it answers settle. */
  onCounter: (counter: string) => void = () => undefined,
): ThreadAuditWriter {
  let worker: Worker | undefined;
  let nextId = 1;
  // Insertion order is send order, which is the order the thread acknowledges in.
  const inFlight = new Map<number, InFlight>();
  let idle: (() => void) | undefined;
  let closed = false;

  function start(): Worker {
    // A copy with its own memory: a Buffer may be a view of a shared pool, and cloning a view clones the whole pool.
    const w = new Worker(workerUrl, { workerData: { ...workerData, key: new Uint8Array(key) }, execArgv: [] });
    w.on("message", (ack: Ack) => settle(ack));
    w.on("error", (err) => lost(w, err));
    w.on("exit", (code) => lost(w, new Error(`the audit writer thread exited (code ${code})`)));
    return w;
  }

  function settle(ack: Ack): void {
    let seq = ack.error === undefined ? (ack.firstSeq ?? 0) : 0;
    if (ack.error === undefined && ack.counter !== undefined) onCounter(ack.counter);
    for (const id of ack.ids) {
      const p = inFlight.get(id);
      if (!p) continue;
      inFlight.delete(id);
      if (ack.error === undefined && ack.stale?.includes(id)) {
        p.reject(new StaleEpochError());
      } else if (ack.error !== undefined) {
        p.reject(new Error(p.reading ? `cannot read the change counter: ${ack.error}` : `audit write failed: ${ack.error}`));
      } else if (p.reading) {
        p.resolve(ack.counter!);
      } else {
        p.resolve(seq);
        seq += p.count;
      }
    }
    quiet();
  }

  function lost(w: Worker, err: Error): void {
    if (worker !== w) return;
    worker = undefined;
    onLost();
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

  function send(reading: boolean, count: number, message: Record<string, unknown>): Promise<number | string> {
    if (closed) return Promise.reject(new Error("audit write failed: the store is closed"));
    worker ??= start();
    const id = nextId++;
    const done = new Promise<number | string>((resolve, reject) => inFlight.set(id, { count, reading, resolve, reject }));
    worker.ref();
    try {
      worker.postMessage({ id, ...message });
    } catch (err) {
      inFlight.get(id)?.reject(new Error(`audit write failed: ${(err as Error).message}`));
      inFlight.delete(id);
      quiet();
    }
    return done;
  }

  return {
    append(entries: readonly AuditEntry[], time: number, validAt?: string): Promise<number> {
      return send(false, entries.length, { time, entries, validAt }) as Promise<number>;
    },

    readCounter(): Promise<string> {
      return send(true, 0, { read: "counter" }) as Promise<string>;
    },

    async close(): Promise<void> {
      closed = true;
      if (inFlight.size > 0) await new Promise<void>((resolve) => (idle = resolve));
      const w = worker;
      if (!w) return;
      const exited = once(w, "exit");
      // An idle thread is unref'd: without this, a command with nothing else to do would exit before it closed.
      w.ref();
      w.postMessage("close");
      await exited;
    },
  };
}
