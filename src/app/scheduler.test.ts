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
    { error: (obj) => errors.push((obj as { job: string }).job) },
  );
  scheduler.start();
  await new Promise((r) => setTimeout(r, 450));
  scheduler.stop();
  expect(runs.filter((r) => r === "fast").length).toBeGreaterThan(3);
  expect(runs.filter((r) => r === "rare").length).toBe(1);
  expect(maxSlow).toBe(1);
  expect(errors.filter((e) => e === "failing").length).toBeGreaterThan(2);
});
