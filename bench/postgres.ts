import { randomBytes, randomUUID } from "node:crypto";
import http from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { freshSchema, postgresUnavailable } from "../test/postgres.ts";
import { signedHeaders } from "../test/e2e/raw.ts";
import { printedCredentials, spawnServer, type Spawned } from "../test/e2e/spawn.ts";
import { measure } from "./measure.ts";

/**
 * PostgreSQL in `npm run bench` (issue 14):
 * - `one_node`: GetSecretValue (replayed signature, 16 connections) on one
 *   node on PostgreSQL beside one node on SQLite, in the same run (aim: >= 0.8).
 * - `two_nodes`: a mixed load over 16 secrets (90% GetSecretValue of any of
 *   them, 10% PutSecretValue, each worker writing its own secret, as apps
 *   rotate their own credentials; each Put with its own ClientRequestToken)
 *   from a load generator that spreads
 *   requests over the nodes and, like a load balancer, sends a request a node
 *   could not answer to the other one (a Put keeps its token, so a retry is
 *   the same write). Phases: one node; two nodes; two nodes while node B is
 *   killed with SIGKILL and started again. Errors must be 0.
 * Skipped, saying why, when no PostgreSQL is reachable.
 */
const SECRET = JSON.stringify({ username: "app", password: "x".repeat(32) });
type Credentials = { accessKeyId: string; secretAccessKey: string };
const WORKERS = 16;

export async function benchPostgres(seconds: number): Promise<Record<string, unknown>> {
  const unavailable = await postgresUnavailable();
  if (unavailable) return { skipped: unavailable };
  const database = await freshSchema("coffer_bench");
  const dirs: string[] = [];
  const servers: Spawned[] = [];
  const masterKey = randomBytes(32).toString("base64");
  const start = async (env: Record<string, string>, dir?: string) => {
    const dataDir = dir ?? mkdtempSync(join(tmpdir(), "coffer-bench-pg-"));
    if (!dir) dirs.push(dataDir);
    const server = await spawnServer(["--data-dir", dataDir], env);
    servers.push(server);
    return { server, dataDir };
  };
  try {
    const pgEnv = (node: string) => ({ COFFER_DATABASE_URL: database.url, COFFER_MASTER_KEY: masterKey, COFFER_NODE_ID: node });
    const a = await start(pgEnv("bench-a"));
    const sqlite = await start({});
    const credentials = printedCredentials(a.server.output());
    const sqliteCredentials = printedCredentials(sqlite.server.output());
    const body = JSON.stringify({ SecretId: "bench/db" });
    const get = async (url: string, creds: Credentials) => {
      await new SecretsManagerClient({ endpoint: url, region: "us-east-1", credentials: creds }).send(new CreateSecretCommand({ Name: "bench/db", SecretString: SECRET }));
      return { headers: await signedHeaders(url, { target: "secretsmanager.GetSecretValue", body, credentials: creds }), body };
    };
    const onPg = await get(a.server.url, credentials);
    const onSqlite = await get(sqlite.server.url, sqliteCredentials);
    await measure(a.server.url, [onPg], 16, 2);
    await measure(sqlite.server.url, [onSqlite], 16, 2);
    const pgRun = await measure(a.server.url, [onPg], 16, seconds, a.server.child.pid);
    const sqliteRun = await measure(sqlite.server.url, [onSqlite], 16, seconds, sqlite.server.child.pid);
    sqlite.server.child.kill("SIGTERM");
    const oneNode = { connections: 16, postgres: pgRun, sqlite: sqliteRun, ratio: Math.round((pgRun.rps / sqliteRun.rps) * 100) / 100 };

    const sm = new SecretsManagerClient({ endpoint: a.server.url, region: "us-east-1", credentials });
    for (let w = 0; w < WORKERS; w++) await sm.send(new CreateSecretCommand({ Name: `bench/app-${w}`, SecretString: SECRET }));
    sm.destroy();
    let b = await start(pgEnv("bench-b"));
    const urls = () => [a.server.url, b.server.url];
    const load = createFailoverLoad(credentials);
    const oneNodeMixed = await load.run([a.server.url], seconds);
    const twoNodesMixed = await load.run(urls(), seconds);
    // Kill node B a third of the way in, start it again on the same data directory, carry on.
    const during = load.run(urls(), seconds, { live: () => urls() });
    await new Promise((r) => setTimeout(r, (seconds * 1000) / 3));
    b.server.child.kill("SIGKILL");
    await b.server.exited;
    b = await start(pgEnv("bench-b"), b.dataDir);
    const killed = await during;
    return { one_node: oneNode, two_nodes: { connections: 16, mix: "90% GetSecretValue, 10% PutSecretValue, 16 secrets", one_node: oneNodeMixed, two_nodes: twoNodesMixed, node_b_killed_and_restarted: killed } };
  } finally {
    for (const s of servers) s.child.kill("SIGKILL");
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    await database.drop();
  }
}

/**
 * The load generator of the two-node runs: 16 workers, each sending one
 * request at a time with keep-alive, to the nodes in turn; a request that a
 * node does not answer (connection refused or cut, or 5xx) goes to the next
 * node, up to 10 tries over 5 s. Only a request no node answered is an error.
 */
function createFailoverLoad(credentials: Credentials) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  async function send(url: string, target: string, body: string): Promise<number> {
    const headers = await signedHeaders(url, { target, body, credentials });
    return new Promise((resolve) => {
      const req = http.request(url, { method: "POST", headers, agent }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
        res.on("error", () => resolve(0));
      });
      req.on("error", () => resolve(0));
      req.end(body);
    });
  }
  return {
    async run(initial: string[], seconds: number, opts: { live?: () => string[] } = {}) {
      let ok = 0;
      let errors = 0;
      let retried = 0;
      let turn = 0;
      const latencies: number[] = [];
      const until = Date.now() + seconds * 1000;
      const worker = async (w: number) => {
        for (let i = 0; Date.now() < until; i++) {
          const write = i % 10 === 9;
          const target = write ? "secretsmanager.PutSecretValue" : "secretsmanager.GetSecretValue";
          const body = write
            ? JSON.stringify({ SecretId: `bench/app-${w}`, SecretString: SECRET, ClientRequestToken: randomUUID() })
            : JSON.stringify({ SecretId: `bench/app-${i % WORKERS}` });
          const started = performance.now();
          let status = 0;
          for (let attempt = 0; attempt < 10 && !(status >= 200 && status < 300); attempt++) {
            const nodes = opts.live?.() ?? initial;
            if (attempt > 0) {
              retried++;
              await new Promise((r) => setTimeout(r, 50 * attempt));
            }
            status = await send(nodes[turn++ % nodes.length], target, body);
          }
          if (status >= 200 && status < 300) {
            ok++;
            latencies.push(performance.now() - started);
          } else {
            errors++;
          }
        }
      };
      await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
      latencies.sort((x, y) => x - y);
      const p = (q: number) => Math.round((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0) * 100) / 100;
      return { nodes: initial.length, rps: Math.round(ok / seconds), requests: ok, errors, retried, p50_ms: p(0.5), p99_ms: p(0.99) };
    },
  };
}
