import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { printedCredentials, spawnServer } from "../test/e2e/spawn.ts";
import { signedHeaders } from "../test/e2e/raw.ts";
import { startBare } from "./bare.ts";
import { fixedScript, wrk, wrkWithCpu } from "./wrk.ts";

/**
 * A focused run for profiling: one Coffer (log level as shipped unless
 * BENCH_LOG_LEVEL) and the bare server, replayed GetSecretValue with wrk at
 * FOCUS_CONNECTIONS (16) for BENCH_SECONDS (5). FOCUS_PROFILE=dir writes a
 * --cpu-prof of the server there; FOCUS_AUDIT=off serves without auditing. Prints one JSON line.
 */
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const connections = Number(process.env.FOCUS_CONNECTIONS ?? 16);
const profileDir = process.env.FOCUS_PROFILE;

const dataDir = mkdtempSync(join(tmpdir(), "coffer-focus-"));
const args = ["--data-dir", dataDir, ...(process.env.BENCH_LOG_LEVEL ? ["--log-level", process.env.BENCH_LOG_LEVEL] : [])];
const coffer = await spawnServer(args, { COFFER_AUDIT: process.env.FOCUS_AUDIT ?? "on" }, profileDir ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : []);
const bare = await startBare();
try {
  const credentials = printedCredentials(coffer.output());
  const sm = new SecretsManagerClient({ endpoint: coffer.url, region: "us-east-1", credentials });
  await sm.send(new CreateSecretCommand({ Name: "bench/db", SecretString: JSON.stringify({ username: "app", password: "x".repeat(32) }) }));
  const body = JSON.stringify({ SecretId: "bench/db" });
  const headers = await signedHeaders(coffer.url, { target: "secretsmanager.GetSecretValue", body, credentials });
  const script = fixedScript([{ headers, body }]);
  await wrk(coffer.url, script, connections, 2);
  const c = await wrkWithCpu(coffer.url, coffer.child.pid!, script, connections, seconds);
  const b = await wrkWithCpu(bare.url, bare.pid, script, connections, seconds);
  const cpuRatio = c.cpu_us_per_request && b.cpu_us_per_request ? Math.round((b.cpu_us_per_request / c.cpu_us_per_request) * 100) / 100 : undefined;
  process.stdout.write(JSON.stringify({ connections, coffer: c, bare: b, ratio: Math.round((c.rps / b.rps) * 100) / 100, cpu_ratio: cpuRatio }) + "\n");
} finally {
  coffer.child.kill("SIGTERM");
  bare.stop();
  await coffer.exited;
  rmSync(dataDir, { recursive: true, force: true });
}
