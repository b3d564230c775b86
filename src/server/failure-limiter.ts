/**
 * Token buckets for requests that fail before anyone is authenticated.
 *
 * Every request is audited, and an unauthenticated one costs a durable
 * (fsync'd) row: without a bound, anyone who can reach the port can fill the
 * disk and slow every other request behind the audit writer. Each source
 * address gets `burst` failures at once and `ratePerSecond` after that; past
 * that its failures are answered ThrottlingException and counted instead of
 * recorded one by one, and one summary row per source per `summaryEveryMs`
 * says how many were left out. A global bucket (10x the per-source one)
 * bounds a flood spread over many addresses. Authenticated requests never go
 * through here: they are always recorded (fail closed).
 */

export interface FailureLimit {
  burst: number;
  ratePerSecond: number;
}

export interface FailureVerdict {
  /** Answer ThrottlingException and do not record this request on its own. */
  throttled: boolean;
  /**
   * When set, record one summary event: `count` requests were throttled since
   * the last summary, from `source` (an address, or "*" for the global bucket).
   */
  summarize?: { source: string; count: number };
}

interface Bucket {
  tokens: number;
  at: number;
  suppressed: number;
  /** When the last summary for this source was written (-Infinity: never). */
  summarizedAt: number;
}

export interface FailureLimiter {
  /** Counts one failed unauthenticated request from `source`. */
  fail(source: string): FailureVerdict;
}

/** Sources remembered at most; the least recently failing ones are forgotten first. */
const MAX_SOURCES = 10_000;
/** How many times the per-source bucket the global one holds. */
const GLOBAL_FACTOR = 10;

export function createFailureLimiter(
  limit: FailureLimit,
  clock: { now(): number },
  opts: { summaryEveryMs?: number } = {},
): FailureLimiter {
  const summaryEveryMs = opts.summaryEveryMs ?? 60_000;
  const sources = new Map<string, Bucket>();
  const global: Bucket = { tokens: limit.burst * GLOBAL_FACTOR, at: clock.now(), suppressed: 0, summarizedAt: -Infinity };

  function refill(b: Bucket, burst: number, rate: number, now: number): void {
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rate);
    b.at = now;
  }

  return {
    fail(source) {
      const now = clock.now();
      let b = sources.get(source);
      if (b) {
        sources.delete(source); // re-inserted below: Map order is recency
      } else {
        b = { tokens: limit.burst, at: now, suppressed: 0, summarizedAt: -Infinity };
        if (sources.size >= MAX_SOURCES) sources.delete(sources.keys().next().value!);
      }
      sources.set(source, b);
      refill(b, limit.burst, limit.ratePerSecond, now);
      refill(global, limit.burst * GLOBAL_FACTOR, limit.ratePerSecond * GLOBAL_FACTOR, now);
      if (b.tokens >= 1 && global.tokens >= 1) {
        b.tokens -= 1;
        global.tokens -= 1;
        return { throttled: false };
      }
      // A source out of its own tokens is summarised on its own; one still within them
      // was stopped by the global bucket and goes in the global summary, so a flood from
      // many addresses writes one summary a minute, not one per address.
      const [bucket, label] = b.tokens < 1 ? [b, source] : [global, "*"];
      bucket.suppressed += 1;
      if (now - bucket.summarizedAt < summaryEveryMs) return { throttled: true };
      const count = bucket.suppressed;
      bucket.suppressed = 0;
      bucket.summarizedAt = now;
      return { throttled: true, summarize: { source: label, count } };
    },
  };
}
