import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { measure } from "./measure.ts";
import { openSqliteStore } from "../src/storage/sqlite/sqlite-store.ts";
import { signedHeaders } from "../test/e2e/raw.ts";
import { printedCredentials, spawnServer, type Spawned } from "../test/e2e/spawn.ts";
import { seedParameterTree } from "../test/e2e/ssm-tree.ts";

/**
 * Parameter Store reads in a 10,000-parameter tree (1,000 branches of 10):
 * signed GetParametersByPath of one 10-parameter branch, beside GetParameter
 * of one parameter in the same tree, measured in the same run at 16
 * keep-alive connections (requests/s, p50/p99 ms). The tree is written into
 * the data directory between a first start (which creates the account) and
 * the measured one. `benchParameters` returns one object for bench.ts's
 * JSON line; run this file directly to print it alone.
 */

const BRANCHES = 1000;
const PER_BRANCH = 10;
const CONNECTIONS = 16;

type Credentials = { accessKeyId: string; secretAccessKey: string };

async function stop(server: Spawned): Promise<void> {
  server.child.kill("SIGTERM");
  await server.exited;
}

export async function benchParameters(seconds: number) {
  const dataDir = mkdtempSync(join(tmpdir(), "coffer-bench-ssm-"));
  // The log level as shipped unless BENCH_LOG_LEVEL says otherwise.
  const logLevel = process.env.BENCH_LOG_LEVEL ? ["--log-level", process.env.BENCH_LOG_LEVEL] : [];
  let server: Spawned | undefined;
  try {
    const first = await spawnServer(["--data-dir", dataDir, ...logLevel]);
    const credentials: Credentials = printedCredentials(first.output());
    await stop(first);
    const store = openSqliteStore(join(dataDir, "coffer.db"));
    await seedParameterTree(store, { accountId: "000000000000", region: "us-east-1", root: "/bench", branches: BRANCHES, perBranch: PER_BRANCH });
    await store.close();
    server = await spawnServer(["--data-dir", dataDir, ...logLevel]);
    const url = server.url;

    const call = async (target: string, body: string) => {
      const headers = await signedHeaders(url, { target, body, credentials, service: "ssm" });
      return { headers, body };
    };
    const byPath = await call("AmazonSSM.GetParametersByPath", JSON.stringify({ Path: "/bench/b500" }));
    const one = await call("AmazonSSM.GetParameter", JSON.stringify({ Name: "/bench/b500/p5" }));

    // The branch answers with its 10 parameters (and nothing from /bench/b5000...).
    const { host: _host, ...fetchHeaders } = byPath.headers;
    const check = await fetch(url, { method: "POST", headers: fetchHeaders, body: byPath.body });
    const names = ((await check.json()) as { Parameters?: { Name: string }[] }).Parameters?.map((p) => p.Name) ?? [];
    if (names.length !== PER_BRANCH || !names.every((n) => n.startsWith("/bench/b500/"))) {
      throw new Error(`GetParametersByPath /bench/b500 answered ${JSON.stringify(names)}`);
    }

    const pid = server.child.pid;
    await measure(url, [byPath], CONNECTIONS, Math.min(2, seconds)); // warm-up: JIT and caches
    await measure(url, [one], CONNECTIONS, Math.min(2, seconds));
    const getParameter = await measure(url, [one], CONNECTIONS, seconds, pid);
    const getParametersByPath = await measure(url, [byPath], CONNECTIONS, seconds, pid);
    return {
      tree: BRANCHES * PER_BRANCH,
      branch: PER_BRANCH,
      connections: CONNECTIONS,
      get_parameter: getParameter,
      get_parameters_by_path: getParametersByPath,
      ratio: Math.round((getParametersByPath.rps / getParameter.rps) * 100) / 100,
    };
  } finally {
    if (server) await stop(server);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const seconds = Number(process.env.BENCH_SECONDS ?? 10);
  process.stdout.write(JSON.stringify({ bench: "parameters", seconds, ...(await benchParameters(seconds)) }) + "\n");
}
