import { createHmac } from "node:crypto";
import { createServer, type Server } from "node:http";
import {
  CancelRotateSecretCommand,
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { FUNCTIONS_SETTING } from "../../src/services/rotation/rotation-registry.ts";
import { failure, startCoffer, type Running } from "./harness.ts";
import { rawCall } from "./raw.ts";

let run: Running;
let sm: SecretsManagerClient;
const fn = (name: string) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;

beforeAll(async () => {
  // The test's webhook receivers are on loopback, which webhooks reach only when the operator allows it.
  run = await startCoffer({ env: { COFFER_WEBHOOK_ALLOWED_NETWORKS: "127.0.0.0/8,::1/128" } });
  sm = run.client;
});
afterAll(() => run.stop());

/** A call to Coffer's admin API, signed as the SDKs sign (service "coffer"). */
async function admin(operation: string, body: object, credentials = run.credentials) {
  const res = await rawCall(run.url, { target: `Coffer.${operation}`, body: JSON.stringify(body), credentials, service: "coffer" });
  return { status: res.status, body: res.json() };
}


describe("RotateSecret", () => {
  it("rotates with the built-in random-value function: a new AWSCURRENT, the old one AWSPREVIOUS", async () => {
    const created = await sm.send(new CreateSecretCommand({ Name: "rot/api-key", SecretString: "old-key" }));
    const r = await sm.send(
      new RotateSecretCommand({ SecretId: "rot/api-key", RotationLambdaARN: fn("coffer-random-value"), RotationRules: { AutomaticallyAfterDays: 30 } }),
    );
    expect(r.VersionId).toBeDefined();
    await run.coffer.rotation.idle();
    const now = await sm.send(new GetSecretValueCommand({ SecretId: "rot/api-key" }));
    expect(now.VersionId).toBe(r.VersionId);
    expect(now.SecretString).toMatch(/^[A-Za-z0-9]{40}$/);
    const prev = await sm.send(new GetSecretValueCommand({ SecretId: "rot/api-key", VersionStage: "AWSPREVIOUS" }));
    expect(prev.VersionId).toBe(created.VersionId);
    const d = await sm.send(new DescribeSecretCommand({ SecretId: "rot/api-key" }));
    expect(d.RotationEnabled).toBe(true);
    expect(d.RotationLambdaARN).toBe(fn("coffer-random-value"));
    expect(d.RotationRules).toEqual({ AutomaticallyAfterDays: 30 });
    expect(d.LastRotatedDate).toBeInstanceOf(Date);
    const days = (d.NextRotationDate!.getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(28);
    expect(days).toBeLessThan(31);
    expect(d.VersionIdsToStages![r.VersionId!]).toEqual(["AWSCURRENT"]);
  });

  it("refuses what AWS refuses", async () => {
    await sm.send(new CreateSecretCommand({ Name: "rot/refused", SecretString: "x" }));
    const none = await failure(sm.send(new RotateSecretCommand({ SecretId: "rot/refused" })));
    expect(none).toMatchObject({ name: "InvalidRequestException", message: "No Lambda rotation function ARN is associated with this secret." });
    const unknown = await failure(sm.send(new RotateSecretCommand({ SecretId: "rot/refused", RotationLambdaARN: fn("nope") })));
    expect(unknown.name).toBe("AccessDeniedException");
    const both = await failure(
      sm.send(
        new RotateSecretCommand({
          SecretId: "rot/refused",
          RotationLambdaARN: fn("coffer-random-value"),
          RotationRules: { AutomaticallyAfterDays: 2, ScheduleExpression: "rate(2 days)" },
        }),
      ),
    );
    expect(both.name).toBe("InvalidParameterException");
    const tooOften = await failure(
      sm.send(new RotateSecretCommand({ SecretId: "rot/refused", RotationLambdaARN: fn("coffer-random-value"), RotationRules: { ScheduleExpression: "rate(1 hours)" } })),
    );
    expect(tooOften.name).toBe("InvalidParameterException");
  });

  it("schedules without rotating when RotateImmediately is false, and cancels", async () => {
    await sm.send(new CreateSecretCommand({ Name: "rot/later", SecretString: "x" }));
    const r = await sm.send(
      new RotateSecretCommand({
        SecretId: "rot/later",
        RotationLambdaARN: fn("coffer-random-value"),
        RotationRules: { ScheduleExpression: "cron(0 3 ? * SUN *)", Duration: "2h" },
        RotateImmediately: false,
      }),
    );
    expect(r.VersionId).toBeUndefined();
    const d = await sm.send(new DescribeSecretCommand({ SecretId: "rot/later" }));
    expect(d.NextRotationDate!.getUTCDay()).toBe(0);
    expect(d.NextRotationDate!.getUTCHours()).toBe(3);
    expect((await sm.send(new GetSecretValueCommand({ SecretId: "rot/later" }))).SecretString).toBe("x");
    await sm.send(new CancelRotateSecretCommand({ SecretId: "rot/later" }));
    const after = await sm.send(new DescribeSecretCommand({ SecretId: "rot/later" }));
    expect(after.RotationEnabled).toBe(false);
    expect(after.NextRotationDate).toBeUndefined();
  });
});

describe("webhook rotation functions", () => {
  let receiver: Server;
  const events: { Step: string; ClientRequestToken: string; signatureOk: boolean }[] = [];
  let failStep: string | undefined;
  const SECRET = "rotation-webhook-secret-01";

  beforeAll(async () => {
    // A rotation function as a user would write one: it does each step by calling Coffer with the AWS SDK.
    receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", async () => {
        const event = JSON.parse(body) as { Step: string; SecretId: string; ClientRequestToken: string };
        const signatureOk = req.headers["x-coffer-signature"] === `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}`;
        events.push({ Step: event.Step, ClientRequestToken: event.ClientRequestToken, signatureOk });
        try {
          if (event.Step === failStep) throw new Error("downstream service unavailable");
          if (event.Step === "createSecret") {
            await sm.send(
              new PutSecretValueCommand({ SecretId: event.SecretId, ClientRequestToken: event.ClientRequestToken, SecretString: `key-${Date.now()}`, VersionStages: ["AWSPENDING"] }),
            );
          }
          if (event.Step === "finishSecret") {
            const d = await sm.send(new DescribeSecretCommand({ SecretId: event.SecretId }));
            const current = Object.entries(d.VersionIdsToStages!).find(([, s]) => s.includes("AWSCURRENT"))![0];
            await sm.send(
              new UpdateSecretVersionStageCommand({ SecretId: event.SecretId, VersionStage: "AWSCURRENT", MoveToVersionId: event.ClientRequestToken, RemoveFromVersionId: current }),
            );
          }
          res.writeHead(200).end("{}");
        } catch (err) {
          res.writeHead(500).end((err as Error).message);
        }
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    const port = (receiver.address() as { port: number }).port;
    // Registered through the admin API with nothing but curl, as docs/rotation.md shows.
    const { stdout } = await promisify(execFile)("curl", [
      "-sS",
      "--aws-sigv4",
      "aws:amz:us-east-1:coffer",
      "--user",
      `${run.credentials.accessKeyId}:${run.credentials.secretAccessKey}`,
      "-H",
      "X-Amz-Target: Coffer.RegisterRotationFunction",
      "-H",
      "Content-Type: application/x-amz-json-1.1",
      "-d",
      JSON.stringify({ FunctionName: "api-keys", Webhook: { Url: `http://127.0.0.1:${port}/rotate`, Secret: SECRET } }),
      `${run.url}/`,
    ]);
    expect(JSON.parse(stdout)).toEqual({ FunctionArn: fn("api-keys") });
    // The HMAC key is sealed under the master key, never stored as given.
    expect(await run.coffer.store.getSetting(FUNCTIONS_SETTING)).not.toContain(SECRET);
  });
  afterAll(() => receiver.close());

  it("calls the four steps in order with one token, signed, and promotes the new value", async () => {
    await sm.send(new CreateSecretCommand({ Name: "rot/webhook", SecretString: "v0" }));
    const r = await sm.send(new RotateSecretCommand({ SecretId: "rot/webhook", RotationLambdaARN: fn("api-keys") }));
    await run.coffer.rotation.idle();
    expect(events.map((e) => e.Step)).toEqual(["createSecret", "setSecret", "testSecret", "finishSecret"]);
    expect(new Set(events.map((e) => e.ClientRequestToken))).toEqual(new Set([r.VersionId]));
    expect(events.every((e) => e.signatureOk)).toBe(true);
    expect((await sm.send(new GetSecretValueCommand({ SecretId: "rot/webhook" }))).SecretString).toMatch(/^key-/);
  });

  it("a failed step leaves AWSCURRENT alone, is recorded, and a second rotation waits for the first", async () => {
    events.length = 0;
    failStep = "testSecret";
    await sm.send(new CreateSecretCommand({ Name: "rot/failing", SecretString: "keep-me" }));
    const r = await sm.send(new RotateSecretCommand({ SecretId: "rot/failing", RotationLambdaARN: fn("api-keys") }));
    await run.coffer.rotation.idle();
    expect(events.map((e) => e.Step)).toEqual(["createSecret", "setSecret", "testSecret"]);
    expect((await sm.send(new GetSecretValueCommand({ SecretId: "rot/failing" }))).SecretString).toBe("keep-me");
    const pending = await sm.send(new GetSecretValueCommand({ SecretId: "rot/failing", VersionStage: "AWSPENDING" }));
    expect(pending.VersionId).toBe(r.VersionId);
    const again = await failure(sm.send(new RotateSecretCommand({ SecretId: "rot/failing" })));
    expect(again).toMatchObject({ name: "InvalidRequestException", message: "A previous rotation isn't complete. That rotation will be reattempted." });
    const failed = (await run.coffer.store.listAuditRows(0, 100_000)).map((row) => JSON.parse(row.record)).filter((e) => e.eventName === "RotationFailed");
    expect(failed.at(-1)).toMatchObject({ eventType: "AwsServiceEvent", serviceEventDetails: { step: "testSecret", attempt: 1 } });

    // The retry resumes at the failed step, with the same token, once the function works again.
    failStep = undefined;
    events.length = 0;
    const secret = (await run.coffer.store.getSecretByName("000000000000", "rot/failing"))!;
    await run.coffer.store.transaction((tx) => tx.putSecret({ ...secret, rotateAt: Date.now() - 1 }));
    await run.coffer.rotation.runDue();
    await run.coffer.rotation.idle();
    expect(events.map((e) => e.Step)).toEqual(["testSecret", "finishSecret"]);
    expect((await sm.send(new GetSecretValueCommand({ SecretId: "rot/failing" }))).VersionId).toBe(r.VersionId);
  });
});

describe("command rotation functions", () => {
  it("runs a local program with the execution role's temporary credentials and Coffer's endpoint", async () => {
    const { CreateRoleCommand, PutRolePolicyCommand, IAMClient } = await import("@aws-sdk/client-iam");
    const iam = new IAMClient({ endpoint: run.url, region: "us-east-1", credentials: run.credentials, maxAttempts: 1 });
    await iam.send(
      new CreateRoleCommand({
        RoleName: "rotator",
        AssumeRolePolicyDocument: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { AWS: "arn:aws:iam::000000000000:root" }, Action: "sts:AssumeRole" }] }),
      }),
    );
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: "rotator",
        PolicyName: "rotate-counter",
        PolicyDocument: JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Action: "secretsmanager:*", Resource: "arn:aws:secretsmanager:us-east-1:000000000000:secret:rot/counter-*" }],
        }),
      }),
    );
    const script = new URL("../fixtures/command-rotator.mjs", import.meta.url).pathname;
    const registered = await admin("RegisterRotationFunction", {
      FunctionName: "counter",
      Command: { Program: process.execPath, Args: [script], RoleArn: "arn:aws:iam::000000000000:role/rotator" },
    });
    expect(registered).toEqual({ status: 200, body: { FunctionArn: fn("counter") } });
    await sm.send(new CreateSecretCommand({ Name: "rot/counter", SecretString: "0" }));
    await sm.send(new RotateSecretCommand({ SecretId: "rot/counter", RotationLambdaARN: fn("counter") }));
    await run.coffer.rotation.idle();
    expect((await sm.send(new GetSecretValueCommand({ SecretId: "rot/counter" }))).SecretString).toBe("0+1");
    // The role's own policy bounds what the command may do.
    const events = (await run.coffer.store.listAuditRows(0, 100_000)).map((r) => JSON.parse(r.record));
    const put = events.filter((e) => e.eventName === "PutSecretValue" && e.userIdentity?.type === "AssumedRole").at(-1);
    expect(put.userIdentity.arn).toBe("arn:aws:sts::000000000000:assumed-role/rotator/coffer-rotation");
  });
});

describe("the admin API for rotation functions", () => {
  it("registers, lists and deregisters, with AWS-style errors, and never shows a webhook's key", async () => {
    const key = "admin-api-webhook-key-7f3c";
    const webhook = { FunctionName: "notify", Webhook: { Url: "https://hooks.example.com/rotate", Secret: key } };
    expect(await admin("RegisterRotationFunction", webhook)).toEqual({ status: 200, body: { FunctionArn: fn("notify") } });
    expect(await admin("RegisterRotationFunction", webhook)).toMatchObject({ status: 400, body: { __type: "ResourceExistsException" } });

    const listed = await admin("ListRotationFunctions", {});
    const functions = listed.body.Functions as Record<string, unknown>[];
    expect(functions).toContainEqual({ FunctionName: "notify", FunctionArn: fn("notify"), Kind: "webhook", Url: "https://hooks.example.com/rotate" });
    expect(functions).toContainEqual({ FunctionName: "coffer-postgres-alternating-users", FunctionArn: fn("coffer-postgres-alternating-users"), Kind: "built-in" });
    expect(JSON.stringify(listed.body)).not.toContain(key);

    const bad = [
      [{ FunctionName: "coffer-mine", Webhook: webhook.Webhook }, "InvalidParameterException", /may not start with coffer-/],
      [{ FunctionName: "both", Webhook: webhook.Webhook, Command: { Program: "/bin/true", RoleArn: "arn:aws:iam::000000000000:role/rotator" } }, "InvalidParameterException", /exactly one/],
      [{ FunctionName: "short", Webhook: { Url: "https://x.example", Secret: "short" } }, "ValidationException", /secret/i],
      [{ FunctionName: "ftp", Webhook: { Url: "ftp://x.example", Secret: key } }, "InvalidParameterException", /http or https/],
      [{ FunctionName: "cmd", Command: { Program: "/bin/true", RoleArn: "arn:aws:iam::000000000000:user/bob" } }, "InvalidParameterException", /role ARN/],
    ] as const;
    for (const [input, type, message] of bad) {
      const res = await admin("RegisterRotationFunction", input);
      expect(res.status, JSON.stringify(input)).toBe(400);
      expect(res.body.__type).toBe(type);
      expect(String(res.body.message)).toMatch(message);
      expect(JSON.stringify(res.body)).not.toContain(key);
    }

    expect(await admin("DeregisterRotationFunction", { FunctionName: "notify" })).toEqual({ status: 200, body: {} });
    expect(await admin("DeregisterRotationFunction", { FunctionName: "notify" })).toMatchObject({ status: 400, body: { __type: "ResourceNotFoundException" } });

    // One audit event per call, the key redacted.
    const events = (await run.coffer.store.listAuditRows(0, 100_000)).map((r) => JSON.parse(r.record)).filter((e) => e.eventSource === "coffer.amazonaws.com");
    expect(events.length).toBeGreaterThanOrEqual(10);
    expect(JSON.stringify(events)).not.toContain(key);
  });

  it("is authorised like any other API: an IAM user needs coffer:* permissions", async () => {
    const { CreateUserCommand, CreateAccessKeyCommand, PutUserPolicyCommand, IAMClient } = await import("@aws-sdk/client-iam");
    const iam = new IAMClient({ endpoint: run.url, region: "us-east-1", credentials: run.credentials, maxAttempts: 1 });
    await iam.send(new CreateUserCommand({ UserName: "fn-reader" }));
    const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: "fn-reader" }));
    const creds = { accessKeyId: AccessKey!.AccessKeyId!, secretAccessKey: AccessKey!.SecretAccessKey! };
    await iam.send(
      new PutUserPolicyCommand({
        UserName: "fn-reader",
        PolicyName: "list-only",
        PolicyDocument: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "coffer:ListRotationFunctions", Resource: "*" }] }),
      }),
    );
    expect((await admin("ListRotationFunctions", {}, creds)).status).toBe(200);
    const denied = await admin("RegisterRotationFunction", { FunctionName: "sneaky", Webhook: { Url: "https://x.example", Secret: "s".repeat(16) } }, creds);
    expect(denied).toMatchObject({ status: 400, body: { __type: "AccessDeniedException" } });
    expect(String(denied.body.message)).toContain("coffer:RegisterRotationFunction");
  });
});
