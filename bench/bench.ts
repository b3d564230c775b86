import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from "@aws-sdk/client-iam";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { printedCredentials, spawnServer } from "../test/e2e/spawn.ts";
import { signedHeaders } from "../test/e2e/raw.ts";
import { startBare } from "./bare.ts";
import { measure, measureFresh, tool, type Request } from "./measure.ts";
import { benchParameters } from "./parameters.ts";
import { benchClients } from "./clients.ts";
import { benchPostgres } from "./postgres.ts";
import { benchReplication } from "./replication.ts";

/**
 * `npm run bench`: signed GetSecretValue requests/s and p50/p99 latency at 16
 * and 64 keep-alive connections, for Coffer and for a bare node:http server
 * measured in the same run (ratio = Coffer / bare); the same with a fresh
 * signature on every request; a mixed load (90% GetSecretValue, 10%
 * PutSecretValue); the cost of authorisation: the same call by the account
 * root and by a user whose identity policy has 10 statements; auditing on
 * against off.
 * Then the client side (bench/clients.ts): cache-hit and agent-hit latency,
 * each beside an uncached GetSecretValue.
 * And Parameter Store (bench/parameters.ts): GetParametersByPath of a
 * 10-parameter branch in a 10,000-parameter tree beside GetParameter.
 * And PostgreSQL (bench/postgres.ts): one node on PostgreSQL beside one on
 * SQLite, and two nodes under a mixed load while one is killed and restarted.
 * And replication (bench/replication.ts): p99 lag from a write in one region
 * to its readability in a linked region on this machine, under steady writes.
 * Load comes from wrk when /usr/bin/wrk exists, else autocannon ("tool").
 * With wrk each run also gives the server's CPU time per request
 * (cpu_us_per_request), steadier than requests/s on a shared machine.
 * Prints one JSON line. BENCH_SECONDS sets each measurement's duration (default 10);
 * the servers run at the log level as shipped unless BENCH_LOG_LEVEL says otherwise.
 */
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connectionCounts = [16, 64];
const logLevel = process.env.BENCH_LOG_LEVEL ? ["--log-level", process.env.BENCH_LOG_LEVEL] : [];
/** Pre-signed requests for the fresh-signature run: more than it can send. */
const FRESH_REQUESTS = Number(process.env.BENCH_FRESH_REQUESTS ?? 200_000);
const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
const SECRET = JSON.stringify({ username: "app", password: "x".repeat(32) });

async function sign(url: string, target: string, body: string, credentials: { accessKeyId: string; secretAccessKey: string }): Promise<Request> {
  return { headers: await signedHeaders(url, { target, body, credentials }), body };
}

/**
 * The price of the audit trail (aim: on >= 0.8 of off): the same call on two
 * fresh servers, one auditing and one not, each warmed up the same way and
 * measured back to back, so neither carries the other phases' history.
 */
async function auditOnOff(body: string) {
  const run = async (audit: "on" | "off") => {
    const dataDir = mkdtempSync(join(tmpdir(), `coffer-bench-audit-${audit}-`));
    const server = await spawnServer(["--data-dir", dataDir, ...logLevel], { COFFER_AUDIT: audit });
    try {
      const credentials = printedCredentials(server.output());
      const sm = new SecretsManagerClient({ endpoint: server.url, region: "us-east-1", credentials });
      await sm.send(new CreateSecretCommand({ Name: "bench/db", SecretString: SECRET }));
      const request = await sign(server.url, "secretsmanager.GetSecretValue", body, credentials);
      await measure(server.url, [request], 16, 2);
      return await measure(server.url, [request], 16, seconds, server.child.pid);
    } finally {
      server.child.kill("SIGTERM");
      await server.exited;
      rmSync(dataDir, { recursive: true, force: true });
    }
  };
  const on = await run("on");
  const off = await run("off");
  return { connections: 16, on, off, ratio: ratio(on.rps, off.rps) };
}

/** A user allowed by the last of ten statements, so evaluation walks the whole policy. */
async function userWithTenStatements(url: string, admin: { accessKeyId: string; secretAccessKey: string }) {
  const iam = new IAMClient({ endpoint: url, region: "us-east-1", credentials: admin });
  await iam.send(new CreateUserCommand({ UserName: "bench" }));
  const Statement: object[] = Array.from({ length: 9 }, (_, i) => ({
    Effect: "Allow",
    Action: "secretsmanager:Describe*",
    Resource: `arn:aws:secretsmanager:*:*:secret:team${i}/*`,
  }));
  Statement.push({
    Effect: "Allow",
    Action: "secretsmanager:GetSecretValue",
    Resource: "arn:aws:secretsmanager:us-east-1:000000000000:secret:bench/*",
    Condition: { IpAddress: { "aws:SourceIp": ["127.0.0.0/8", "::1/128"] } },
  });
  await iam.send(
    new PutUserPolicyCommand({ UserName: "bench", PolicyName: "ten", PolicyDocument: JSON.stringify({ Version: "2012-10-17", Statement }) }),
  );
  const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: "bench" }));
  return { accessKeyId: AccessKey!.AccessKeyId!, secretAccessKey: AccessKey!.SecretAccessKey! };
}

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), "coffer-bench-"));
  const coffer = await spawnServer(["--data-dir", dataDir, ...logLevel]);
  const bare = await startBare();
  const pid = coffer.child.pid;
  try {
    const credentials = printedCredentials(coffer.output());
    const sm = new SecretsManagerClient({ endpoint: coffer.url, region: "us-east-1", credentials });
    await sm.send(new CreateSecretCommand({ Name: "bench/db", SecretString: SECRET }));
    const body = JSON.stringify({ SecretId: "bench/db" });
    // One signed request, replayed: a signature stays valid for 15 minutes, as on AWS.
    const get = await sign(coffer.url, "secretsmanager.GetSecretValue", body, credentials);
    const policyUser = await userWithTenStatements(coffer.url, credentials);

    const out: Record<string, unknown> = { bench: "GetSecretValue", tool, seconds, node: process.version };
    const bareRequest = { ...get, headers: { ...get.headers, host: new URL(bare.url).host } };
    for (const c of connectionCounts) {
      await measure(coffer.url, [get], c, 2); // warm-up: JIT and caches
      const cofferRun = await measure(coffer.url, [get], c, seconds, pid);
      const bareRun = await measure(bare.url, [bareRequest], c, seconds, bare.pid);
      out[`c${c}`] = { coffer: cofferRun, bare: bareRun, ratio: ratio(cofferRun.rps, bareRun.rps) };
    }
    // A fresh signature on every request (nothing replayed), beside the bare server again.
    const host = new URL(coffer.url).host;
    const fresh = await measureFresh(
      coffer.url,
      { credentials, region: "us-east-1", service: "secretsmanager", target: "secretsmanager.GetSecretValue", host, body },
      16,
      seconds,
      FRESH_REQUESTS,
      pid,
    );
    const freshBare = await measure(bare.url, [bareRequest], 16, seconds, bare.pid);
    out.fresh_signature = { connections: 16, coffer: fresh, bare: freshBare, ratio: ratio(fresh.rps, freshBare.rps) };
    // Mixed load: 90% GetSecretValue, 10% PutSecretValue (each Put a new version: intent, write, event).
    const put = await sign(coffer.url, "secretsmanager.PutSecretValue", JSON.stringify({ SecretId: "bench/db", SecretString: SECRET }), credentials);
    await measure(coffer.url, [{ ...get, weight: 9 }, put], 16, 2);
    const mixed = await measure(coffer.url, [{ ...get, weight: 9 }, put], 16, seconds, pid);
    const mixedBare = await measure(bare.url, [bareRequest], 16, seconds, bare.pid);
    out.mixed_90_get_10_put = { connections: 16, coffer: mixed, bare: mixedBare, ratio: ratio(mixed.rps, mixedBare.rps) };
    // Authorisation cost, measured back to back at 16 connections.
    const asUserRequest = await sign(coffer.url, "secretsmanager.GetSecretValue", body, policyUser);
    await measure(coffer.url, [asUserRequest], 16, 2);
    const asRoot = await measure(coffer.url, [get], 16, seconds, pid);
    const asUser = await measure(coffer.url, [asUserRequest], 16, seconds, pid);
    out.authorization = { connections: 16, root: asRoot, user_10_statement_policy: asUser, ratio: ratio(asUser.rps, asRoot.rps) };
    out.auditing = await auditOnOff(body);
    // Client side: a SecretCache hit and a `coffer agent` hit, each beside an uncached GetSecretValue (bench/clients.ts).
    out.clients = await benchClients(coffer.url, credentials);
    // Parameter Store: a 10-parameter branch of a 10,000-parameter tree beside GetParameter, on its own server (bench/parameters.ts).
    out.parameters = await benchParameters(seconds);
    // PostgreSQL: one node beside SQLite; two nodes, one killed and restarted mid-run (bench/postgres.ts).
    out.postgres = await benchPostgres(seconds);
    // Replication: p99 from a write in one region to its readability in a linked one, under steady writes (bench/replication.ts).
    out.replication = await benchReplication(seconds);
    process.stdout.write(JSON.stringify(out) + "\n");
  } finally {
    coffer.child.kill("SIGTERM");
    bare.stop();
    await coffer.exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
