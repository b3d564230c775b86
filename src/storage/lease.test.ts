import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createLeases } from "./lease.ts";
import { openSqliteStore } from "./sqlite/sqlite-store.ts";
import type { Store } from "./store.ts";

const dir = mkdtempSync(join(tmpdir(), "coffer-lease-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Counts the store's transactions: the keeper should ask only when the answer can have changed. */
function counting(store: Store): { store: Store; count(): number } {
  let n = 0;
  return { store: { ...store, transaction: (fn) => (n++, store.transaction(fn)) }, count: () => n };
}

describe("lease keeper", () => {
  it("renews a held lease only after half its time, asks again for another's only after it expires, and releases on stop", async () => {
    const store = openSqliteStore(join(dir, "a.db"));
    let now = 10_000;
    const clock = { now: () => now };
    const a = counting(store);
    const b = counting(store);
    const nodeA = createLeases(a.store, "a", clock);
    const nodeB = createLeases(b.store, "b", clock);
    expect(await nodeA.hold("purge", 1000)).toBe(true);
    expect(await nodeB.hold("purge", 1000)).toBe(false);
    now += 400;
    expect(await nodeA.hold("purge", 1000)).toBe(true);
    expect(await nodeB.hold("purge", 1000)).toBe(false);
    expect([a.count(), b.count()]).toEqual([1, 1]);
    now += 200; // past half: A renews until 11,600
    expect(await nodeA.hold("purge", 1000)).toBe(true);
    expect(a.count()).toBe(2);
    now += 500; // B's knowledge (until 11,000) is out of date: it asks, and A still holds it
    expect(await nodeB.hold("purge", 1000)).toBe(false);
    expect(b.count()).toBe(2);
    await nodeA.releaseAll();
    now += 600; // B asks again once what it was told has run out, and gets it at once (released)
    expect(await nodeB.hold("purge", 1000)).toBe(true);
    await store.close();
  });
});
