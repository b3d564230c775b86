import { createHash, createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { isCofferError } from "../shared/errors.ts";
import { openSqliteStore } from "../storage/sqlite/sqlite-store.ts";
import type { AuditRow, Store, StoreTx } from "../storage/store.ts";
import { signAlertBody } from "./alerts-delivery.ts";
import { CURSOR_SETTING, createAlerts, parseAlertRules, type AlertPayload, type AlertRule } from "./alerts.ts";
import type { CloudTrailEvent, UserIdentity } from "./audit-types.ts";
import { createWebhookClient } from "../services/webhook/webhook-client.ts";
import { webhookNetworks } from "../services/webhook/webhook-networks.ts";

/** The receiver is on loopback, which webhooks reach only when the operator allows it. */
const webhooks = createWebhookClient(webhookNetworks(["127.0.0.0/8"]));

const ACCOUNT = "111122223333";
const SM = "secretsmanager.amazonaws.com";
const DB_SECRET = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:prod/db-AbCdEf`;
const API_SECRET = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:prod/api-GhIjKl`;
const KEY_ARN = `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const BASE_TIME = Date.parse("2025-03-01T12:00:00Z");
const HOOK_SECRET = "0123456789abcdef-hook";

const user = (name: string): UserIdentity => ({
  type: "IAMUser",
  principalId: `AIDA${name.toUpperCase()}`,
  arn: `arn:aws:iam::${ACCOUNT}:user/${name}`,
  accountId: ACCOUNT,
  accessKeyId: `AKIA${name.toUpperCase()}`,
  userName: name,
});
const BOB = user("bob");
const ALICE = user("alice");
const roleSession = (session: string): UserIdentity => ({
  type: "AssumedRole",
  principalId: `AROADEPLOY:${session}`,
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/deploy/${session}`,
  accountId: ACCOUNT,
  accessKeyId: "ASIAEXAMPLE",
  sessionContext: {
    sessionIssuer: { type: "Role", arn: `arn:aws:iam::${ACCOUNT}:role/deploy`, accountId: ACCOUNT, userName: "deploy" },
    attributes: { mfaAuthenticated: "false" },
  },
});

/** A CloudTrail record as the audit layer writes one; `at` is seconds after BASE_TIME. */
function event(over: Partial<CloudTrailEvent> & { at?: number } = {}): CloudTrailEvent {
  const { at = 0, ...rest } = over;
  const eventName = rest.eventName ?? "GetSecretValue";
  return {
    eventVersion: "1.08",
    userIdentity: BOB,
    eventTime: new Date(BASE_TIME + at * 1000).toISOString().replace(/\.\d{3}Z$/, "Z"),
    eventSource: SM,
    eventName,
    awsRegion: "us-east-1",
    sourceIPAddress: "10.0.0.5",
    userAgent: "aws-sdk-js/3.0.0",
    requestParameters: { secretId: "prod/db" },
    responseElements: null,
    requestID: randomUUID(),
    eventID: randomUUID(),
    readOnly: eventName.startsWith("Get") || eventName.startsWith("BatchGet"),
    resources: [{ ARN: DB_SECRET, accountId: ACCOUNT, type: "AWS::SecretsManager::Secret" }],
    eventType: "AwsApiCall",
    managementEvent: true,
    recipientAccountId: ACCOUNT,
    eventCategory: "Management",
    ...rest,
  };
}

const denied = (over: Partial<CloudTrailEvent> & { at?: number } = {}) =>
  event({ errorCode: "AccessDeniedException", errorMessage: "User: bob is not authorized to perform: secretsmanager:GetSecretValue", ...over });
const badSignature = (ip: string, at: number) =>
  event({
    at,
    userIdentity: { type: "Unknown", accessKeyId: "AKIAUNKNOWN" },
    sourceIPAddress: ip,
    errorCode: "InvalidSignatureException",
    errorMessage: "The request signature we calculated does not match the signature you provided.",
    resources: undefined,
  });

/** Appends rows to the hash chain the way the audit log does. */
async function append(store: Store, ...items: (CloudTrailEvent | { intent: CloudTrailEvent })[]): Promise<void> {
  const head = await store.getAuditHead();
  let seq = head?.seq ?? 0;
  let prevHash = head?.hash ?? "0".repeat(64);
  const rows = items.map((item): AuditRow => {
    const intent = "intent" in item;
    const e = intent ? item.intent : item;
    const record = intent
      ? JSON.stringify({ intent: true, requestID: e.requestID, eventName: e.eventName, eventSource: e.eventSource, eventTime: e.eventTime, userIdentity: e.userIdentity, errorCode: "AccessDeniedException" })
      : JSON.stringify(e);
    const hash = createHash("sha256").update(prevHash).update("\n").update(record).digest("hex");
    const row: AuditRow = {
      seq: ++seq,
      kind: intent ? "intent" : "event",
      time: Date.parse(e.eventTime),
      eventId: e.eventID,
      eventName: e.eventName,
      eventSource: e.eventSource,
      accountIds: [ACCOUNT],
      readOnly: e.readOnly,
      resources: (e.resources ?? []).map((r) => ({ type: r.type, name: r.ARN })),
      record,
      prevHash,
      hash,
    };
    prevHash = hash;
    return row;
  });
  await store.transaction((tx) => tx.appendAuditRows(rows));
}

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
}

/** A webhook receiver on 127.0.0.1 that records every request and can be told to fail. */
async function startReceiver() {
  const received: Received[] = [];
  const state = { failNext: 0 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const status = state.failNext > 0 ? 503 : 204;
      if (status !== 204) state.failNext--;
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return {
    url,
    received,
    state,
    delivered: () => received.filter((r) => r.status === 204),
    payloads: () => received.filter((r) => r.status === 204).map((r) => JSON.parse(r.body) as AlertPayload),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const dir = mkdtempSync(join(tmpdir(), "coffer-alerts-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let store: Store;
let dbPath: string;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let clock: { t: number; now(): number };
let warnings: { obj: object; msg: string }[];
const logger = {
  warn: (obj: object, msg: string) => warnings.push({ obj, msg }),
  info: () => undefined,
};

beforeEach(async () => {
  dbPath = join(dir, `${randomUUID()}.db`);
  store = openSqliteStore(dbPath);
  receiver = await startReceiver();
  clock = { t: BASE_TIME, now: () => clock.t };
  warnings = [];
});
afterEach(async () => {
  await receiver.close();
  await store.close();
});

const rule = (name: string, type: Exclude<AlertRule["type"], "auth-failures">, webhook = receiver.url): AlertRule => ({ name, type, webhook, secret: HOOK_SECRET });
const authRule = (threshold: number, windowSeconds: number): AlertRule => ({
  name: "brute-force",
  type: "auth-failures",
  webhook: receiver.url,
  secret: HOOK_SECRET,
  threshold,
  windowSeconds,
});
const alertsFor = (rules: AlertRule[], s: Store = store, maxAttempts?: number) =>
  createAlerts({ store: s, rules: () => rules, clock, logger, maxAttempts, webhooks });
const outbox = (s: Store = store) => s.listDueAlerts(Number.MAX_SAFE_INTEGER, 100);
const byRule = (name: string) => receiver.payloads().filter((p) => p.alert === name);

describe("rules", () => {
  it("access-denied fires for a denied Secrets Manager call only", async () => {
    const alerts = alertsFor([rule("denied", "access-denied")]);
    await alerts.tick();
    await append(
      store,
      denied({ sourceIPAddress: "10.0.0.5" }),
      event({ eventSource: "kms.amazonaws.com", eventName: "Decrypt", errorCode: "AccessDeniedException", resources: [{ ARN: KEY_ARN, type: "AWS::KMS::Key" }] }),
      event(),
      event({ errorCode: "ResourceNotFoundException" }),
      { intent: denied() },
    );
    await alerts.tick();
    const payloads = byRule("denied");
    expect(payloads).toHaveLength(1);
    expect(payloads[0]).toMatchObject({ alert: "denied", type: "access-denied", time: "2025-03-01T12:00:00.000Z" });
    expect(payloads[0].summary).toBe(`arn:aws:iam::${ACCOUNT}:user/bob was denied secretsmanager:GetSecretValue on ${DB_SECRET} from 10.0.0.5`);
    expect(payloads[0].event.errorCode).toBe("AccessDeniedException");
    expect(payloads[0].count).toBeUndefined();
    await alerts.tick();
    expect(receiver.received).toHaveLength(1);
  });

  it("rotation-failed fires for a RotationFailed service event and a failed RotateSecret", async () => {
    const alerts = alertsFor([rule("rotation", "rotation-failed")]);
    await alerts.tick();
    await append(
      store,
      event({
        eventName: "RotationFailed",
        eventType: "AwsServiceEvent",
        userIdentity: { type: "AWSService", invokedBy: "secretsmanager.amazonaws.com" },
        sourceIPAddress: "secretsmanager.amazonaws.com",
        requestParameters: null,
        serviceEventDetails: { step: "testSecret" },
      }),
      event({ eventName: "RotateSecret", errorCode: "InvalidRequestException", at: 1 }),
      event({ eventName: "RotateSecret", at: 2 }),
      event({ eventName: "RotationSucceeded", eventType: "AwsServiceEvent", at: 3 }),
    );
    await alerts.tick();
    const payloads = byRule("rotation");
    expect(payloads.map((p) => p.summary)).toEqual([`Rotation of ${DB_SECRET} failed`, `Rotation of ${DB_SECRET} failed (InvalidRequestException)`]);
  });

  it("parameter-policy fires for Parameter Store policy events only, and access-denied for denied parameter calls", async () => {
    const alerts = alertsFor([rule("policies", "parameter-policy"), rule("denied", "access-denied")]);
    await alerts.tick();
    const PARAM = `arn:aws:ssm:us-east-1:${ACCOUNT}:parameter/prod/app/token`;
    const ssmService: Partial<CloudTrailEvent> = {
      eventType: "AwsServiceEvent",
      eventSource: "ssm.amazonaws.com",
      userIdentity: { type: "AWSService", invokedBy: "ssm.amazonaws.com" },
      sourceIPAddress: "ssm.amazonaws.com",
      requestParameters: null,
      resources: [{ ARN: PARAM, type: "AWS::SSM::Parameter" }],
    };
    await append(
      store,
      event({ ...ssmService, eventName: "ParameterExpirationNotification", serviceEventDetails: { name: "/prod/app/token", reason: "The parameter expires soon." } }),
      event({ ...ssmService, eventName: "DeleteParameter", serviceEventDetails: { name: "/prod/app/token" }, at: 1 }),
      // A caller's DeleteParameter is not a policy acting; a secret's scheduled deletion is not either.
      event({ eventSource: "ssm.amazonaws.com", eventName: "DeleteParameter", resources: [{ ARN: PARAM, type: "AWS::SSM::Parameter" }], at: 2 }),
      event({ eventName: "DeleteSecret", eventType: "AwsServiceEvent", at: 3 }),
      event({ eventSource: "ssm.amazonaws.com", eventName: "GetParameter", errorCode: "AccessDeniedException", resources: [{ ARN: PARAM, type: "AWS::SSM::Parameter" }], at: 4 }),
    );
    await alerts.tick();
    expect(byRule("policies").map((p) => p.summary)).toEqual([
      "Parameter /prod/app/token: The parameter expires soon.",
      "Parameter /prod/app/token expired and was deleted",
    ]);
    expect(byRule("denied").map((p) => p.summary)).toEqual([
      `arn:aws:iam::${ACCOUNT}:user/bob was denied ssm:GetParameter on ${PARAM} from 10.0.0.5`,
    ]);
  });

  it("first-read fires once per principal and secret, counting each secret of a batch read", async () => {
    const alerts = alertsFor([rule("first", "first-read")]);
    await alerts.tick();
    await append(
      store,
      event({ userIdentity: BOB }),
      event({ userIdentity: BOB, at: 1 }), // second read: nothing
      event({ userIdentity: ALICE, at: 2 }),
      denied({ userIdentity: { ...ALICE, arn: `arn:aws:iam::${ACCOUNT}:user/carol` }, at: 3 }), // failed: nothing
      event({ eventName: "DescribeSecret", userIdentity: user("dave"), at: 4 }), // not a value read
      event({
        eventName: "BatchGetSecretValue",
        userIdentity: BOB,
        requestParameters: { secretIdList: ["prod/db", "prod/api"] },
        resources: [
          { ARN: DB_SECRET, accountId: ACCOUNT, type: "AWS::SecretsManager::Secret" },
          { ARN: API_SECRET, accountId: ACCOUNT, type: "AWS::SecretsManager::Secret" },
        ],
        at: 5,
      }),
      // A role's sessions are one principal: the second session's read is not a first.
      event({ userIdentity: roleSession("job-1"), at: 6 }),
      event({ userIdentity: roleSession("job-2"), at: 7 }),
    );
    await alerts.tick();
    expect(byRule("first").map((p) => p.summary)).toEqual([
      `arn:aws:iam::${ACCOUNT}:user/bob read ${DB_SECRET} for the first time (secretsmanager:GetSecretValue from 10.0.0.5)`,
      `arn:aws:iam::${ACCOUNT}:user/alice read ${DB_SECRET} for the first time (secretsmanager:GetSecretValue from 10.0.0.5)`,
      `arn:aws:iam::${ACCOUNT}:user/bob read ${API_SECRET} for the first time (secretsmanager:BatchGetSecretValue from 10.0.0.5)`,
      `arn:aws:sts::${ACCOUNT}:assumed-role/deploy/job-1 read ${DB_SECRET} for the first time (secretsmanager:GetSecretValue from 10.0.0.5)`,
    ]);
    expect(await store.hasRead(BOB.arn!, API_SECRET)).toBe(true);
    expect(await store.hasRead(`arn:aws:iam::${ACCOUNT}:role/deploy`, DB_SECRET)).toBe(true);
    // A later batch: the reads table, not memory, says bob has read it.
    await append(store, event({ userIdentity: BOB, at: 10 }));
    await alerts.tick();
    expect(byRule("first")).toHaveLength(4);
  });

  it("auth-failures fires once when an address crosses the threshold, then again only after the window", async () => {
    const alerts = alertsFor([authRule(3, 60)]);
    await alerts.tick();
    await append(store, badSignature("203.0.113.9", 0), badSignature("203.0.113.9", 10), badSignature("203.0.113.9", 20));
    await append(store, badSignature("198.51.100.7", 21), badSignature("198.51.100.7", 22), badSignature("198.51.100.7", 23)); // another address
    await alerts.tick();
    expect(byRule("brute-force")).toHaveLength(0); // at the threshold, not over it

    await append(store, badSignature("203.0.113.9", 30), badSignature("203.0.113.9", 40), badSignature("203.0.113.9", 50));
    await alerts.tick();
    expect(byRule("brute-force")).toHaveLength(1);
    expect(byRule("brute-force")[0]).toMatchObject({ type: "auth-failures", count: 4, time: "2025-03-01T12:00:30.000Z" });
    expect(byRule("brute-force")[0].summary).toBe(
      "4 failed authentications from 203.0.113.9 within 60 s (latest: InvalidSignatureException on secretsmanager:GetSecretValue)",
    );

    // Failures spread wider than the window never cross it.
    await append(store, badSignature("192.0.2.1", 0), badSignature("192.0.2.1", 45), badSignature("192.0.2.1", 90), badSignature("192.0.2.1", 135));
    // 203.0.113.9 stays quiet until 12:01:30 (85 s: 4 in the window, no alert); a sustained attack then fires again.
    await append(store, badSignature("203.0.113.9", 85), badSignature("203.0.113.9", 91));
    await alerts.tick();
    expect(byRule("brute-force").map((p) => [p.event.sourceIPAddress, p.count, p.time])).toEqual([
      ["203.0.113.9", 4, "2025-03-01T12:00:30.000Z"],
      ["203.0.113.9", 4, "2025-03-01T12:01:31.000Z"],
    ]);
  });

  it("evaluates every rule against each event", async () => {
    const alerts = alertsFor([rule("denied", "access-denied"), rule("first", "first-read"), rule("rotation", "rotation-failed"), authRule(1, 60)]);
    await alerts.tick();
    await append(store, denied(), event({ at: 1 }), badSignature("203.0.113.9", 2), badSignature("203.0.113.9", 3));
    await alerts.tick();
    expect(receiver.payloads().map((p) => p.alert).sort()).toEqual(["brute-force", "denied", "first"]);
  });

  it("history logged before alerts first ran raises nothing but counts as read", async () => {
    await append(store, denied(), event({ userIdentity: BOB }));
    const alerts = alertsFor([rule("denied", "access-denied"), rule("first", "first-read")]);
    await alerts.tick();
    expect(receiver.received).toHaveLength(0);
    expect(await store.hasRead(BOB.arn!, DB_SECRET)).toBe(true);
    await append(store, event({ userIdentity: BOB, at: 5 }), event({ userIdentity: ALICE, at: 6 }), denied({ at: 7 }));
    await alerts.tick();
    expect(receiver.payloads().map((p) => `${p.alert} ${p.event.userIdentity.userName}`)).toEqual(["first alice", "denied bob"]);
  });
});

describe("delivery", () => {
  it("signs the body with the rule's secret", async () => {
    const alerts = alertsFor([rule("denied", "access-denied")]);
    await alerts.tick();
    await append(store, denied());
    await alerts.tick();
    const [req] = receiver.delivered();
    expect(req.headers["content-type"]).toBe("application/json");
    expect(req.headers["x-coffer-alert"]).toBe("denied");
    expect(req.headers["x-coffer-delivery"]).toMatch(/^[0-9a-f-]{36}$/);
    const verify = (body: string, secret = HOOK_SECRET) => {
      const expected = Buffer.from(`sha256=${createHmac("sha256", secret).update(body).digest("hex")}`);
      const got = Buffer.from(String(req.headers["x-coffer-signature"]));
      return got.length === expected.length && timingSafeEqual(got, expected);
    };
    expect(verify(req.body)).toBe(true);
    expect(verify(req.body.replace("10.0.0.5", "10.0.0.6"))).toBe(false);
    expect(verify(req.body, "another-secret-of-16+")).toBe(false);
    expect(signAlertBody(HOOK_SECRET, req.body)).toBe(req.headers["x-coffer-signature"]);
  });

  it("retries with backoff and delivers once the receiver recovers", async () => {
    receiver.state.failNext = 2;
    const alerts = alertsFor([rule("denied", "access-denied")]);
    await alerts.tick();
    await append(store, denied());
    await alerts.tick();
    let [queued] = await outbox();
    expect(queued).toMatchObject({ rule: "denied", attempts: 1, lastError: "HTTP 503" });
    expect(queued.nextAttemptAt - clock.t).toBeGreaterThanOrEqual(800);
    expect(queued.nextAttemptAt - clock.t).toBeLessThanOrEqual(1200);

    await alerts.tick(); // not due yet
    expect(receiver.received).toHaveLength(1);

    clock.t += 1200;
    await alerts.tick();
    [queued] = await outbox();
    expect(queued).toMatchObject({ attempts: 2, lastError: "HTTP 503" });
    expect(queued.nextAttemptAt - clock.t).toBeGreaterThanOrEqual(1600);
    expect(queued.nextAttemptAt - clock.t).toBeLessThanOrEqual(2400);
    expect(queued.lastError).not.toContain("AccessDenied"); // never the payload

    clock.t += 2400;
    await alerts.tick();
    expect(await outbox()).toEqual([]);
    expect(receiver.received.map((r) => r.status)).toEqual([503, 503, 204]);
    expect(new Set(receiver.received.map((r) => r.headers["x-coffer-delivery"])).size).toBe(1);
    expect(new Set(receiver.received.map((r) => r.body)).size).toBe(1);
  });

  it("keeps retrying when the receiver is down, without throwing, and gives up after maxAttempts", async () => {
    const down = await startReceiver();
    await down.close(); // nothing listens on its port now
    const alerts = alertsFor([rule("denied", "access-denied", down.url)], store, 3);
    await alerts.tick();
    await append(store, denied());
    await expect(alerts.tick()).resolves.toBeUndefined();
    expect(await outbox()).toMatchObject([{ attempts: 1, lastError: "ECONNREFUSED" }]);
    clock.t += 60_000;
    await expect(alerts.tick()).resolves.toBeUndefined();
    expect(await outbox()).toMatchObject([{ attempts: 2, lastError: "ECONNREFUSED" }]);
    clock.t += 60_000;
    await alerts.tick();
    expect(await outbox()).toEqual([]);
    expect(warnings).toEqual([{ obj: expect.objectContaining({ rule: "denied", attempts: 3, lastError: "ECONNREFUSED" }), msg: expect.stringMatching(/given up/) }]);
    expect(JSON.stringify(warnings)).not.toContain("/hook"); // the URL may carry a token
  });

  it("drops a delivery whose rule is no longer configured", async () => {
    receiver.state.failNext = 1;
    let rules: AlertRule[] = [rule("denied", "access-denied")];
    const alerts = createAlerts({ store, rules: () => rules, clock, logger, webhooks });
    await alerts.tick();
    await append(store, denied());
    await alerts.tick();
    expect(await outbox()).toHaveLength(1);
    rules = [];
    clock.t += 60_000;
    await alerts.tick();
    expect(await outbox()).toEqual([]);
    expect(receiver.received).toHaveLength(1);
    expect(warnings.map((w) => w.msg)).toEqual([expect.stringMatching(/no longer configured/)]);
  });
});

describe("durability", () => {
  it("delivers after a restart what was queued before it, and does not notify twice", async () => {
    receiver.state.failNext = 1;
    const rules = [rule("denied", "access-denied"), rule("first", "first-read")];
    const before = alertsFor(rules);
    await before.tick();
    await append(store, denied(), event({ at: 1 }));
    await before.tick(); // two notifications: one delivered, one left queued by the 503
    expect(await outbox()).toHaveLength(1);
    const cursor = await store.getSetting(CURSOR_SETTING);
    expect(cursor).toBe("2");

    // "Crash": drop the worker, reopen the database, start a new worker.
    await store.close();
    store = openSqliteStore(dbPath);
    const after = alertsFor(rules);
    clock.t += 60_000;
    await after.tick();
    expect(await outbox()).toEqual([]);
    expect(receiver.payloads().map((p) => p.alert).sort()).toEqual(["denied", "first"]);
    const ids = receiver.received.map((r) => r.headers["x-coffer-delivery"]);
    expect(new Set(ids).size).toBe(2); // the retried one kept its id

    await after.tick();
    await append(store, denied({ at: 90 }));
    await after.tick();
    expect(byRule("denied")).toHaveLength(2);
    expect(byRule("first")).toHaveLength(1);
    expect(await store.getSetting(CURSOR_SETTING)).toBe("3");
  });

  it("a batch whose transaction fails is evaluated again: nothing lost, nothing doubled", async () => {
    const rules = [rule("denied", "access-denied"), authRule(3, 60)];
    await alertsFor(rules).tick();
    let failures = 1;
    const real = store;
    const flaky: Store = {
      ...real,
      transaction: <T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> =>
        real.transaction((tx) =>
          fn({
            ...tx,
            putSetting: async (name: string, value: string) => {
              if (name === CURSOR_SETTING && failures-- > 0) throw new Error("disk I/O error");
              await tx.putSetting(name, value);
            },
          }),
        ),
    };
    const alerts = alertsFor(rules, flaky);
    await append(store, denied(), ...[1, 2, 3, 4].map((at) => badSignature("203.0.113.9", at)));
    await expect(alerts.tick()).rejects.toThrow("disk I/O error");
    expect(await outbox()).toEqual([]);
    expect(await store.getSetting(CURSOR_SETTING)).toBe("0");
    await alerts.tick();
    expect(receiver.payloads().map((p) => [p.alert, p.count])).toEqual([
      ["denied", undefined],
      ["brute-force", 4],
    ]);
  });

  it("rebuilds auth-failure windows from the log after a restart", async () => {
    const rules = [authRule(3, 60)];
    const before = alertsFor(rules);
    await before.tick();
    await append(store, badSignature("203.0.113.9", 0), badSignature("203.0.113.9", 5));
    await before.tick();
    await store.close();
    store = openSqliteStore(dbPath);
    const after = alertsFor(rules);
    await append(store, badSignature("203.0.113.9", 10), badSignature("203.0.113.9", 15), badSignature("203.0.113.9", 20));
    await after.tick();
    expect(byRule("brute-force").map((p) => p.count)).toEqual([4]);
  });

  it("start() polls in the background and stop() waits for the tick in progress", async () => {
    const alerts = createAlerts({ store, rules: () => [rule("denied", "access-denied")], clock, logger, pollMs: 5, webhooks });
    await alerts.tick();
    alerts.start();
    alerts.start(); // idempotent
    await append(store, denied());
    for (let i = 0; i < 200 && receiver.delivered().length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    await alerts.stop();
    expect(receiver.delivered()).toHaveLength(1);
    await append(store, denied({ at: 1 }));
    await new Promise((r) => setTimeout(r, 30));
    expect(receiver.delivered()).toHaveLength(1);
  });
  it("a failing tick in the background is logged and the next one runs", async () => {
    let calls = 0;
    const rules = () => {
      if (calls++ === 0) throw new Error("config unreadable");
      return [rule("denied", "access-denied")];
    };
    await alertsFor([]).tick();
    await append(store, denied());
    const alerts = createAlerts({ store, rules, clock, logger, pollMs: 5, webhooks });
    alerts.start();
    for (let i = 0; i < 200 && receiver.delivered().length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    await alerts.stop();
    expect(warnings).toEqual([{ obj: { err: { message: "config unreadable" } }, msg: "alerts tick failed" }]);
    expect(receiver.delivered()).toHaveLength(1);
  });
});

describe("parseAlertRules", () => {
  const good = { name: "db-denied", type: "access-denied", webhook: "https://hooks.example.com/coffer", secret: "s".repeat(16) };

  it("accepts a valid list and treats a missing one as no rules", () => {
    expect(parseAlertRules(undefined)).toEqual([]);
    expect(parseAlertRules([good, { ...good, name: "brute", type: "auth-failures", threshold: 10, windowSeconds: 300 }])).toEqual([
      good,
      { ...good, name: "brute", type: "auth-failures", threshold: 10, windowSeconds: 300 },
    ]);
  });

  it.each([
    [{ alerts: [] }, /"alerts" must be a list/],
    [["x"], /alerts\[0\] must be an object/],
    [[{ ...good, name: "" }], /alerts\[0\]: name must be/],
    [[{ ...good, name: "bad name\r\nx: y" }], /name must be 1-64 letters/],
    [[good, good], /alerts\[1\]: the name "db-denied" is already used/],
    [[{ ...good, type: "denied" }], /alert rule "db-denied": type must be one of access-denied, rotation-failed, first-read, auth-failures, parameter-policy/],
    [[{ ...good, webhook: "ftp://example.com/x" }], /webhook must be an http:\/\/ or https:\/\/ URL/],
    [[{ ...good, webhook: "not a url" }], /webhook must be an http/],
    [[{ ...good, secret: "short" }], /secret must be a string of at least 16 characters/],
    [[{ ...good, secret: undefined }], /secret must be/],
    [[{ ...good, threshold: 3 }], /unknown field "threshold" for type access-denied/],
    [[{ ...good, type: "auth-failures", windowSeconds: 60 }], /threshold must be a positive integer/],
    [[{ ...good, type: "auth-failures", threshold: 0, windowSeconds: 60 }], /threshold must be a positive integer/],
    [[{ ...good, type: "auth-failures", threshold: 5, windowSeconds: 1.5 }], /windowSeconds must be a positive integer/],
    [[{ ...good, type: "auth-failures", threshold: 5, windowSeconds: "60" }], /windowSeconds must be a positive integer/],
  ])("rejects %j", (config, message) => {
    let thrown: unknown;
    try {
      parseAlertRules(config);
    } catch (err) {
      thrown = err;
    }
    expect(isCofferError(thrown) && thrown.code).toBe("InvalidParameter");
    expect((thrown as Error).message).toMatch(message);
    expect((thrown as Error).message).not.toContain("sssssssssssssss");
  });
});

describe("following the trail", () => {
  /** Appends to the store and hands the committed rows to the worker, as the audit log's onCommitted does. */
  async function appendFed(alerts: { feed(rows: AuditRow[]): void }, ...events: CloudTrailEvent[]) {
    const from = ((await store.getAuditHead())?.seq ?? 0) + 1;
    await append(store, ...events);
    alerts.feed(await store.listAuditRows(from, 1000));
  }

  it("evaluates fed rows without reading them back (it only looks for rows it was not fed); rows that raise nothing move the stored cursor later, and a crash before then raises nothing twice", async () => {
    const rules = [rule("first", "first-read")];
    let rowReads = 0;
    const counting: Store = {
      ...store,
      listAuditRows: async (from, limit) => {
        const rows = await store.listAuditRows(from, limit);
        rowReads += rows.length;
        return rows;
      },
    };
    const alerts = alertsFor(rules, counting);
    await alerts.tick();
    await appendFed(alerts, event({ at: 1 }));
    await alerts.tick();
    expect(byRule("first")).toHaveLength(1);
    expect(await store.getSetting(CURSOR_SETTING)).toBe("1"); // a first read is recorded at once
    await appendFed(alerts, event({ at: 2 }), event({ at: 3 }));
    await alerts.tick();
    expect(rowReads).toBe(0);
    expect(await store.getSetting(CURSOR_SETTING)).toBe("1"); // nothing raised: no transaction for it

    // "Crash": a new worker starts from the stored cursor and evaluates rows 2 and 3 again, raising nothing.
    const after = alertsFor(rules);
    await after.tick();
    expect(byRule("first")).toHaveLength(1);
    expect(await store.getSetting(CURSOR_SETTING)).toBe("3");
  });

  it("stores a quiet cursor after a while, and on stop", async () => {
    const alerts = alertsFor([rule("denied", "access-denied")]);
    await alerts.tick();
    await appendFed(alerts, event({ at: 1 }));
    await alerts.tick();
    expect(await store.getSetting(CURSOR_SETTING)).toBe("1"); // the first batch of a worker is stored
    await appendFed(alerts, event({ at: 2 }));
    await alerts.tick();
    expect(await store.getSetting(CURSOR_SETTING)).toBe("1");
    clock.t += 11_000;
    await appendFed(alerts, event({ at: 3 }));
    await alerts.tick();
    expect(await store.getSetting(CURSOR_SETTING)).toBe("3");
    await appendFed(alerts, event({ at: 4 }));
    await alerts.tick();
    expect(await store.getSetting(CURSOR_SETTING)).toBe("3");
    await alerts.stop();
    expect(await store.getSetting(CURSOR_SETTING)).toBe("4");
  });

  it("reads from the store what the feed missed", async () => {
    const alerts = alertsFor([rule("denied", "access-denied")]);
    await alerts.tick();
    await append(store, denied({ at: 1 })); // not fed
    await appendFed(alerts, denied({ at: 2 }));
    await alerts.tick();
    expect(byRule("denied")).toHaveLength(2);
  });
});
