import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { fixedScript, wrk, wrkWithCpu } from "./wrk.ts";

/**
 * Does fastify earn its cost on the hot path? The HTTP layer alone (bench/transport-server.ts),
 * fastify against node:http, same request (a signed GetSecretValue's headers and body), wrk at
 * 16 connections; requests/s and server CPU per request, each pair back to back, twice.
 */
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const script = fixedScript([
  {
    headers: {
      host: "127.0.0.1",
      "content-type": "application/x-amz-json-1.1",
      "x-amz-target": "secretsmanager.GetSecretValue",
      "x-amz-date": "20260101T000000Z",
      authorization: "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=" + "0".repeat(64),
    },
    body: JSON.stringify({ SecretId: "bench/db" }),
  },
]);

async function start(kind: string) {
  const file = fileURLToPath(new URL("./transport-server.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", file, kind], { stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise<string>((resolve) => child.stdout!.once("data", (d: Buffer) => resolve(d.toString().trim())));
  return { url, pid: child.pid!, stop: () => child.kill("SIGTERM") };
}

const out: Record<string, unknown>[] = [];
for (let round = 0; round < 2; round++) {
  for (const kind of ["fastify", "node"]) {
    const s = await start(kind);
    try {
      await wrk(s.url, script, 16, 2);
      out.push({ kind, ...(await wrkWithCpu(s.url, s.pid, script, 16, seconds)) });
    } finally {
      s.stop();
    }
  }
}
process.stdout.write(JSON.stringify({ bench: "transport", connections: 16, runs: out }) + "\n");
