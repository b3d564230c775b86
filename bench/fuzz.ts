import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { printedCredentials, spawnServer } from "../test/e2e/spawn.ts";
import { runFuzz } from "./fuzz-core.ts";
import { seedKnown } from "./fuzz-seed.ts";

/**
 * `npm run fuzz [-- --count N --seed S --only I --concurrency C --rps R]`:
 * starts a real `coffer server` process on a fresh data directory and sends
 * it N (default 20,000) hostile requests built from seed S (default: random,
 * printed). Prints one JSON line (counts by status and kind, and each failure
 * with seed + index to replay it with --only); exits 1 on any failure: a 5xx,
 * no answer within 20 s, a 2xx on a request not correctly signed, a server
 * that died or no longer serves a good request at the end.
 */
const { values } = parseArgs({
  options: {
    count: { type: "string", default: "20000" },
    seed: { type: "string" },
    only: { type: "string" },
    concurrency: { type: "string", default: "8" },
    rps: { type: "string", default: "150" },
  },
});
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
const only = values.only !== undefined ? Number(values.only) : undefined;
process.stderr.write(`fuzz: seed ${seed}${only !== undefined ? `, only request ${only}` : ""}\n`);

const dataDir = mkdtempSync(join(tmpdir(), "coffer-fuzz-"));
const server = await spawnServer(["--data-dir", dataDir, "--log-level", "warn"]);
let exited = false;
void server.exited.then(() => (exited = true));
let code = 1;
try {
  const credentials = printedCredentials(server.output());
  await seedKnown(server.url, credentials);
  const summary = await runFuzz({
    url: server.url,
    credentials,
    seed,
    count: only !== undefined ? 1 : Number(values.count),
    start: only ?? 0,
    concurrency: Number(values.concurrency),
    rps: Number(values.rps),
    alive: () => !exited,
  });
  process.stdout.write(JSON.stringify({ ...summary, serverExited: exited }) + "\n");
  code = summary.failures.length === 0 && summary.healthy && !exited ? 0 : 1;
  if (exited) process.stderr.write(`fuzz: the server exited:\n${server.output().slice(-4000)}\n`);
} finally {
  server.child.kill("SIGTERM");
  await server.exited;
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(code);
