/**
 * The engine under SecretCache and ParameterCache: TTL, refresh ahead of
 * expiry, single flight per key, bounded stale-on-error, LRU.
 *
 * What callers may rely on:
 * - A hit is a Map lookup and a clock read: no request, and no promise for `peek`.
 * - Concurrent misses for one key share one load (single flight).
 * - A value is served for `ttlMs` after it was loaded. In the last
 *   `refreshAheadMs` of that time a read starts a background refresh and is
 *   still answered at once from the cache.
 * - After `ttlMs` a read waits for a fresh value. If that load fails with a
 *   transient error (network, 5xx, throttling) the old value is served for up
 *   to `maxStaleMs` past expiry, with retries backing off (1 s, doubling, at
 *   most 60 s). A definitive answer (not found, access denied, ...) evicts the
 *   entry and reaches the caller: a deleted secret or a revoked permission is
 *   never papered over.
 * - Errors from `load` propagate unchanged.
 */

export interface Clock {
  now(): number;
}

export interface CacheTimings {
  /** How long a fetched value is served (default 1 hour, as AWS's caching libraries). */
  ttlMs?: number;
  /** Refresh in the background this long before expiry (default 10% of ttlMs; 0 turns it off). */
  refreshAheadMs?: number;
  /** Serve the expired value this long past expiry while refreshes fail transiently (default 15 minutes; 0 turns it off). */
  maxStaleMs?: number;
  /** Entries kept; the least recently used goes first (default 1024, as AWS's caching libraries). */
  maxEntries?: number;
  /** Milliseconds since the epoch; injectable for tests (default Date.now). */
  clock?: Clock;
}

interface Slot<V> {
  value: V;
  refreshAt: number;
  expiresAt: number;
  /** Recency for LRU eviction: a counter, so ties cannot happen under a frozen clock. */
  used: number;
  load: () => Promise<V>;
  failures: number;
  /** After a transient failure, no new fetch before this time. */
  retryAt: number;
}

interface Flight<V> {
  promise: Promise<V>;
  /** Started by refresh(): a later refresh() joins it rather than starting another. */
  forced: boolean;
}

const BACKOFF_BASE_MS = 1000;
const BACKOFF_MAX_MS = 60_000;

/**
 * Whether an error may pass (network, server fault, throttling), so an old
 * value may stand in for a while. SDK errors carry `$fault` and `$metadata`.
 */
export function isTransientError(err: unknown): boolean {
  if (typeof err !== "object" || err === null) return true;
  const e = err as { $fault?: string; $metadata?: { httpStatusCode?: number }; name?: string };
  const status = e.$metadata?.httpStatusCode;
  if (status === 429 || /Throttl|TooManyRequests|RequestLimitExceeded/.test(e.name ?? "")) return true;
  if (e.$fault === "server" || (status !== undefined && status >= 500)) return true;
  if (e.$fault === "client" || status !== undefined) return false;
  return true;
}

/**
 * The TTL/LRU/single-flight engine under SecretCache and ParameterCache.
 * Keys are strings chosen by the caller; a value is whatever `load` resolves to.
 */
export class RefreshingCache<V> {
  private readonly slots = new Map<string, Slot<V>>();
  private readonly flights = new Map<string, Flight<V>>();
  private tick = 0;
  readonly ttlMs: number;
  readonly refreshAheadMs: number;
  readonly maxStaleMs: number;
  readonly maxEntries: number;
  readonly clock: Clock;

  constructor(options: CacheTimings = {}) {
    this.ttlMs = nonNegative("ttlMs", options.ttlMs ?? 3_600_000);
    this.refreshAheadMs = Math.min(this.ttlMs, nonNegative("refreshAheadMs", options.refreshAheadMs ?? this.ttlMs / 10));
    this.maxStaleMs = nonNegative("maxStaleMs", options.maxStaleMs ?? 15 * 60_000);
    this.maxEntries = options.maxEntries ?? 1024;
    if (!Number.isInteger(this.maxEntries) || this.maxEntries < 1) throw new RangeError("maxEntries must be a positive integer");
    this.clock = options.clock ?? { now: Date.now };
  }

  get size(): number {
    return this.slots.size;
  }

  /**
   * The value if it is fresh, else undefined; never waits. Near expiry it
   * starts a background refresh (its failure is kept for the next read).
   */
  peek(key: string): V | undefined {
    const slot = this.slots.get(key);
    if (slot === undefined) return undefined;
    const now = this.clock.now();
    if (now >= slot.expiresAt) return undefined;
    slot.used = ++this.tick;
    if (now >= slot.refreshAt && now >= slot.retryAt && !this.flights.has(key)) {
      this.fetch(key, slot.load, false).catch(() => {});
    }
    return slot.value;
  }

  /** The fresh value, else a fetch (shared with concurrent callers), else a stale value within bounds. */
  get(key: string, load: () => Promise<V>): Promise<V> {
    const hit = this.peek(key);
    return hit !== undefined ? Promise.resolve(hit) : this.miss(key, load);
  }

  /** Fetches now, bypassing the cache; concurrent refreshes of one key share one fetch. */
  refresh(key: string, load: () => Promise<V>): Promise<V> {
    return this.fetch(key, load, true);
  }

  /**
   * Calls `use` with the value; when that fails with an error `retryOn`
   * accepts (the credential was rotated since it was cached), calls `use`
   * once more with a newer value: one another caller already fetched (a
   * different version, by `sameVersion`), else a forced fetch shared with
   * every concurrent caller. Any other error, or a second failure, reaches
   * the caller.
   */
  async use<R>(
    key: string,
    load: () => Promise<V>,
    use: (value: V) => R | Promise<R>,
    retryOn: (err: unknown) => boolean,
    sameVersion: (a: V, b: V) => boolean,
  ): Promise<R> {
    const first = await this.get(key, load);
    try {
      return await use(first);
    } catch (err) {
      if (!retryOn(err)) throw err;
      const current = this.peek(key);
      const fresh = current !== undefined && !sameVersion(current, first) ? current : await this.refresh(key, load);
      return await use(fresh);
    }
  }

  /** Forgets one key (and ignores a fetch for it that is under way), or every key. */
  invalidate(key?: string): void {
    if (key === undefined) {
      this.slots.clear();
      this.flights.clear();
    } else {
      this.slots.delete(key);
      this.flights.delete(key);
    }
  }

  /** Forgets every key the predicate selects. */
  invalidateWhere(select: (key: string) => boolean): void {
    for (const key of [...this.slots.keys()]) if (select(key)) this.slots.delete(key);
    for (const key of [...this.flights.keys()]) if (select(key)) this.flights.delete(key);
  }

  private async miss(key: string, load: () => Promise<V>): Promise<V> {
    const stale = this.slots.get(key);
    if (stale !== undefined && this.clock.now() < stale.retryAt && this.withinStale(stale)) return stale.value;
    try {
      return await this.fetch(key, load, false);
    } catch (err) {
      const current = this.slots.get(key);
      if (current !== undefined && isTransientError(err) && this.withinStale(current)) return current.value;
      throw err;
    }
  }

  private withinStale(slot: Slot<V>): boolean {
    return this.clock.now() - slot.expiresAt <= this.maxStaleMs && this.maxStaleMs > 0;
  }

  private fetch(key: string, load: () => Promise<V>, forced: boolean): Promise<V> {
    const flight = this.flights.get(key);
    if (flight !== undefined && (flight.forced || !forced)) return flight.promise;
    const promise: Promise<V> = load().then(
      (value) => {
        if (this.flights.get(key)?.promise === promise) {
          this.flights.delete(key);
          this.store(key, value, load);
        }
        return value;
      },
      (err: unknown) => {
        if (this.flights.get(key)?.promise === promise) {
          this.flights.delete(key);
          this.failed(key, err);
        }
        throw err;
      },
    );
    this.flights.set(key, { promise, forced });
    return promise;
  }

  private store(key: string, value: V, load: () => Promise<V>): void {
    const now = this.clock.now();
    const fresh = !this.slots.has(key);
    this.slots.set(key, {
      value,
      expiresAt: now + this.ttlMs,
      refreshAt: this.refreshAheadMs > 0 ? now + this.ttlMs - this.refreshAheadMs : Infinity,
      used: ++this.tick,
      load,
      failures: 0,
      retryAt: 0,
    });
    if (fresh && this.slots.size > this.maxEntries) this.evictLeastRecentlyUsed();
  }

  private failed(key: string, err: unknown): void {
    const slot = this.slots.get(key);
    if (slot === undefined) return;
    if (!isTransientError(err)) {
      this.slots.delete(key);
      return;
    }
    slot.failures++;
    slot.retryAt = this.clock.now() + Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (slot.failures - 1));
  }

  /** O(entries), but only on an insert past the limit, which follows a network fetch anyway. */
  private evictLeastRecentlyUsed(): void {
    let oldestKey: string | undefined;
    let oldest = Infinity;
    for (const [key, slot] of this.slots) {
      if (slot.used < oldest) {
        oldest = slot.used;
        oldestKey = key;
      }
    }
    if (oldestKey !== undefined) this.slots.delete(oldestKey);
  }
}

function nonNegative(name: string, value: number): number {
  if (!(value >= 0) || !Number.isFinite(value)) throw new RangeError(`${name} must be a finite number >= 0`);
  return value;
}
