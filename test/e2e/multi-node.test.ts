import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { CloudTrailClient, LookupEventsCommand, type Event } from "@aws-sdk/client-cloudtrail";
import {
  AddUserToGroupCommand,
  AttachGroupPolicyCommand,
  AttachUserPolicyCommand,
  CreateAccessKeyCommand,
  CreateGroupCommand,
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  CreateUserCommand,
  DeleteUserPermissionsBoundaryCommand,
  DetachUserPolicyCommand,
  IAMClient,
  PutUserPermissionsBoundaryCommand,
  PutUserPolicyCommand,
  RemoveUserFromGroupCommand,
  SetDefaultPolicyVersionCommand,
  UpdateAccessKeyCommand,
} from "@aws-sdk/client-iam";
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshSchema, postgresUnavailable } from "../postgres.ts";
import { printedCredentials, spawnServer, type Spawned } from "./spawn.ts";
import { spawnedCleanup } from "./spawned.ts";

/**
 * Several Coffer nodes on one PostgreSQL database, as docs/deploy.md runs
 * them: each its own process and data directory, one master key, one
 * database. What one node acknowledged, every node serves at once; writes
 * racing through different nodes keep the staging labels consistent; a node
 * killed mid-write loses nothing it acknowledged; a rotation runs once, and a
 * node killed mid-rotation has it finished by another; the audit trail of all
 * nodes is one chain that verifies.
 */
const unavailable = await postgresUnavailable();
const bin = fileURLToPath(new URL("../../bin/coffer.js", import.meta.url));
const run = promisify(execFile);
type Credentials = { accessKeyId: string; secretAccessKey: string };

describe.skipIf(unavailable !== undefined)(`several nodes on one PostgreSQL${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  const { tempDir, track } = spawnedCleanup("coffer-multi-", "file");
  const masterKey = randomBytes(32).toString("base64");
  let database: Awaited<ReturnType<typeof freshSchema>>;
  let receiver: Server;
  let receiverUrl = "";
  /** Webhook rotation calls as they arrive: step and token. */
  const calls: { step: string; token: string }[] = [];
  /** Steps whose webhook call has been answered (its writes acknowledged). */
  const answered: string[] = [];
  let onStep: (step: string, secretId: string, token: string) => Promise<void> = async () => undefined;

  const nodes: { name: string; dir: string; server: Spawned }[] = [];
  let credentials: Credentials;
  let sharedArn = "";
  const env = () => ({
    COFFER_DATABASE_URL: database.url,
    COFFER_MASTER_KEY: masterKey,
    COFFER_ROTATION_POLL_SECONDS: "1",
    COFFER_ROTATION_STEP_TIMEOUT_SECONDS: "3",
    COFFER_WEBHOOK_ALLOWED_NETWORKS: "127.0.0.0/8",
    COFFER_LOG_LEVEL: "warn",
  });

  async function startNode(name: string, dir = tempDir()): Promise<Spawned> {
    const server = track(await spawnServer(["--data-dir", dir], { ...env(), COFFER_NODE_ID: name }));
    const existing = nodes.findIndex((n) => n.name === name);
    if (existing >= 0) nodes[existing] = { name, dir, server };
    else nodes.push({ name, dir, server });
    return server;
  }
  const node = (name: string) => nodes.find((n) => n.name === name)!;
  const sm = (name: string, creds = credentials) =>
    new SecretsManagerClient({ endpoint: node(name).server.url, region: "us-east-1", credentials: creds, maxAttempts: 1 });

  beforeAll(async () => {
    database = await freshSchema("coffer_multi");
    receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", async () => {
        const event = JSON.parse(body) as { Step: string; SecretId: string; ClientRequestToken: string };
        calls.push({ step: event.Step, token: event.ClientRequestToken });
        try {
          await onStep(event.Step, event.SecretId, event.ClientRequestToken);
          answered.push(event.Step);
          res.writeHead(200).end("{}");
        } catch (err) {
          res.writeHead(500).end((err as Error).message);
        }
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/rotate`;
    // The first node to start on an empty database creates the administrator; the others find it.
    const a = await startNode("node-a");
    credentials = printedCredentials(a.output());
    await Promise.all([startNode("node-b"), startNode("node-c")]);
    for (const n of ["node-b", "node-c"]) expect(node(n).server.output()).not.toContain("AWS_SECRET_ACCESS_KEY=");
  }, 60_000);

  afterAll(async () => {
    receiver?.close();
    await database?.drop();
  });

  it("serves a write acknowledged by one node from every other at once", async () => {
    const names = ["node-a", "node-b", "node-c"];
    const clients = Object.fromEntries(names.map((n) => [n, sm(n)]));
    sharedArn = (await clients["node-a"].send(new CreateSecretCommand({ Name: "shared/db", SecretString: "v0" }))).ARN!;
    for (let i = 1; i <= 30; i++) {
      const writer = names[i % 3];
      const put = await clients[writer].send(new PutSecretValueCommand({ SecretId: "shared/db", SecretString: `v${i}` }));
      for (const reader of names.filter((n) => n !== writer)) {
        const got = await clients[reader].send(new GetSecretValueCommand({ SecretId: "shared/db" }));
        expect([reader, got.SecretString, got.VersionId]).toEqual([reader, `v${i}`, put.VersionId]);
      }
    }
    for (const c of Object.values(clients)) c.destroy();
  });

  it("applies an IAM change made on one node on every other at once: a new key works, a deactivated one stops", async () => {
    const iam = new IAMClient({ endpoint: node("node-a").server.url, region: "us-east-1", credentials, maxAttempts: 1 });
    await iam.send(new CreateUserCommand({ UserName: "app" }));
    await iam.send(
      new PutUserPolicyCommand({
        UserName: "app",
        PolicyName: "read",
        PolicyDocument: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: "*" }] }),
      }),
    );
    const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: "app" }));
    const app = { accessKeyId: AccessKey!.AccessKeyId!, secretAccessKey: AccessKey!.SecretAccessKey! };
    const onB = sm("node-b", app);
    expect((await onB.send(new GetSecretValueCommand({ SecretId: "shared/db" }))).SecretString).toBe("v30");
    await iam.send(new UpdateAccessKeyCommand({ UserName: "app", AccessKeyId: app.accessKeyId, Status: "Inactive" }));
    await expect(onB.send(new GetSecretValueCommand({ SecretId: "shared/db" }))).rejects.toMatchObject({ name: "UnrecognizedClientException" });
    onB.destroy();
    iam.destroy();
  });

  it("applies managed policy changes made on one node on every other at once: attach, default version, group, boundary", async () => {
    const iam = new IAMClient({ endpoint: node("node-a").server.url, region: "us-east-1", credentials, maxAttempts: 1 });
    const doc = (Resource: string) =>
      JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource }] });
    await iam.send(new CreateUserCommand({ UserName: "managed-app" }));
    const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: "managed-app" }));
    const onC = sm("node-c", { accessKeyId: AccessKey!.AccessKeyId!, secretAccessKey: AccessKey!.SecretAccessKey! });
    // A secret of its own: the audit-trail test below counts shared/db's events.
    await sm("node-a").send(new CreateSecretCommand({ Name: "managed/db", SecretString: "managed" }));
    const reads = async () =>
      onC.send(new GetSecretValueCommand({ SecretId: "managed/db" })).then(
        () => "ok",
        (err: Error) => err.name,
      );
    expect(await reads()).toBe("AccessDeniedException");
    const arn = (await iam.send(new CreatePolicyCommand({ PolicyName: "read-shared", PolicyDocument: doc("*") }))).Policy!.Arn!;
    await iam.send(new AttachUserPolicyCommand({ UserName: "managed-app", PolicyArn: arn }));
    expect(await reads()).toBe("ok");
    await iam.send(new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: doc("arn:aws:secretsmanager:*:*:secret:other/*"), SetAsDefault: true }));
    expect(await reads()).toBe("AccessDeniedException");
    await iam.send(new SetDefaultPolicyVersionCommand({ PolicyArn: arn, VersionId: "v1" }));
    expect(await reads()).toBe("ok");
    await iam.send(new PutUserPermissionsBoundaryCommand({ UserName: "managed-app", PermissionsBoundary: "arn:aws:iam::aws:policy/AmazonSSMReadOnlyAccess" }));
    expect(await reads()).toBe("AccessDeniedException");
    await iam.send(new DeleteUserPermissionsBoundaryCommand({ UserName: "managed-app" }));
    await iam.send(new DetachUserPolicyCommand({ UserName: "managed-app", PolicyArn: arn }));
    expect(await reads()).toBe("AccessDeniedException");
    await iam.send(new CreateGroupCommand({ GroupName: "shared-readers" }));
    await iam.send(new AttachGroupPolicyCommand({ GroupName: "shared-readers", PolicyArn: arn }));
    await iam.send(new AddUserToGroupCommand({ GroupName: "shared-readers", UserName: "managed-app" }));
    expect(await reads()).toBe("ok");
    await iam.send(new RemoveUserFromGroupCommand({ GroupName: "shared-readers", UserName: "managed-app" }));
    expect(await reads()).toBe("AccessDeniedException");
    onC.destroy();
    iam.destroy();
  });

  it("keeps exactly one AWSCURRENT and a consistent AWSPREVIOUS under PutSecretValue racing through three nodes", async () => {
    const clients = ["node-a", "node-b", "node-c"].map((n) => sm(n));
    await clients[0].send(new CreateSecretCommand({ Name: "race/db", SecretString: "start" }));
    const acknowledged: string[] = [];
    await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const r = await clients[i % 3].send(new PutSecretValueCommand({ SecretId: "race/db", SecretString: `w${i}` }));
        acknowledged.push(r.VersionId!);
      }),
    );
    expect(acknowledged).toHaveLength(30);
    const { Versions } = await clients[1].send(new ListSecretVersionIdsCommand({ SecretId: "race/db", IncludeDeprecated: true }));
    const withStage = (stage: string) => Versions!.filter((v) => v.VersionStages?.includes(stage));
    expect(withStage("AWSCURRENT")).toHaveLength(1);
    expect(withStage("AWSPREVIOUS")).toHaveLength(1);
    const current = withStage("AWSCURRENT")[0];
    const previous = withStage("AWSPREVIOUS")[0];
    expect(acknowledged).toContain(current.VersionId);
    expect(previous.VersionId).not.toBe(current.VersionId);
    // Every acknowledged version is there, and AWSCURRENT is what every node serves.
    for (const id of acknowledged) expect(Versions!.map((v) => v.VersionId)).toContain(id);
    for (const c of clients) expect((await c.send(new GetSecretValueCommand({ SecretId: "race/db" }))).VersionId).toBe(current.VersionId);

    // The same ClientRequestToken through two nodes at once is one version; a second name claim through another node fails.
    const token = "0c8d5a4e-1b7e-4f6a-9a57-3d2e1f0a9b8c";
    const same = await Promise.allSettled(clients.slice(0, 2).map((c) => c.send(new PutSecretValueCommand({ SecretId: "race/db", ClientRequestToken: token, SecretString: "same" }))));
    expect(same.map((r) => r.status)).toEqual(["fulfilled", "fulfilled"]);
    const created = await Promise.allSettled(clients.map((c, i) => c.send(new CreateSecretCommand({ Name: "race/unique", SecretString: `n${i}` }))));
    expect(created.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of created.filter((r): r is PromiseRejectedResult => r.status === "rejected")) expect(r.reason).toMatchObject({ name: "ResourceExistsException" });
    for (const c of clients) c.destroy();
  });

  it("loses no write a node acknowledged before it was killed with SIGKILL, and the restarted node serves on", async () => {
    const writer = sm("node-c");
    await writer.send(new CreateSecretCommand({ Name: "kill/db", SecretString: "k0" }));
    const acknowledged: string[] = [];
    let stop = false;
    const load = Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        try {
          const r = await writer.send(new PutSecretValueCommand({ SecretId: "kill/db", SecretString: `k-${w}-${i}` }));
          acknowledged.push(r.VersionId!);
        } catch {
          // Cut off by the kill: never acknowledged, so no promise about it.
        }
      }
    });
    while (acknowledged.length < 40) await new Promise((r) => setTimeout(r, 20));
    node("node-c").server.child.kill("SIGKILL");
    await node("node-c").server.exited;
    stop = true;
    await Promise.all(load);
    writer.destroy();
    const reader = sm("node-a");
    const { Versions } = await reader.send(new ListSecretVersionIdsCommand({ SecretId: "kill/db", IncludeDeprecated: true }));
    const stored = new Set(Versions!.map((v) => v.VersionId));
    expect(acknowledged.filter((id) => !stored.has(id))).toEqual([]);
    expect(Versions!.filter((v) => v.VersionStages?.includes("AWSCURRENT"))).toHaveLength(1);
    reader.destroy();
    await startNode("node-c", node("node-c").dir);
    const again = sm("node-c");
    expect((await again.send(new DescribeSecretCommand({ SecretId: "kill/db" }))).Name).toBe("kill/db");
    again.destroy();
  }, 60_000);

  /** Registers the test's webhook as a rotation function (through node A's admin API) once. */
  let registered = false;
  async function registerWebhook(): Promise<string> {
    if (!registered) {
      const { rawCall } = await import("./raw.ts");
      const res = await rawCall(node("node-a").server.url, {
        target: "Coffer.RegisterRotationFunction",
        body: JSON.stringify({ FunctionName: "multi", Webhook: { Url: receiverUrl, Secret: "multi-node-webhook-secret" } }),
        credentials,
        service: "coffer",
      });
      expect(res.status).toBe(200);
      registered = true;
    }
    return "arn:aws:lambda:us-east-1:000000000000:function:multi";
  }

  /** A rotation function doing its steps through whichever node `via` names, the way a real one calls Coffer. */
  function rotateThrough(via: () => string, stepDelayMs: number) {
    onStep = async (step, secretId, token) => {
      await new Promise((r) => setTimeout(r, stepDelayMs));
      const c = sm(via());
      try {
        if (step === "createSecret") {
          await c.send(new PutSecretValueCommand({ SecretId: secretId, ClientRequestToken: token, SecretString: `rotated-${token}`, VersionStages: ["AWSPENDING"] }));
        }
        if (step === "finishSecret") {
          const d = await c.send(new DescribeSecretCommand({ SecretId: secretId }));
          const current = Object.entries(d.VersionIdsToStages!).find(([, s]) => s.includes("AWSCURRENT"))![0];
          if (current !== token) {
            await c.send(new UpdateSecretVersionStageCommand({ SecretId: secretId, VersionStage: "AWSCURRENT", MoveToVersionId: token, RemoveFromVersionId: current }));
          }
        }
      } finally {
        c.destroy();
      }
    };
  }

  it("runs a rotation once while every node's scheduler sees it due", async () => {
    const fn = await registerWebhook();
    calls.length = 0;
    // Slow steps: every node's scheduler (1 s) looks at the rotation several times while it runs.
    rotateThrough(() => "node-b", 1200);
    const a = sm("node-a");
    await a.send(new CreateSecretCommand({ Name: "rot/once", SecretString: "before" }));
    const r = await a.send(new RotateSecretCommand({ SecretId: "rot/once", RotationLambdaARN: fn, RotationRules: { AutomaticallyAfterDays: 30 } }));
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && !calls.some((c) => c.step === "finishSecret")) await new Promise((res) => setTimeout(res, 200));
    await new Promise((res) => setTimeout(res, 3000)); // time for a second run, were there one
    expect(calls).toEqual(["createSecret", "setSecret", "testSecret", "finishSecret"].map((step) => ({ step, token: r.VersionId })));
    expect((await a.send(new GetSecretValueCommand({ SecretId: "rot/once" }))).SecretString).toBe(`rotated-${r.VersionId}`);
    a.destroy();
  }, 60_000);

  it("finishes, on another node, a rotation whose node was killed mid-step, from the step where it stopped", async () => {
    const fn = await registerWebhook();
    calls.length = 0;
    let hang = true;
    let reached: () => void = () => undefined;
    const atSetSecret = new Promise<void>((r) => (reached = r));
    rotateThrough(() => "node-c", 0);
    const steps = onStep;
    onStep = async (step, secretId, token) => {
      if (step === "setSecret" && hang) {
        hang = false;
        reached();
        await new Promise(() => undefined); // never answers: its node dies waiting
      }
      await steps(step, secretId, token);
    };
    const b = sm("node-b");
    await b.send(new CreateSecretCommand({ Name: "rot/takeover", SecretString: "before" }));
    const r = await b.send(new RotateSecretCommand({ SecretId: "rot/takeover", RotationLambdaARN: fn }));
    await atSetSecret;
    node("node-b").server.child.kill("SIGKILL");
    await node("node-b").server.exited;
    b.destroy();
    // Node B's claim lapses (2 × (step timeout 3 s + 5 s margin)); node A or C resumes at setSecret with the same token.
    const deadline = Date.now() + 45_000;
    answered.length = 0;
    while (Date.now() < deadline && !answered.includes("finishSecret")) await new Promise((res) => setTimeout(res, 250));
    expect(calls.map((c) => c.step)).toEqual(["createSecret", "setSecret", "setSecret", "testSecret", "finishSecret"]);
    expect(new Set(calls.map((c) => c.token))).toEqual(new Set([r.VersionId]));
    const a = sm("node-a");
    expect((await a.send(new GetSecretValueCommand({ SecretId: "rot/takeover" }))).SecretString).toBe(`rotated-${r.VersionId}`);
    a.destroy();
    await startNode("node-b", node("node-b").dir);
  }, 90_000);

  it("keeps one audit trail: every node's events in LookupEvents, and `coffer audit verify` passes", async () => {
    const trail = new CloudTrailClient({ endpoint: node("node-b").server.url, region: "us-east-1", credentials, maxAttempts: 1 });
    const Events: Event[] = [];
    let NextToken: string | undefined;
    do {
      const page = await trail.send(
        new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: "ResourceName", AttributeValue: sharedArn }], MaxResults: 50, NextToken }),
      );
      Events.push(...page.Events!);
      NextToken = page.NextToken;
    } while (NextToken);
    trail.destroy();
    // The first test wrote shared/db 30 times, through each of the three nodes in turn.
    expect(Events.filter((e) => e.EventName === "PutSecretValue")).toHaveLength(30);
    // Each read answered is recorded once, also when it ran twice because another node had just written:
    // 60 in the first test, 1 by the new user's key in the second.
    expect(Events.filter((e) => e.EventName === "GetSecretValue")).toHaveLength(61);
    const times = Events.map((e) => e.EventTime!.getTime());
    expect([...times].sort((x, y) => y - x)).toEqual(times);
    const verify = await run(process.execPath, [bin, "audit", "verify", "--data-dir", tempDir()], { env: { ...process.env, ...env() } });
    expect(verify.stdout).toContain("audit trail intact");
  }, 60_000);
});
