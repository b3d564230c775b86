import { describe, expect, it } from "vitest";
import { createFailureLimiter } from "./failure-limiter.ts";

function clock(start = 0) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe("failure limiter", () => {
  it("lets a source fail `burst` times, then throttles it and refills at `ratePerSecond`", () => {
    const c = clock();
    const l = createFailureLimiter({ burst: 3, ratePerSecond: 2 }, c);
    expect([1, 2, 3].map(() => l.fail("a").throttled)).toEqual([false, false, false]);
    expect(l.fail("a").throttled).toBe(true);
    c.advance(500);
    expect(l.fail("a").throttled).toBe(false);
    expect(l.fail("a").throttled).toBe(true);
    // another source has its own bucket
    expect(l.fail("b").throttled).toBe(false);
  });

  it("summarises throttled requests once per interval per source, with their count", () => {
    const c = clock();
    const l = createFailureLimiter({ burst: 1, ratePerSecond: 0.001 }, c, { summaryEveryMs: 60_000 });
    l.fail("a");
    expect(l.fail("a").summarize).toEqual({ source: "a", count: 1 });
    for (let i = 0; i < 50; i++) expect(l.fail("a").summarize).toBeUndefined();
    c.advance(60_000);
    expect(l.fail("a").summarize).toEqual({ source: "a", count: 51 });
  });

  it("bounds a flood spread over many addresses with the global bucket and one global summary", () => {
    const c = clock();
    const l = createFailureLimiter({ burst: 2, ratePerSecond: 0.001 }, c);
    let allowed = 0;
    const summaries: unknown[] = [];
    for (let i = 0; i < 1000; i++) {
      const v = l.fail(`10.0.${i >> 8}.${i & 255}`);
      if (!v.throttled) allowed++;
      if (v.summarize) summaries.push(v.summarize);
    }
    expect(allowed).toBe(20);
    expect(summaries).toEqual([{ source: "*", count: 1 }]);
  });
});
