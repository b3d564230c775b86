import { expect, it } from "vitest";
import { createScheduler } from "./scheduler.ts";

it("runs each job at start and then on its own period, never overlapping itself, surviving failures", async () => {
  const runs: string[] = [];
  const errors: string[] = [];
  let slowRunning = 0;
  let maxSlow = 0;
  const scheduler = createScheduler(
    [
      { name: "fast", everySeconds: 0.05, run: async () => runs.push("fast") },
      {
        name: "slow",
        everySeconds: 0.05,
        run: async () => {
          slowRunning++;
          maxSlow = Math.max(maxSlow, slowRunning);
          await new Promise((r) => setTimeout(r, 200));
          slowRunning--;
          runs.push("slow");
        },
      },
      { name: "failing", everySeconds: 0.05, run: async () => Promise.reject(new Error("boom")) },
      { name: "rare", everySeconds: 3600, run: async () => runs.push("rare") },
    ],
    { log: { error: (obj) => errors.push((obj as { job: string }).job) } },
  );
  scheduler.start();
  await new Promise((r) => setTimeout(r, 450));
  await scheduler.stop();
  expect(runs.filter((r) => r === "fast").length).toBeGreaterThan(3);
  expect(runs.filter((r) => r === "rare").length).toBe(1);
  expect(maxSlow).toBe(1);
  expect(errors.filter((e) => e === "failing").length).toBeGreaterThan(2);
});

it("runs a singleton job only where its lease is held, and brings the node up to date before every job", async () => {
  const runs: string[] = [];
  const order: string[] = [];
  const leases = new Map([["job.purge", false], ["job.retention", true]]);
  const scheduler = createScheduler(
    [
      { name: "purge", everySeconds: 3600, singleton: true, run: async () => runs.push("purge") },
      { name: "retention", everySeconds: 3600, singleton: true, run: async () => (runs.push("retention"), order.push("run")) },
      { name: "rotations", everySeconds: 3600, run: async () => runs.push("rotations") },
    ],
    {
      log: { error: () => {} },
      sync: async () => void order.push("sync"),
      lease: async (name, ms) => {
        expect(ms).toBe(3 * 3600 * 1000);
        return leases.get(name)!;
      },
    },
  );
  scheduler.start();
  await scheduler.stop();
  expect(runs.sort()).toEqual(["retention", "rotations"]);
  // Two jobs ran (retention, rotations), each after a sync; the purge this node does not hold did not even sync.
  expect(order.filter((o) => o === "sync")).toHaveLength(2);
  expect(order.indexOf("sync")).toBeLessThan(order.indexOf("run"));
});
