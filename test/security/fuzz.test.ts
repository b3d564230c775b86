import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { runFuzz } from "../../bench/fuzz-core.ts";
import { seedKnown } from "../../bench/fuzz-seed.ts";
import { printedCredentials, spawnServer, type Spawned } from "../e2e/spawn.ts";

/**
 * The fuzzer's core (bench/fuzz.ts, `npm run fuzz` for the full 20,000) on a
 * fixed seed, against a real server process: no 5xx, no hang, no 2xx for a
 * request that is not correctly signed, and a server still serving at the end.
 * A failure prints its reproducer: `npm run fuzz -- --seed <seed> --only <index>`.
 */

const SEED = 12;
let server: Spawned;
let dataDir: string;
let exited = false;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "coffer-fuzz-test-"));
  server = await spawnServer(["--data-dir", dataDir, "--log-level", "warn"]);
  void server.exited.then(() => (exited = true));
}, 30_000);
afterAll(async () => {
  server?.child.kill("SIGTERM");
  await server?.exited;
  rmSync(dataDir, { recursive: true, force: true });
});

it("500 hostile requests: no 5xx, no hang, no unauthenticated success, still serving", async () => {
  const credentials = printedCredentials(server.output());
  await seedKnown(server.url, credentials);
  const summary = await runFuzz({ url: server.url, credentials, seed: SEED, count: 500, concurrency: 4, rps: 100, alive: () => !exited });
  expect(summary.failures, JSON.stringify(summary.failures, null, 1)).toEqual([]);
  expect(summary.healthy).toBe(true);
  expect(exited).toBe(false);
}, 120_000);
