import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import autocannon from "autocannon";
import { printedCredentials, spawnServer } from "../test/e2e/spawn.ts";
import { signedHeaders } from "../test/e2e/raw.ts";

/**
 * `npm run bench`: signed GetSecretValue requests/s and p50/p99 latency at 16
 * and 64 keep-alive connections, for Coffer and for a bare node:http server
 * measured in the same run; prints one JSON line. BENCH_SECONDS sets the
 * duration of each measurement (default 10).
 */
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connectionCounts = [16, 64];

async function measure(url: string, headers: Record<string, string>, body: string, connections: number, duration = seconds) {
  const result = await autocannon({ url, method: "POST", headers, body, connections, duration, pipelining: 1 });
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${url}: ${result.non2xx} non-2xx responses, ${result.errors} errors`);
  }
  return { rps: Math.round(result.requests.average), p50_ms: result.latency.p50, p99_ms: result.latency.p99 };
}

async function startBare(): Promise<{ url: string; stop(): void }> {
  const script = fileURLToPath(new URL("./bare-server.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", script], { stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise<string>((resolve) => child.stdout!.once("data", (d: Buffer) => resolve(d.toString().trim())));
  return { url, stop: () => child.kill("SIGTERM") };
}

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), "coffer-bench-"));
  const coffer = await spawnServer(["--data-dir", dataDir, "--log-level", process.env.BENCH_LOG_LEVEL ?? "info"]);
  const bare = await startBare();
  try {
    const credentials = printedCredentials(coffer.output());
    const sm = new SecretsManagerClient({ endpoint: coffer.url, region: "us-east-1", credentials });
    await sm.send(new CreateSecretCommand({ Name: "bench/db", SecretString: JSON.stringify({ username: "app", password: "x".repeat(32) }) }));
    const body = JSON.stringify({ SecretId: "bench/db" });
    // One signed request, replayed: a signature stays valid for 15 minutes, as on AWS.
    const headers = await signedHeaders(coffer.url, { target: "secretsmanager.GetSecretValue", body, credentials });
    delete headers.host;

    const out: Record<string, unknown> = { bench: "GetSecretValue", seconds, node: process.version };
    for (const c of connectionCounts) {
      await measure(coffer.url, headers, body, c, 2); // warm-up: JIT and caches
      const cofferRun = await measure(coffer.url, headers, body, c);
      const bareRun = await measure(bare.url, headers, body, c);
      out[`c${c}`] = { coffer: cofferRun, bare: bareRun, ratio: Math.round((cofferRun.rps / bareRun.rps) * 100) / 100 };
    }
    process.stdout.write(JSON.stringify(out) + "\n");
  } finally {
    coffer.child.kill("SIGTERM");
    bare.stop();
    await coffer.exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
