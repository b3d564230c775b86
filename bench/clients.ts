import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { CreateSecretCommand, GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { createAgent } from "../src/agent/agent-server.ts";
import { SecretCache } from "../src/client/secret-cache.ts";

/**
 * The client side's costs, each beside an uncached GetSecretValue through the
 * SDK (sequential, one connection) measured in the same run:
 * - a cache hit (peekSecretString, getSecretString) against a bare Map.get, in ns
 *   (aim: < 1 µs);
 * - an agent hit over loopback (sequential keep-alive GETs, the agent in this
 *   process), in µs (aim: agent p50 < 100 µs).
 * `benchClients` returns one object for bench.ts's JSON line; run this file
 * directly to print it alone (it starts its own Coffer).
 */

const HIT_ITERATIONS = 1_000_000;
const AGENT_REQUESTS = Number(process.env.BENCH_AGENT_REQUESTS ?? 20_000);
const SDK_REQUESTS = Number(process.env.BENCH_SDK_REQUESTS ?? 2_000);
const SECRET_ID = "bench/clients";

type Credentials = { accessKeyId: string; secretAccessKey: string };

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

function percentiles(samplesNs: number[]) {
  const sorted = [...samplesNs].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] / 1000;
  return { p50_us: round(at(50)), p99_us: round(at(99)), n: sorted.length };
}

/** ns per call of `fn`, over `iterations` calls (after a warm-up of a tenth as many). */
function nsPerCall(iterations: number, fn: () => unknown): number {
  let sink = 0;
  for (let i = 0; i < iterations / 10; i++) if (fn() !== undefined) sink++;
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) if (fn() !== undefined) sink++;
  const elapsed = Number(process.hrtime.bigint() - start);
  if (sink === 0) throw new Error("the benchmark read nothing");
  return round(elapsed / iterations, 1);
}

async function asyncNsPerCall(iterations: number, fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < iterations / 10; i++) await fn();
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) await fn();
  return round(Number(process.hrtime.bigint() - start) / iterations, 1);
}

/**
 * Sequential GETs on one keep-alive connection; latency per request in ns.
 * The client is a bare HTTP/1.1 exchange on a socket (one prepared request,
 * the answer read to its Content-Length), so the figure is the agent's and
 * the loopback's, not node:http's client (which alone costs ~100 µs a call).
 */
async function sequentialGets(url: string, path: string, headers: Record<string, string>, count: number): Promise<number[]> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  const head = Object.entries({ host: `${hostname}:${port}`, ...headers }).map(([k, v]) => `${k}: ${v}\r\n`).join("");
  const requestBytes = Buffer.from(`GET ${path} HTTP/1.1\r\n${head}\r\n`);
  let buffered: Buffer = Buffer.alloc(0);
  let waiting: { resolve: () => void; reject: (err: Error) => void } | undefined;
  socket.on("data", (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    const end = buffered.indexOf("\r\n\r\n");
    if (end < 0 || waiting === undefined) return;
    const header = buffered.subarray(0, end).toString("latin1");
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(header)?.[1] ?? 0);
    if (buffered.length < end + 4 + length) return;
    buffered = buffered.subarray(end + 4 + length);
    const done = waiting;
    waiting = undefined;
    if (header.startsWith("HTTP/1.1 200 ")) done.resolve();
    else done.reject(new Error(`answered ${header.slice(0, header.indexOf("\r\n"))}`));
  });
  const once = () =>
    new Promise<void>((resolve, reject) => {
      waiting = { resolve, reject };
      socket.write(requestBytes);
    });
  try {
    for (let i = 0; i < Math.min(2000, count / 5); i++) await once();
    const samples: number[] = [];
    for (let i = 0; i < count; i++) {
      const start = process.hrtime.bigint();
      await once();
      samples.push(Number(process.hrtime.bigint() - start));
    }
    return samples;
  } finally {
    socket.destroy();
  }
}

/** A bare node:http server answering every request with `body`: the floor under the agent on this machine. */
async function bareHttp(body: string): Promise<{ url: string; close(): void }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => server.close() };
}

export async function benchClients(url: string, credentials: Credentials): Promise<Record<string, unknown>> {
  const sm = new SecretsManagerClient({ endpoint: url, region: "us-east-1", credentials });
  await sm
    .send(new CreateSecretCommand({ Name: SECRET_ID, SecretString: JSON.stringify({ username: "app", password: "x".repeat(32) }) }))
    .catch((err: Error) => {
      if (err.name !== "ResourceExistsException") throw err;
    });

  // Cache hits, and a Map.get over the same key as the floor.
  const cache = new SecretCache({ client: sm });
  await cache.getSecretString(SECRET_ID);
  const map = new Map([[SECRET_ID, "value"]]);
  const mapGet = nsPerCall(HIT_ITERATIONS, () => map.get(SECRET_ID));
  const peek = nsPerCall(HIT_ITERATIONS, () => cache.peekSecretString(SECRET_ID));
  const get = await asyncNsPerCall(HIT_ITERATIONS, () => cache.getSecretString(SECRET_ID));

  // Agent hits over loopback, then the uncached SDK call they save.
  const token = randomBytes(16).toString("hex");
  const agent = createAgent({ port: 0, token, endpoint: url, region: "us-east-1", secretsClient: sm });
  const agentUrl = await agent.listen();
  const path = `/secretsmanager/get?secretId=${encodeURIComponent(SECRET_ID)}`;
  const headers = { "X-Aws-Parameters-Secrets-Token": token };
  let agentHit;
  let bareHit;
  try {
    const answer = await (await fetch(agentUrl + path, { headers })).text();
    agentHit = percentiles(await sequentialGets(agentUrl, path, headers, AGENT_REQUESTS));
    const bare = await bareHttp(answer);
    try {
      bareHit = percentiles(await sequentialGets(bare.url, path, headers, AGENT_REQUESTS));
    } finally {
      bare.close();
    }
  } finally {
    await agent.close();
  }
  const sdkSamples: number[] = [];
  for (let i = 0; i < SDK_REQUESTS / 10; i++) await sm.send(new GetSecretValueCommand({ SecretId: SECRET_ID }));
  for (let i = 0; i < SDK_REQUESTS; i++) {
    const start = process.hrtime.bigint();
    await sm.send(new GetSecretValueCommand({ SecretId: SECRET_ID }));
    sdkSamples.push(Number(process.hrtime.bigint() - start));
  }
  const sdk = percentiles(sdkSamples);
  sm.destroy();

  return {
    cache_hit: { iterations: HIT_ITERATIONS, peek_ns: peek, get_ns: get, map_get_ns: mapGet, target_ns: 1000 },
    agent_hit: { ...agentHit, target_p50_us: 100, bare_node_http_p50_us: bareHit.p50_us },
    sdk_uncached_get_secret_value: sdk,
    agent_speedup_p50: round(sdk.p50_us / agentHit.p50_us, 1),
    cache_speedup_p50: round((sdk.p50_us * 1000) / get, 0),
  };
}

/** `node --import tsx bench/clients.ts`: a Coffer of its own, then one JSON line. */
async function main() {
  const { spawnServer, printedCredentials } = await import("../test/e2e/spawn.ts");
  const dataDir = mkdtempSync(join(tmpdir(), "coffer-bench-clients-"));
  const coffer = await spawnServer(["--data-dir", dataDir, "--log-level", process.env.BENCH_LOG_LEVEL ?? "warn"]);
  try {
    const out = await benchClients(coffer.url, printedCredentials(coffer.output()));
    process.stdout.write(JSON.stringify({ bench: "clients", node: process.version, clients: out }) + "\n");
  } finally {
    coffer.child.kill("SIGTERM");
    await coffer.exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
