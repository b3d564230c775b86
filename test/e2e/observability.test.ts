import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import net from "node:net";
import { join } from "node:path";
import Database from "better-sqlite3";
import { CreateSecretCommand, GetSecretValueCommand, RotateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { GetParameterCommand, PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshSchema, postgresUnavailable } from "../postgres.ts";
import { printedCredentials, spawnServer } from "./spawn.ts";
import { spawnedCleanup } from "./spawned.ts";

/**
 * GET /metrics and GET /ready as an operator meets them: a spawned server,
 * requests through the official SDK, the exposition scraped over HTTP.
 */

const { tempDir, track } = spawnedCleanup("coffer-obs-");

/** `name{labels} value` lines of the Prometheus text format, with the labels as one sorted string. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{.*\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    out.set(`${m[1]}${m[2] ?? ""}`, Number(m[3]));
  }
  return out;
}

async function scrape(url: string): Promise<{ text: string; values: Map<string, number> }> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  return { text, values: samples(text) };
}

async function ready(url: string): Promise<{ status: number; body: { status: string; reason?: string } }> {
  const res = await fetch(`${url}/ready`);
  return { status: res.status, body: (await res.json()) as { status: string; reason?: string } };
}

let receiver: Server;
let delivered = 0;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    req.resume().on("end", () => {
      delivered++;
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
});
afterAll(() => new Promise<void>((r) => receiver.close(() => r())));

it("GET /metrics counts requests, latency, audit batches, caches, rotations and alert deliveries, with no name, value, ARN or account in it", async () => {
  const dir = tempDir();
  const configFile = join(dir, "coffer.json");
  const hook = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
  writeFileSync(
    configFile,
    JSON.stringify({
      webhookAllowedNetworks: ["127.0.0.0/8"],
      alerts: [{ name: "first-read", type: "first-read", webhook: hook, secret: "webhook-secret-0123456789" }],
    }),
  );
  const server = track(await spawnServer(["--data-dir", join(dir, "data"), "--config", configFile, "--log-level", "warn"]));
  const credentials = printedCredentials(server.output());
  const endpoint = { endpoint: server.url, region: "us-east-1", credentials, maxAttempts: 1 };
  const sm = new SecretsManagerClient(endpoint);
  const ssm = new SSMClient(endpoint);

  const name = `obs/${randomBytes(6).toString("hex")}`;
  const value = `value-${randomBytes(12).toString("hex")}`;
  const created = await sm.send(new CreateSecretCommand({ Name: name, SecretString: value }));
  for (let i = 0; i < 3; i++) expect((await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe(value);
  await expect(sm.send(new GetSecretValueCommand({ SecretId: `${name}-missing` }))).rejects.toMatchObject({ name: "ResourceNotFoundException" });
  await ssm.send(new PutParameterCommand({ Name: `/${name}`, Value: value, Type: "SecureString" }));
  await ssm.send(new GetParameterCommand({ Name: `/${name}`, WithDecryption: true }));
  // A client-chosen target is no label.
  await fetch(server.url, { method: "POST", headers: { "x-amz-target": `${name}.${value}` }, body: "{}" });
  // A rotation with the built-in random-value function, run in the background.
  const rotated = `${name}-rotated`;
  await sm.send(new CreateSecretCommand({ Name: rotated, SecretString: value }));
  await sm.send(new RotateSecretCommand({ SecretId: rotated, RotationLambdaARN: "arn:aws:lambda:us-east-1:000000000000:function:coffer-random-value" }));

  // The first read raised an alert and the rotation runs: both are counted once done.
  let { text, values } = await scrape(server.url);
  while (!(values.get('coffer_alert_deliveries_total{outcome="delivered"}')! >= 1 && values.get('coffer_rotations_total{outcome="succeeded"}')! >= 1)) {
    await new Promise((r) => setTimeout(r, 100));
    ({ text, values } = await scrape(server.url));
  }
  expect(delivered).toBeGreaterThanOrEqual(1);

  expect(values.get('coffer_requests_total{service="secretsmanager",operation="CreateSecret",status="2xx",error=""}')).toBe(2);
  expect(values.get('coffer_requests_total{service="secretsmanager",operation="GetSecretValue",status="2xx",error=""}')).toBe(3);
  expect(values.get('coffer_requests_total{service="secretsmanager",operation="GetSecretValue",status="4xx",error="ResourceNotFoundException"}')).toBe(1);
  expect(values.get('coffer_requests_total{service="ssm",operation="GetParameter",status="2xx",error=""}')).toBe(1);
  expect(values.get('coffer_requests_total{service="unknown",operation="unknown",status="4xx",error="UnknownOperationException"}')).toBe(1);
  expect(values.get('coffer_request_duration_seconds_count{service="secretsmanager",operation="GetSecretValue"}')).toBe(4);
  // Every answered API request put entries in the trail (writes an intent and an event).
  expect(values.get("coffer_audit_batch_entries_sum")).toBeGreaterThanOrEqual(8);
  expect(values.get("coffer_audit_commit_seconds_count")).toBe(values.get("coffer_audit_batch_entries_count"));
  expect(values.get("coffer_audit_batch_failures_total")).toBe(0);
  // The second and third reads of the secret came from the read cache; the credential was looked up once.
  expect(values.get('coffer_cache_lookups_total{cache="read",result="hit"}')).toBeGreaterThan(0);
  expect(values.get('coffer_cache_lookups_total{cache="credential",result="miss"}')).toBeGreaterThanOrEqual(1);
  expect(values.get('coffer_cache_lookups_total{cache="credential",result="hit"}')).toBeGreaterThanOrEqual(6);
  expect(values.get('coffer_rotations_total{outcome="succeeded"}')).toBe(1);
  expect(values.get('coffer_rotations_total{outcome="failed"}')).toBe(0);
  expect(values.get("process_cpu_seconds_total")).toBeGreaterThan(0);
  expect(values.has("nodejs_eventloop_lag_p99_seconds")).toBe(true);

  for (const leak of [name, value, created.ARN!, "000000000000", "coffer-random-value", credentials.accessKeyId, credentials.secretAccessKey]) {
    expect(text).not.toContain(leak);
  }
});

it("--metrics off serves no /metrics", async () => {
  const server = track(await spawnServer(["--data-dir", tempDir(), "--metrics", "off", "--log-level", "warn"]));
  const res = await fetch(`${server.url}/metrics`);
  expect(res.status).toBe(400);
  expect(res.headers.get("x-amzn-errortype")).toBe("UnknownOperationException");
});

it("GET /ready answers 503 with the reason while the audit trail cannot be written, and recovers without traffic", async () => {
  // Another process holds the database's write lock (an operator's sqlite3 shell left in a
  // transaction, a backup tool): the audit writer cannot commit past its 5 s busy timeout.
  const dataDir = tempDir();
  const server = track(await spawnServer(["--data-dir", dataDir, "--log-level", "warn"]));
  const sm = new SecretsManagerClient({ endpoint: server.url, region: "us-east-1", credentials: printedCredentials(server.output()), maxAttempts: 1 });
  await sm.send(new CreateSecretCommand({ Name: "ready/db", SecretString: "s3cr3t" }));
  expect(await ready(server.url)).toEqual({ status: 200, body: { status: "ready" } });

  const other = new Database(join(dataDir, "coffer.db"));
  try {
    other.exec("BEGIN IMMEDIATE");
    // The read itself works; its audit event cannot be committed, so the answer is an error (fail closed).
    await expect(sm.send(new GetSecretValueCommand({ SecretId: "ready/db" }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 500 } });
    const notReady = await ready(server.url);
    expect(notReady.status).toBe(503);
    expect(notReady.body.status).toBe("unavailable");
    expect(notReady.body.reason).toMatch(/^audit: the audit trail cannot be written/);
    const { values } = await scrape(server.url);
    expect(values.get("coffer_audit_batch_failures_total")).toBeGreaterThanOrEqual(1);
  } finally {
    other.exec("ROLLBACK");
    other.close();
  }
  // No request in between: /ready's own probe (an empty batch) finds the writer working again.
  expect(await ready(server.url)).toEqual({ status: 200, body: { status: "ready" } });
  expect((await sm.send(new GetSecretValueCommand({ SecretId: "ready/db" }))).SecretString).toBe("s3cr3t");
}, 60_000);

it("GET /ready answers 503 while the master key this server holds no longer opens its data", async () => {
  // Another process re-keyed the data directory (what `coffer master-key rotate` does beside a
  // running server): the data's key check now names a key this server does not hold.
  const dataDir = tempDir();
  const server = track(await spawnServer(["--data-dir", dataDir, "--log-level", "warn"]));
  expect((await ready(server.url)).status).toBe(200);
  const db = new Database(join(dataDir, "coffer.db"));
  try {
    const row = db.prepare("SELECT value FROM settings WHERE name = 'master.keyCheck'").get() as { value: string };
    const other = JSON.stringify({ id: "0123456789abcdef", mac: "00".repeat(32) });
    db.prepare("UPDATE settings SET value = ? WHERE name = 'master.keyCheck'").run(other);
    const notReady = await ready(server.url);
    expect(notReady.status).toBe(503);
    expect(notReady.body.reason).toMatch(/^master key: /);
    db.prepare("UPDATE settings SET value = ? WHERE name = 'master.keyCheck'").run(row.value);
  } finally {
    db.close();
  }
  expect((await ready(server.url)).status).toBe(200);
});

/** A TCP hop between Coffer and PostgreSQL that the test can cut (every connection dropped, new ones refused) and restore. */
async function cuttableHop(to: { host: string; port: number }): Promise<{ port: number; cut(): Promise<void>; restore(): Promise<void>; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(to.port, to.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s)).on("error", () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  const listen = (port: number) => new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  const stop = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
  await listen(0);
  const port = (server.address() as net.AddressInfo).port;
  return { port, cut: stop, restore: () => listen(port), close: stop };
}

const noPostgres = await postgresUnavailable();

describe.skipIf(noPostgres !== undefined)(`on PostgreSQL${noPostgres ? ` (skipped: ${noPostgres})` : ""}`, () => {
  it("GET /ready answers 503 while the database cannot be reached, and 200 again once it can; /metrics counts its audit batches", async () => {
    const database = await freshSchema("coffer_ready");
    const url = new URL(database.url);
    const hop = await cuttableHop({ host: url.hostname, port: Number(url.port || 5432) });
    try {
      url.host = `127.0.0.1:${hop.port}`;
      const server = track(
        await spawnServer(["--data-dir", tempDir(), "--log-level", "warn"], {
          COFFER_DATABASE_URL: url.toString(),
          COFFER_MASTER_KEY: randomBytes(32).toString("base64"),
        }),
      );
      const sm = new SecretsManagerClient({ endpoint: server.url, region: "us-east-1", credentials: printedCredentials(server.output()), maxAttempts: 1 });
      await sm.send(new CreateSecretCommand({ Name: "pg/ready", SecretString: "on-postgres" }));
      expect(await ready(server.url)).toEqual({ status: 200, body: { status: "ready" } });
      expect((await scrape(server.url)).values.get("coffer_audit_batch_entries_count")).toBeGreaterThanOrEqual(1);

      // Cut while requests are in flight: they fail, the process stays up.
      const load = Array.from({ length: 20 }, (_, i) => sm.send(new CreateSecretCommand({ Name: `pg/load-${i}`, SecretString: "x" })).catch(() => undefined));
      // Not a timing assertion: a head start so that some requests hold connections when the cut comes.
      await new Promise((r) => setTimeout(r, 20));
      await hop.cut();
      await Promise.all(load);
      expect((await fetch(`${server.url}/health`)).status).toBe(200);
      const notReady = await ready(server.url);
      expect(notReady.status).toBe(503);
      expect(notReady.body.reason).toBe("store: the database cannot be read");
      await expect(sm.send(new GetSecretValueCommand({ SecretId: "pg/ready" }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 500 } });

      await hop.restore();
      expect(await ready(server.url)).toEqual({ status: 200, body: { status: "ready" } });
      expect((await sm.send(new GetSecretValueCommand({ SecretId: "pg/ready" }))).SecretString).toBe("on-postgres");
    } finally {
      await hop.close().catch(() => undefined);
      await database.drop();
    }
  });
});
