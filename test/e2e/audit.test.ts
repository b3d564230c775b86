import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { CloudTrailClient, LookupEventsCommand } from "@aws-sdk/client-cloudtrail";
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from "@aws-sdk/client-iam";
import { CreateKeyCommand, EncryptCommand, KMSClient } from "@aws-sdk/client-kms";
import {
  CreateSecretCommand,
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretCommand,
} from "@aws-sdk/client-secrets-manager";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { operations as cloudtrailOps, metadata as cloudtrailMeta } from "../../src/api/cloudtrail/generated/operations.ts";
import { operations as cofferOps, metadata as cofferMeta } from "../../src/api/coffer/coffer-model.ts";
import { operations as iamOps, metadata as iamMeta } from "../../src/api/iam/generated/operations.ts";
import { operations as kmsOps, metadata as kmsMeta } from "../../src/api/kms/generated/operations.ts";
import { operations as smOps, metadata as smMeta } from "../../src/api/secretsmanager/generated/operations.ts";
import { operations as ssmOps, metadata as ssmMeta } from "../../src/api/ssm/generated/operations.ts";
import { operations as stsOps, metadata as stsMeta } from "../../src/api/sts/generated/operations.ts";
import { verifyAuditChain } from "../../src/audit/audit-verify.ts";
import type { AuditRow } from "../../src/storage/store.ts";
import { behindTheServer, onPostgres, startCoffer, type Running } from "./harness.ts";
import { rawCall } from "./raw.ts";

let run: Running;
beforeAll(async () => {
  run = await startCoffer();
});
afterAll(() => run.stop());

const client = <T>(Ctor: new (c: object) => T, credentials = run.credentials) =>
  new Ctor({ endpoint: run.url, region: "us-east-1", credentials, maxAttempts: 1 });

async function allRows(): Promise<AuditRow[]> {
  return run.coffer.store.listAuditRows(0, 1_000_000);
}

describe("one event per request", () => {
  it("every operation of every API produces exactly one event, whatever its outcome", async () => {
    const services = [
      { meta: smMeta, ops: smOps, json: true },
      { meta: ssmMeta, ops: ssmOps, json: true },
      { meta: kmsMeta, ops: kmsOps, json: true },
      { meta: cloudtrailMeta, ops: cloudtrailOps, json: true },
      { meta: cofferMeta, ops: cofferOps, json: true },
      { meta: iamMeta, ops: iamOps, json: false },
      { meta: stsMeta, ops: stsOps, json: false },
    ];
    let calls = 0;
    for (const { meta, ops, json } of services) {
      for (const operation of Object.keys(ops)) {
        const res = json
          ? await rawCall(run.url, {
              target: `${(meta as { targetPrefix: string }).targetPrefix}.${operation}`,
              body: "{}",
              credentials: run.credentials,
              service: meta.signingName,
            })
          : await rawCall(run.url, {
              body: `Action=${operation}&Version=${meta.apiVersion}`,
              contentType: "application/x-www-form-urlencoded; charset=utf-8",
              credentials: run.credentials,
              service: meta.signingName,
            });
        const requestId = res.headers.get("x-amzn-requestid");
        const events = (await allRows()).filter((r) => r.kind === "event" && JSON.parse(r.record).requestID === requestId);
        expect(events.length, `${meta.signingName}:${operation}`).toBe(1);
        const record = JSON.parse(events[0].record);
        expect(record.eventName).toBe(operation);
        expect(record.eventSource).toBe(`${meta.signingName}.amazonaws.com`);
        // Operations the model marks unsigned (AssumeRoleWithWebIdentity) ignore a signature: the token says who calls.
        const unsigned = (ops as Record<string, { noAuth?: boolean }>)[operation].noAuth === true;
        expect(record.userIdentity.type).toBe(unsigned ? "Unknown" : "Root");
        if (res.status !== 200) expect(record.errorCode).toBeDefined();
        calls++;
      }
    }
    expect(calls).toBeGreaterThan(300);
  }, 120_000); // over 300 requests one after another (several database round trips each on PostgreSQL)

  it("records unauthenticated and malformed requests too", async () => {
    const before = (await allRows()).length;
    const unsigned = await rawCall(run.url, { target: "secretsmanager.GetSecretValue", body: '{"SecretId":"x"}' });
    const forged = await rawCall(run.url, {
      target: "secretsmanager.ListSecrets",
      credentials: { accessKeyId: "AKIAFORGEDFORGED0000", secretAccessKey: "y".repeat(40) },
    });
    const rows = (await allRows()).slice(before).filter((r) => r.kind === "event").map((r) => JSON.parse(r.record));
    expect(rows.map((r) => r.errorCode)).toEqual(["MissingAuthenticationTokenException", "UnrecognizedClientException"]);
    expect(rows[1].userIdentity).toEqual({ type: "Unknown", accessKeyId: "AKIAFORGEDFORGED0000" });
    expect(rows[0].requestID).toBe(unsigned.headers.get("x-amzn-requestid"));
    expect(forged.status).toBe(400);
  });
});

describe("what events hold", () => {
  it("never holds a secret value, secret key, session token or plaintext", async () => {
    const canary = `CANARY-${randomUUID()}`;
    const sm = client(SecretsManagerClient);
    const before = (await allRows()).length;
    await sm.send(new CreateSecretCommand({ Name: "audit/planted", SecretString: canary }));
    await sm.send(new PutSecretValueCommand({ SecretId: "audit/planted", SecretBinary: Buffer.from(canary) }));
    await sm.send(new UpdateSecretCommand({ SecretId: "audit/planted", SecretString: `${canary}-2` }));
    await sm.send(new GetSecretValueCommand({ SecretId: "audit/planted", VersionStage: "AWSPREVIOUS" }));
    const password = (await sm.send(new GetRandomPasswordCommand({ PasswordLength: 40 }))).RandomPassword!;
    // A customer managed key: the AWS managed keys serve only through their service, as on AWS.
    const kms = client(KMSClient);
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
    await kms.send(new EncryptCommand({ KeyId: KeyMetadata!.Arn, Plaintext: Buffer.from(canary) }));
    const iam = client(IAMClient);
    await iam.send(new CreateUserCommand({ UserName: "audit-user" }));
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: "audit-user" }))).AccessKey!;
    const rows = (await allRows()).slice(before);
    const all = rows.map((r) => r.record).join("\n");
    for (const needle of [canary, Buffer.from(canary).toString("base64"), password, key.SecretAccessKey!]) {
      expect(all).not.toContain(needle);
    }
    const create = rows.map((r) => JSON.parse(r.record)).find((r) => r.eventName === "CreateSecret" && !r.intent);
    expect(create.requestParameters).toEqual({ name: "audit/planted", clientRequestToken: expect.any(String) });
    expect(create.responseElements).toEqual({ aRN: expect.stringMatching(/:secret:audit\/planted-/), name: "audit/planted", versionId: expect.any(String) });
    expect(create.resources[0]).toMatchObject({ type: "AWS::SecretsManager::Secret", accountId: "000000000000" });
    const get = rows.map((r) => JSON.parse(r.record)).find((r) => r.eventName === "GetSecretValue");
    expect(get.readOnly).toBe(true);
    expect(get.responseElements).toBeNull();
    expect(get.requestParameters).toEqual({ secretId: "audit/planted", versionStage: "AWSPREVIOUS" });
  });

  it("records an assumed role's session context, without the credentials it handed out", async () => {
    const iam = client(IAMClient);
    await iam.send(
      new (await import("@aws-sdk/client-iam")).CreateRoleCommand({
        RoleName: "audited",
        AssumeRolePolicyDocument: JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Principal: { AWS: "arn:aws:iam::000000000000:root" }, Action: "sts:AssumeRole" }],
        }),
      }),
    );
    const before = (await allRows()).length;
    const { Credentials } = await client(STSClient).send(new AssumeRoleCommand({ RoleArn: "arn:aws:iam::000000000000:role/audited", RoleSessionName: "nightly" }));
    const session = { accessKeyId: Credentials!.AccessKeyId!, secretAccessKey: Credentials!.SecretAccessKey!, sessionToken: Credentials!.SessionToken! };
    await client(SecretsManagerClient, session).send(new GetSecretValueCommand({ SecretId: "audit/planted" })).catch(() => undefined);
    const rows = (await allRows()).slice(before).map((r) => r.record);
    expect(rows.join()).not.toContain(Credentials!.SecretAccessKey);
    expect(rows.join()).not.toContain(Credentials!.SessionToken);
    const denied = JSON.parse(rows.find((r) => r.includes('"GetSecretValue"'))!);
    expect(denied.userIdentity).toMatchObject({
      type: "AssumedRole",
      arn: "arn:aws:sts::000000000000:assumed-role/audited/nightly",
      sessionContext: { sessionIssuer: { type: "Role", arn: "arn:aws:iam::000000000000:role/audited", userName: "audited" } },
    });
    expect(denied.errorCode).toBe("AccessDeniedException");
  });
});

describe("LookupEvents", () => {
  it("answers the AWS SDK and the aws CLI, one attribute at a time, newest first, paged", async () => {
    const sm = client(SecretsManagerClient);
    await sm.send(new CreateSecretCommand({ Name: "audit/lookup", SecretString: "x" }));
    for (let i = 0; i < 3; i++) await sm.send(new GetSecretValueCommand({ SecretId: "audit/lookup" }));
    const ct = client(CloudTrailClient);
    const page = await ct.send(
      new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: "EventName", AttributeValue: "GetSecretValue" }], MaxResults: 2 }),
    );
    expect(page.Events!.length).toBe(2);
    expect(page.Events![0].EventTime!.getTime()).toBeGreaterThanOrEqual(page.Events![1].EventTime!.getTime());
    expect(page.Events![0]).toMatchObject({ EventName: "GetSecretValue", EventSource: "secretsmanager.amazonaws.com", ReadOnly: "true", Username: "root" });
    expect(JSON.parse(page.Events![0].CloudTrailEvent!).eventName).toBe("GetSecretValue");
    const next = await ct.send(
      new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: "EventName", AttributeValue: "GetSecretValue" }], NextToken: page.NextToken }),
    );
    expect(next.Events!.length).toBeGreaterThan(0);
    expect(next.Events!.map((e) => e.EventId)).not.toContain(page.Events![0].EventId);
    const byResource = await ct.send(
      new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: "ResourceName", AttributeValue: page.Events![0].Resources![0].ResourceName! }] }),
    );
    expect(byResource.Events!.length).toBe(4);
    const two = await ct
      .send(
        new LookupEventsCommand({
          LookupAttributes: [
            { AttributeKey: "EventName", AttributeValue: "a" },
            { AttributeKey: "Username", AttributeValue: "b" },
          ],
        }),
      )
      .catch((e: Error) => e);
    expect((two as Error).name).toBe("InvalidLookupAttributesException");

    // The aws CLI v2 (Debian's awscli, which CI installs) reads the same trail.
    if (!existsSync("/usr/bin/aws")) {
      if (process.env.CI) throw new Error("/usr/bin/aws is required in CI");
      console.warn("skipping the aws cloudtrail lookup-events check: /usr/bin/aws not installed");
      return;
    }
    const { stdout } = await promisify(execFile)(
      "/usr/bin/aws",
      ["--endpoint-url", run.url, "--output", "json", "cloudtrail", "lookup-events", "--lookup-attributes", "AttributeKey=EventName,AttributeValue=CreateSecret", "--max-results", "1"],
      {
        env: {
          PATH: process.env.PATH,
          HOME: run.dataDir,
          AWS_ACCESS_KEY_ID: run.credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: run.credentials.secretAccessKey,
          AWS_DEFAULT_REGION: "us-east-1",
          AWS_CONFIG_FILE: "/nonexistent",
        },
      },
    );
    expect(JSON.parse(stdout).Events[0].EventName).toBe("CreateSecret");
  });

  it("needs cloudtrail:LookupEvents, and shows an account only its own events", async () => {
    const iam = client(IAMClient);
    await iam.send(new CreateUserCommand({ UserName: "no-trail" }));
    await iam.send(
      new PutUserPolicyCommand({
        UserName: "no-trail",
        PolicyName: "p",
        PolicyDocument: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "secretsmanager:*", Resource: "*" }] }),
      }),
    );
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: "no-trail" }))).AccessKey!;
    const err = await client(CloudTrailClient, { accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! })
      .send(new LookupEventsCommand({}))
      .catch((e: Error) => e);
    expect((err as Error).name).toBe("AccessDeniedException");

    const other = await run.coffer.identity.createAccessKey({ arn: "arn:aws:iam::222222222222:root", accountId: "222222222222", kind: "root" });
    const theirs = await client(CloudTrailClient, other).send(new LookupEventsCommand({}));
    for (const e of theirs.Events!) expect(JSON.parse(e.CloudTrailEvent!).recipientAccountId).toBe("222222222222");
  });
});

describe("tamper evidence", () => {
  const bin = fileURLToPath(new URL("../../bin/coffer.js", import.meta.url));
  const verifyCli = () =>
    promisify(execFile)(process.execPath, [bin, "audit", "verify", "--data-dir", run.dataDir]).then(
      (r) => ({ ok: true, out: r.stdout }),
      (e: { stderr: string }) => ({ ok: false, out: e.stderr }),
    );

  // Tampers with the SQLite file; verification reads through the Store, which multi-node.test.ts checks on PostgreSQL.
  it.skipIf(onPostgres)("verify passes on an untouched chain and names the first altered, removed or inserted event", async () => {
    await fetch(`${run.url}/health`);
    const intact = await verifyAuditChain(run.coffer.store, run.coffer.auditKey);
    expect(intact.ok).toBe(true);
    expect((await verifyCli()).out).toMatch(/^audit trail intact: \d+ entries/);

    const db = new Database(join(run.dataDir, "coffer.db"));
    try {
      const target = db.prepare("SELECT seq, record FROM audit_rows WHERE kind = 'event' ORDER BY seq LIMIT 1 OFFSET 5").get() as { seq: number; record: string };
      // Edit: someone rewrites who did it.
      db.prepare("UPDATE audit_rows SET record = ? WHERE seq = ?").run(target.record.replace('"Root"', '"IAMUser"'), target.seq);
      let r = await verifyAuditChain(run.coffer.store, run.coffer.auditKey);
      expect(r).toEqual({ ok: false, seq: target.seq, problem: `event ${target.seq} was altered` });
      const cli = await verifyCli();
      expect(cli.ok).toBe(false);
      expect(cli.out).toContain(`event ${target.seq} was altered`);
      db.prepare("UPDATE audit_rows SET record = ? WHERE seq = ?").run(target.record, target.seq);
      expect((await verifyAuditChain(run.coffer.store, run.coffer.auditKey)).ok).toBe(true);

      // Delete: an event disappears.
      const row = db.prepare("SELECT * FROM audit_rows WHERE seq = ?").get(target.seq + 1) as Record<string, unknown>;
      db.prepare("DELETE FROM audit_rows WHERE seq = ?").run(target.seq + 1);
      r = await verifyAuditChain(run.coffer.store, run.coffer.auditKey);
      expect(r).toEqual({ ok: false, seq: target.seq + 1, problem: `event ${target.seq + 1} removed` });

      // Insert: a forged event in its place, correctly hashed but not chained to what follows.
      const { chainHash } = await import("../../src/audit/audit-log.ts");
      const forged = (row.record as string).replace(/"eventName":"[^"]+"/, '"eventName":"Nothing"');
      db.prepare(
        `INSERT INTO audit_rows (seq, kind, time, event_id, event_name, event_source, account_ids, username, access_key_id, read_only, resources, record, prev_hash, hash)
         VALUES (@seq, @kind, @time, @event_id, 'Nothing', @event_source, @account_ids, @username, @access_key_id, @read_only, @resources, @record, @prev_hash, @hash)`,
      ).run({ ...row, record: forged, hash: chainHash(row.prev_hash as string, forged) });
      r = await verifyAuditChain(run.coffer.store, run.coffer.auditKey);
      expect(r).toEqual({
        ok: false,
        seq: target.seq + 2,
        problem: `event ${target.seq + 2} does not follow event ${target.seq + 1}: an event was inserted or removed here`,
      });
      db.prepare("DELETE FROM audit_rows WHERE seq = ?").run(target.seq + 1);
      db.prepare(
        `INSERT INTO audit_rows (seq, kind, time, event_id, event_name, event_source, account_ids, username, access_key_id, read_only, resources, record, prev_hash, hash)
         VALUES (@seq, @kind, @time, @event_id, @event_name, @event_source, @account_ids, @username, @access_key_id, @read_only, @resources, @record, @prev_hash, @hash)`,
      ).run(row);
      expect((await verifyAuditChain(run.coffer.store, run.coffer.auditKey)).ok).toBe(true);

      // Truncate the end: the signed head no longer matches.
      const last = db.prepare("SELECT * FROM audit_rows ORDER BY seq DESC LIMIT 1").get() as Record<string, unknown>;
      db.prepare("DELETE FROM audit_rows WHERE seq = ?").run(last.seq);
      r = await verifyAuditChain(run.coffer.store, run.coffer.auditKey);
      expect(r.ok).toBe(false);
      expect((r as { problem: string }).problem).toContain("removed from the end of the chain");
      db.prepare(
        `INSERT INTO audit_rows (seq, kind, time, event_id, event_name, event_source, account_ids, username, access_key_id, read_only, resources, record, prev_hash, hash)
         VALUES (@seq, @kind, @time, @event_id, @event_name, @event_source, @account_ids, @username, @access_key_id, @read_only, @resources, @record, @prev_hash, @hash)`,
      ).run(last);
    } finally {
      db.close();
    }
  });

  it("fails closed: a request whose event cannot be written is refused and has no effect", async () => {
    const sm = client(SecretsManagerClient);
    await sm.send(new CreateSecretCommand({ Name: "audit/closed", SecretString: "before" }));
    await behindTheServer(run, "ALTER TABLE audit_rows RENAME TO audit_rows_away");
    try {
      const write = await sm.send(new CreateSecretCommand({ Name: "audit/never", SecretString: "x" })).catch((e: Error) => e);
      expect((write as Error).name).toBe("InternalServiceError");
      expect((write as Error).message).toContain("audit trail");
      const read = await sm.send(new GetSecretValueCommand({ SecretId: "audit/closed" })).catch((e: Error) => e);
      expect((read as Error).name).toBe("InternalServiceError");
      expect(JSON.stringify(read)).not.toContain("before");
    } finally {
      await behindTheServer(run, "ALTER TABLE audit_rows_away RENAME TO audit_rows");
    }
    const missing = await sm.send(new GetSecretValueCommand({ SecretId: "audit/never" })).catch((e: Error) => e);
    expect((missing as Error).name).toBe("ResourceNotFoundException");
    expect((await sm.send(new GetSecretValueCommand({ SecretId: "audit/closed" }))).SecretString).toBe("before");
    expect((await verifyAuditChain(run.coffer.store, run.coffer.auditKey)).ok).toBe(true);
  });
});
