import { EventEmitter } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { createCoffer } from "../src/app/compose.ts";
import { loadConfig } from "../src/app/config.ts";
import { signedHeaders } from "../test/e2e/raw.ts";
import { fixedScript, wrk } from "./wrk.ts";

/**
 * The request pipeline apart from the socket: Coffer in this process, its own
 * request listener called with in-memory requests (fresh header objects and
 * body each time), INPROC_N of them, INPROC_CONCURRENCY (16) at a time.
 * Prints the main thread's and the whole process's CPU per request (µs):
 * what the pipeline costs without HTTP parsing and the socket write.
 * INPROC_WRK=1 loads the same in-process server through its socket with wrk
 * instead, for the difference. INPROC_AUDIT=off serves without auditing,
 * INPROC_METRICS=off without counting requests for /metrics.
 * INPROC_DATABASE_URL=postgres://... runs it on PostgreSQL (an empty database or schema).
 * Profile with `node --cpu-prof --import tsx bench/inproc.ts`.
 */
const n = Number(process.env.INPROC_N ?? 20000);
const concurrency = Number(process.env.INPROC_CONCURRENCY ?? 16);
const dataDir = mkdtempSync(join(tmpdir(), "coffer-inproc-"));
const config = loadConfig(
  {
    dataDir,
    port: 0,
    logLevel: "warn",
    audit: process.env.INPROC_AUDIT ?? "on",
    metrics: process.env.INPROC_METRICS ?? "on",
    databaseUrl: process.env.INPROC_DATABASE_URL,
  } as never,
  {},
);
const coffer = await createCoffer(config);
const url = await coffer.start();
const credentials = { accessKeyId: coffer.adminKey!.accessKeyId, secretAccessKey: coffer.adminKey!.secretAccessKey };
const sm = new SecretsManagerClient({ endpoint: url, region: config.region, credentials });
await sm.send(new CreateSecretCommand({ Name: "bench/db", SecretString: JSON.stringify({ username: "app", password: "x".repeat(32) }) }));
const body = JSON.stringify({ SecretId: "bench/db" });
const headers = Object.fromEntries(
  Object.entries(await signedHeaders(url, { target: "secretsmanager.GetSecretValue", body, credentials })).map(([k, v]) => [k.toLowerCase(), v]),
);
const listener = coffer.server.server.listeners("request")[0] as (req: unknown, res: unknown) => void;

/** One request through the listener, with objects shaped like node's IncomingMessage and ServerResponse as far as Coffer reads them. */
function one(): Promise<number> {
  return new Promise((resolve) => {
    const req = Object.assign(new EventEmitter(), {
      method: "POST",
      url: "/",
      headers: { ...headers },
      headersDistinct: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
      socket: { remoteAddress: "127.0.0.1" },
    });
    let status = 0;
    const res = { headersSent: false, writeHead: (s: number) => void (status = s), end: () => resolve(status), once() {}, destroy() {} };
    listener(req, res);
    req.emit("data", Buffer.from(body));
    req.emit("end");
  });
}

/** The main thread's CPU seconds so far (its task in /proc has the process id). */
function mainThreadCpu(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function inMemory(count: number): Promise<void> {
  let left = count;
  const worker = async () => {
    while (left-- > 0) if ((await one()) !== 200) throw new Error("a request was not answered 200");
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

try {
  let requests: number;
  let extra: object = {};
  const measure = async (fn: () => Promise<number>) => {
    const m0 = mainThreadCpu();
    const c0 = process.cpuUsage();
    requests = await fn();
    const c1 = process.cpuUsage(c0);
    return { main_us: Math.round(((mainThreadCpu() - m0) * 1e6) / requests), process_us: Math.round((c1.user + c1.system) / requests) };
  };
  let cost;
  if (process.env.INPROC_WRK) {
    const script = fixedScript([{ headers, body }]);
    await wrk(url, script, concurrency, 2);
    cost = await measure(async () => {
      const run = await wrk(url, script, concurrency, 6);
      extra = { rps: run.rps, p99_ms: run.p99_ms };
      return run.requests;
    });
  } else {
    await inMemory(2000);
    cost = await measure(async () => (await inMemory(n), n));
  }
  process.stdout.write(JSON.stringify({ mode: process.env.INPROC_WRK ? "socket" : "in-memory", audit: config.audit, concurrency, requests: requests!, ...extra, ...cost }) + "\n");
} finally {
  await coffer.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
