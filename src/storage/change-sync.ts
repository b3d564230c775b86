/**
 * Read-your-writes across nodes for a shared database: the database keeps a
 * change counter that every committed write moves (a row updated in the
 * writing transaction, so it moves exactly when the write becomes visible),
 * and a node compares it with the value it last saw before serving from
 * memory. A request needs a reading of the counter taken after it arrived
 * (an older reading may predate a write the client saw acknowledged), so
 * callers that arrive while a reading is on its way wait for the next one:
 * at most one query in flight and one queued, however many requests wait.
 */
export interface ChangeSync {
  /** Resolves after a reading of the counter that began after this call; rejects if that reading failed. */
  sync(): Promise<void>;
  onChange(listener: () => void): () => void;
  /** Tells the listeners that anything may have changed (e.g. a lost notification connection). */
  changed(): void;
  /** A reading of the counter taken elsewhere (an audit commit) that began after everything now waiting arrived. */
  observe(value: string): void;
  /** The last reading (undefined before the first). */
  current(): string | undefined;
}

export function createChangeSync(readCounter: () => Promise<string>): ChangeSync {
  const listeners = new Set<() => void>();
  let seen: string | undefined;
  let inFlight: Promise<void> | undefined;
  let queued: Promise<void> | undefined;

  function changed(): void {
    for (const listener of listeners) listener();
  }

  function observe(value: string): void {
    // Readings may come back out of order (a sync and an audit commit): the counter only grows.
    if (seen !== undefined && Number(value) <= Number(seen)) return;
    // The first reading also drops caches: what was cached before it was never checked.
    seen = value;
    changed();
  }

  async function read(): Promise<void> {
    observe(await readCounter());
  }

  function start(): Promise<void> {
    const reading = read().finally(() => {
      if (inFlight === reading) inFlight = undefined;
    });
    inFlight = reading;
    return reading;
  }

  return {
    sync() {
      if (!inFlight) return start();
      // The reading under way may have begun before this caller's write was acknowledged: wait for the next.
      queued ??= inFlight
        .catch(() => undefined)
        .then(() => {
          queued = undefined;
          return start();
        });
      return queued;
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    changed() {
      // A failed or lost connection may have hidden a change: the next reading must not match the old one.
      seen = undefined;
      changed();
    },
    observe,
    current: () => seen,
  };
}
