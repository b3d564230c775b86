import { createHmac } from "node:crypto";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from "@aws-sdk/client-iam";
import { CreateSecretCommand, GetSecretValueCommand, RotateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { GetParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startCoffer, type Running } from "./harness.ts";
import { rawCall } from "./raw.ts";

const SECRET = "webhook-secret-0123456789";
const received: { headers: IncomingHttpHeaders; body: string }[] = [];
let receiver: Server;
let run: Running;
let dir: string;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  const address = receiver.address() as { port: number };
  const webhook = `http://127.0.0.1:${address.port}/hook`;
  dir = mkdtempSync(join(tmpdir(), "coffer-alerts-"));
  const configFile = join(dir, "coffer.json");
  writeFileSync(
    configFile,
    JSON.stringify({
      // The receiver is on loopback, which webhooks reach only when the operator allows it.
      webhookAllowedNetworks: ["127.0.0.0/8"],
      alerts: [
        { name: "denied", type: "access-denied", webhook, secret: SECRET },
        { name: "rotation", type: "rotation-failed", webhook, secret: SECRET },
        { name: "first-read", type: "first-read", webhook, secret: SECRET },
        { name: "brute-force", type: "auth-failures", webhook, secret: SECRET, threshold: 2, windowSeconds: 60 },
      ],
    }),
  );
  run = await startCoffer({ configFile, dataDir: join(dir, "data") });
});
afterAll(async () => {
  await run.stop();
  receiver.close();
  rmSync(dir, { recursive: true, force: true });
});

async function alertsNamed(name: string, count: number): Promise<{ headers: IncomingHttpHeaders; body: string }[]> {
  for (let i = 0; i < 100; i++) {
    const found = received.filter((r) => r.headers["x-coffer-alert"] === name);
    if (found.length >= count) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
  return received.filter((r) => r.headers["x-coffer-alert"] === name);
}

it("fires each of the four rules at a webhook, signed, without secret values", async () => {
  const sm = new SecretsManagerClient({ endpoint: run.url, region: "us-east-1", credentials: run.credentials, maxAttempts: 1 });
  await sm.send(new CreateSecretCommand({ Name: "alerts/db", SecretString: "never-in-an-alert" }));

  const iam = new IAMClient({ endpoint: run.url, region: "us-east-1", credentials: run.credentials, maxAttempts: 1 });

  // first-read: the first read of the secret by this principal alerts; the second does not.
  await sm.send(new GetSecretValueCommand({ SecretId: "alerts/db" }));
  await sm.send(new GetSecretValueCommand({ SecretId: "alerts/db" }));
  const firstRead = await alertsNamed("first-read", 1);
  expect(firstRead.length).toBe(1);

  // A read through Parameter Store's /aws/reference/secretsmanager/ is a read of the secret: a new reader alerts once.
  const reader = await iam.send(new CreateUserCommand({ UserName: "ssm-reader" }));
  await iam.send(
    new PutUserPolicyCommand({
      UserName: "ssm-reader",
      PolicyName: "read",
      PolicyDocument: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: ["ssm:GetParameter", "secretsmanager:GetSecretValue"], Resource: "*" }] }),
    }),
  );
  const readerKey = (await iam.send(new CreateAccessKeyCommand({ UserName: "ssm-reader" }))).AccessKey!;
  const ssm = new SSMClient({
    endpoint: run.url,
    region: "us-east-1",
    credentials: { accessKeyId: readerKey.AccessKeyId!, secretAccessKey: readerKey.SecretAccessKey! },
    maxAttempts: 1,
  });
  const viaSsm = new GetParameterCommand({ Name: "/aws/reference/secretsmanager/alerts/db", WithDecryption: true });
  expect((await ssm.send(viaSsm)).Parameter!.Value).toBe("never-in-an-alert");
  await ssm.send(viaSsm);
  const both = await alertsNamed("first-read", 2);
  expect(both.length).toBe(2);
  expect(JSON.parse(both[1].body).summary).toContain(reader.User!.Arn!);

  // access-denied: a user with no policy reads the secret.
  await iam.send(new CreateUserCommand({ UserName: "intruder" }));
  const key = (await iam.send(new CreateAccessKeyCommand({ UserName: "intruder" }))).AccessKey!;
  const intruder = new SecretsManagerClient({
    endpoint: run.url,
    region: "us-east-1",
    credentials: { accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! },
    maxAttempts: 1,
  });
  await intruder.send(new GetSecretValueCommand({ SecretId: "alerts/db" })).catch(() => undefined);
  const denied = await alertsNamed("denied", 1);
  expect(denied.length).toBe(1);
  expect(JSON.parse(denied[0].body).summary).toContain("arn:aws:iam::000000000000:user/intruder");

  // rotation-failed: a rotation request that fails.
  await sm.send(new RotateSecretCommand({ SecretId: "alerts/db" })).catch(() => undefined);
  expect((await alertsNamed("rotation", 1)).length).toBe(1);

  // auth-failures: more than 2 failed authentications from one address within 60 s.
  for (let i = 0; i < 3; i++) {
    await rawCall(run.url, { target: "secretsmanager.ListSecrets", credentials: { accessKeyId: "AKIAGUESSGUESSGUESS0", secretAccessKey: "z".repeat(40) } });
  }
  const brute = await alertsNamed("brute-force", 1);
  expect(brute.length).toBe(1);
  expect(JSON.parse(brute[0].body)).toMatchObject({ type: "auth-failures", count: 3 });

  for (const r of received) {
    expect(r.headers["x-coffer-signature"]).toBe(`sha256=${createHmac("sha256", SECRET).update(r.body).digest("hex")}`);
    expect(r.headers["content-type"]).toBe("application/json");
    expect(r.body).not.toContain("never-in-an-alert");
  }
});

it("coffer alerts add|list|remove keeps rules in the data directory", async () => {
  const bin = fileURLToPath(new URL("../../bin/coffer.js", import.meta.url));
  const database = run.databaseUrl ? ["--database-url", run.databaseUrl] : [];
  const coffer = (...args: string[]) => promisify(execFile)(process.execPath, [bin, ...args, "--data-dir", join(dir, "data"), ...database]);
  await coffer("alerts", "add", "ops", "first-read", "https://hooks.example.com/x", "--secret", "s".repeat(20));
  expect((await coffer("alerts", "list")).stdout).toBe("ops\tfirst-read\thttps://hooks.example.com\n");
  await expect(coffer("alerts", "add", "bad", "nonsense", "https://hooks.example.com/x", "--secret", "s".repeat(20))).rejects.toMatchObject({
    stderr: expect.stringContaining("type"),
  });
  await coffer("alerts", "remove", "ops");
  expect((await coffer("alerts", "list")).stdout).toBe("");
});
