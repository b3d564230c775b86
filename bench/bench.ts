import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from "@aws-sdk/client-iam";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { printedCredentials, spawnServer } from "../test/e2e/spawn.ts";
import { signedHeaders } from "../test/e2e/raw.ts";
import { measure } from "./measure.ts";
import { benchParameters } from "./parameters.ts";
import { benchClients } from "./clients.ts";

/**
 * `npm run bench`: signed GetSecretValue requests/s and p50/p99 latency at 16
 * and 64 keep-alive connections, for Coffer and for a bare node:http server
 * measured in the same run, and the cost of authorisation: the same call by
 * the account root and by a user whose identity policy has 10 statements.
 * Then the client side (bench/clients.ts): cache-hit and agent-hit latency,
 * each beside an uncached GetSecretValue.
 * And Parameter Store (bench/parameters.ts): GetParametersByPath of a
 * 10-parameter branch in a 10,000-parameter tree beside GetParameter.
 * Prints one JSON line. BENCH_SECONDS sets each measurement's duration (default 10).
 */
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connectionCounts = [16, 64];

/**
 * The price of the audit trail (aim: on >= 0.8 of off): the same call on two
 * fresh servers, one auditing and one not, each warmed up the same way and
 * measured back to back, so neither carries the other phases' history.
 */
async function auditOnOff(body: string) {
  const run = async (audit: "on" | "off") => {
    const dataDir = mkdtempSync(join(tmpdir(), `coffer-bench-audit-${audit}-`));
    const server = await spawnServer(["--data-dir", dataDir, "--log-level", process.env.BENCH_LOG_LEVEL ?? "info"], { COFFER_AUDIT: audit });
    try {
      const credentials = printedCredentials(server.output());
      const sm = new SecretsManagerClient({ endpoint: server.url, region: "us-east-1", credentials });
      await sm.send(new CreateSecretCommand({ Name: "bench/db", SecretString: JSON.stringify({ username: "app", password: "x".repeat(32) }) }));
      const headers = await signedHeaders(server.url, { target: "secretsmanager.GetSecretValue", body, credentials });
      delete headers.host;
      await measure(server.url, headers, body, 16, 2);
      return await measure(server.url, headers, body, 16, seconds);
    } finally {
      server.child.kill("SIGTERM");
      await server.exited;
      rmSync(dataDir, { recursive: true, force: true });
    }
  };
  const on = await run("on");
  const off = await run("off");
  return { connections: 16, on, off, ratio: Math.round((on.rps / off.rps) * 100) / 100 };
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
    const sign = async (creds: typeof credentials) => {
      const h = await signedHeaders(coffer.url, { target: "secretsmanager.GetSecretValue", body, credentials: creds });
      delete h.host;
      return h;
    };
    const headers = await sign(credentials);
    const policyUser = await userWithTenStatements(coffer.url, credentials);

    const out: Record<string, unknown> = { bench: "GetSecretValue", seconds, node: process.version };
    for (const c of connectionCounts) {
      await measure(coffer.url, headers, body, c, 2); // warm-up: JIT and caches
      const cofferRun = await measure(coffer.url, headers, body, c, seconds);
      const bareRun = await measure(bare.url, headers, body, c, seconds);
      out[`c${c}`] = { coffer: cofferRun, bare: bareRun, ratio: Math.round((cofferRun.rps / bareRun.rps) * 100) / 100 };
    }
    // Authorisation cost, measured back to back at 16 connections.
    const userHeaders = await sign(policyUser);
    await measure(coffer.url, userHeaders, body, 16, 2);
    const asRoot = await measure(coffer.url, headers, body, 16, seconds);
    const asUser = await measure(coffer.url, userHeaders, body, 16, seconds);
    out.authorization = {
      connections: 16,
      root: asRoot,
      user_10_statement_policy: asUser,
      ratio: Math.round((asUser.rps / asRoot.rps) * 100) / 100,
    };
    out.auditing = await auditOnOff(body);
    // Client side: a SecretCache hit and a `coffer agent` hit, each beside an uncached GetSecretValue (bench/clients.ts).
    out.clients = await benchClients(coffer.url, credentials);
    // Parameter Store: a 10-parameter branch of a 10,000-parameter tree beside GetParameter, on its own server (bench/parameters.ts).
    out.parameters = await benchParameters(seconds);
    process.stdout.write(JSON.stringify(out) + "\n");
  } finally {
    coffer.child.kill("SIGTERM");
    bare.stop();
    await coffer.exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
