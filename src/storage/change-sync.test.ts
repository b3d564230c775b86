import { describe, expect, it } from "vitest";
import { createChangeSync } from "./change-sync.ts";

/** A counter whose readings the test answers one by one. */
function controlledCounter() {
  const pending: { resolve(v: string): void; reject(e: Error): void }[] = [];
  return {
    read: () => new Promise<string>((resolve, reject) => pending.push({ resolve, reject })),
    pending,
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe("change sync", () => {
  it("tells listeners on the first reading and whenever the counter moves, not when it stays", async () => {
    let value = "1";
    const sync = createChangeSync(async () => value);
    let changes = 0;
    sync.onChange(() => changes++);
    await sync.sync();
    expect(changes).toBe(1);
    await sync.sync();
    expect(changes).toBe(1);
    value = "2";
    await sync.sync();
    expect(changes).toBe(2);
  });

  it("takes readings made elsewhere (audit commits) into account, never moving back to an older one", async () => {
    const sync = createChangeSync(async () => "5");
    let changes = 0;
    sync.onChange(() => changes++);
    expect(sync.current()).toBeUndefined();
    sync.observe("7");
    expect([sync.current(), changes]).toEqual(["7", 1]);
    sync.observe("7");
    sync.observe("6");
    expect([sync.current(), changes]).toEqual(["7", 1]);
    // A sync whose reading was older than what was observed meanwhile keeps the newer epoch.
    await sync.sync();
    expect([sync.current(), changes]).toEqual(["7", 1]);
  });

  it("makes a caller that arrives during a reading wait for a reading begun after it", async () => {
    const counter = controlledCounter();
    const sync = createChangeSync(counter.read);
    const seen: string[] = [];
    sync.onChange(() => seen.push("change"));
    const first = sync.sync();
    expect(counter.pending).toHaveLength(1);
    let secondDone = false;
    const second = sync.sync().then(() => (secondDone = true));
    const third = sync.sync();
    // One reading in flight, one queued for both later callers: no second query yet.
    expect(counter.pending).toHaveLength(1);
    counter.pending[0].resolve("1");
    await first;
    await tick();
    expect(secondDone).toBe(false);
    expect(counter.pending).toHaveLength(2);
    counter.pending[1].resolve("2");
    await Promise.all([second, third]);
    expect(seen).toEqual(["change", "change"]);
  });

  it("rejects the callers of a failed reading and reads again next time", async () => {
    const counter = controlledCounter();
    const sync = createChangeSync(counter.read);
    const failed = sync.sync();
    counter.pending[0].reject(new Error("connection refused"));
    await expect(failed).rejects.toThrow("connection refused");
    const next = sync.sync();
    expect(counter.pending).toHaveLength(2);
    counter.pending[1].resolve("1");
    await next;
  });

  it("after changed(), the same counter value still counts as a change", async () => {
    const sync = createChangeSync(async () => "7");
    let changes = 0;
    sync.onChange(() => changes++);
    await sync.sync();
    sync.changed();
    expect(changes).toBe(2);
    await sync.sync();
    expect(changes).toBe(3);
  });
});
