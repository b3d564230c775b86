import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateSecretCommand, GetSecretValueCommand, RotateSecretCommand } from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failure, startCoffer, type Running } from "../e2e/harness.ts";
import { rawCall } from "../e2e/raw.ts";

/**
 * Issue 12, item 6: rotation and alert webhooks cannot reach the server's
 * private network (loopback, private, link-local, metadata) unless the
 * operator allows it; the check is on the address actually connected to (a
 * name that resolves inward is refused too); a receiver's body never lands in
 * the audit log or the server log; redirects are not followed.
 */

const HOOK_SECRET = "ssrf-test-webhook-secret";
const BODY_MARKER = "RECEIVER-BODY-b7e1c9 internal metadata token";
const fn = (name: string) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;
const dir = mkdtempSync(join(tmpdir(), "coffer-ssrf-"));

/** An internal service the attacker wants to reach: it records every hit. */
let internal: Server;
let internalPort: number;
const hits: string[] = [];
let answer: (res: import("node:http").ServerResponse) => void = (res) => res.writeHead(200).end("{}");

beforeAll(async () => {
  internal = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      hits.push(`${req.method} ${req.url}`);
      answer(res);
    });
  });
  await new Promise<void>((r) => internal.listen(0, "127.0.0.1", r));
  internalPort = (internal.address() as { port: number }).port;
});
afterAll(() => {
  internal.closeAllConnections();
  internal.close();
  rmSync(dir, { recursive: true, force: true });
});

async function admin(run: Running, operation: string, body: object) {
  const res = await rawCall(run.url, { target: `Coffer.${operation}`, body: JSON.stringify(body), credentials: run.credentials, service: "coffer" });
  return { status: res.status, body: res.json() };
}

async function rotationFailures(run: Running): Promise<string[]> {
  const rows = await run.coffer.store.listAuditRows(0, 1_000_000);
  return rows.map((r) => JSON.parse(r.record)).filter((e) => e.eventName === "RotationFailed").map((e) => JSON.stringify(e));
}

describe("by default (no allowed networks)", () => {
  let run: Running;
  beforeAll(async () => {
    const configFile = join(dir, "default.json");
    // An alert rule whose webhook names a host that resolves to loopback.
    writeFileSync(configFile, JSON.stringify({ alerts: [{ name: "denied", type: "access-denied", webhook: `http://localhost:${internalPort}/alert`, secret: HOOK_SECRET }] }));
    run = await startCoffer({ configFile, dataDir: join(dir, "default") });
  });
  afterAll(() => run.stop());

  it("refuses to register a webhook whose host is an internal address", async () => {
    for (const url of [
      `http://127.0.0.1:${internalPort}/`,
      `http://[::1]:${internalPort}/`,
      "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
      "http://[fd00:ec2::254]/latest/meta-data/",
      "http://10.0.0.1/",
      "http://100.64.0.1/",
      "http://0.0.0.0/",
      "http://2130706433/",
      `http://[::ffff:127.0.0.1]:${internalPort}/`,
    ]) {
      const res = await admin(run, "RegisterRotationFunction", { FunctionName: "probe", Webhook: { Url: url, Secret: HOOK_SECRET } });
      expect(res, url).toMatchObject({ status: 400, body: { __type: "InvalidParameterException" } });
      expect(String(res.body.message)).toMatch(/not allowed/);
    }
  });

  it("refuses at connect time a webhook whose name resolves to an internal address", async () => {
    const registered = await admin(run, "RegisterRotationFunction", { FunctionName: "sneaky", Webhook: { Url: `http://localhost:${internalPort}/rotate`, Secret: HOOK_SECRET } });
    expect(registered.status).toBe(200);
    await run.client.send(new CreateSecretCommand({ Name: "ssrf/rotated", SecretString: "v0" }));
    await run.client.send(new RotateSecretCommand({ SecretId: "ssrf/rotated", RotationLambdaARN: fn("sneaky") }));
    await run.coffer.rotation.idle();
    expect(hits).toEqual([]);
    expect((await rotationFailures(run)).join("\n")).toMatch(/createSecret failed: the rotation webhook did not answer: the address (127\.0\.0\.1|::1) is not allowed/);
    expect((await run.client.send(new GetSecretValueCommand({ SecretId: "ssrf/rotated" }))).SecretString).toBe("v0");
  });

  it("never delivers an alert to an internal address", async () => {
    // Something for the access-denied rule to report.
    const nobody = await run.coffer.identity.createAccessKey({ arn: "arn:aws:iam::222233334444:root", accountId: "222233334444", kind: "root" });
    await failure(run.clientFor(nobody).send(new GetSecretValueCommand({ SecretId: "arn:aws:secretsmanager:us-east-1:000000000000:secret:ssrf/rotated" })));
    let queued: { lastError?: string }[] = [];
    // A hang detector: the alert worker polls every 200 ms.
    for (let i = 0; i < 200 && !queued.some((d) => d.lastError); i++) {
      await new Promise((r) => setTimeout(r, 50));
      queued = await run.coffer.store.listDueAlerts(Number.MAX_SAFE_INTEGER, 10);
    }
    expect(queued[0]?.lastError).toMatch(/is not allowed/);
    expect(hits).toEqual([]);
  });
});

describe("with the receiver's network allowed by the operator", () => {
  let run: Running;
  const logFile = join(dir, "allowed.log");
  beforeAll(async () => {
    run = await startCoffer({ env: { COFFER_WEBHOOK_ALLOWED_NETWORKS: "127.0.0.0/8,::1/128" }, logFile, dataDir: join(dir, "allowed") });
    const registered = await admin(run, "RegisterRotationFunction", { FunctionName: "local", Webhook: { Url: `http://127.0.0.1:${internalPort}/rotate`, Secret: HOOK_SECRET } });
    expect(registered.status).toBe(200);
  });
  afterAll(() => run.stop());

  it("reaches it, but never copies the receiver's answer into the audit log or the server log", async () => {
    answer = (res) => res.writeHead(500, { "content-type": "text/plain" }).end(BODY_MARKER);
    await run.client.send(new CreateSecretCommand({ Name: "ssrf/echo", SecretString: "v0" }));
    await run.client.send(new RotateSecretCommand({ SecretId: "ssrf/echo", RotationLambdaARN: fn("local") }));
    await run.coffer.rotation.idle();
    expect(hits).toContain("POST /rotate");
    const failures = (await rotationFailures(run)).join("\n");
    expect(failures).toMatch(/the rotation webhook answered 500/);
    const audit = (await run.coffer.store.listAuditRows(0, 1_000_000)).map((r) => r.record).join("\n");
    expect(audit).not.toContain("RECEIVER-BODY");
    expect(readFileSync(logFile, "utf8")).not.toContain("RECEIVER-BODY");
  });

  it("does not follow a redirect to the metadata address", async () => {
    hits.length = 0;
    answer = (res) => res.writeHead(307, { location: "http://169.254.169.254/latest/meta-data/" }).end();
    await run.client.send(new CreateSecretCommand({ Name: "ssrf/redirect", SecretString: "v0" }));
    await run.client.send(new RotateSecretCommand({ SecretId: "ssrf/redirect", RotationLambdaARN: fn("local") }));
    await run.coffer.rotation.idle();
    expect(hits).toEqual(["POST /rotate"]);
    expect((await rotationFailures(run)).join("\n")).toMatch(/answered 307 \(redirects are not followed\)/);
  });
});
