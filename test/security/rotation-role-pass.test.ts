import { CreateSecretCommand, GetSecretValueCommand, RotateSecretCommand, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { CreateRoleCommand, IAMClient } from "@aws-sdk/client-iam";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failure, startCoffer, type Running } from "../e2e/harness.ts";
import { rawCall } from "../e2e/raw.ts";

/**
 * Issue 12, item 2: a rotation's execution role is the caller's to pass (its
 * own account's, with iam:PassRole, or one whose trust policy names it), and
 * the rotation function must be in the caller's account.
 */

const FOUNDING = "000000000000";
const TENANT = "111122223333";
let run: Running;
let tenant: { accessKeyId: string; secretAccessKey: string };
let tenantSm: SecretsManagerClient;
const fn = (account: string, name: string) => `arn:aws:lambda:us-east-1:${account}:function:${name}`;
const trust = (principal: string) =>
  JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { AWS: principal }, Action: "sts:AssumeRole" }] });
const command = new URL("../fixtures/command-rotator.mjs", import.meta.url).pathname;

async function admin(operation: string, body: object, credentials = run.credentials) {
  const res = await rawCall(run.url, { target: `Coffer.${operation}`, body: JSON.stringify(body), credentials, service: "coffer" });
  return { status: res.status, body: res.json() };
}

beforeAll(async () => {
  run = await startCoffer();
  tenant = await run.coffer.identity.createAccessKey({ arn: `arn:aws:iam::${TENANT}:root`, accountId: TENANT, kind: "root" });
  tenantSm = run.clientFor(tenant);
  const tenantIam = new IAMClient({ endpoint: run.url, region: "us-east-1", credentials: tenant, maxAttempts: 1 });
  // The tenant's own role, trusted by nobody outside its account: its credentials are the prize.
  await tenantIam.send(new CreateRoleCommand({ RoleName: "tenant-admin", AssumeRolePolicyDocument: trust(`arn:aws:iam::${TENANT}:root`) }));
  // A role the tenant explicitly lets the founding account use.
  await tenantIam.send(new CreateRoleCommand({ RoleName: "shared", AssumeRolePolicyDocument: trust(`arn:aws:iam::${FOUNDING}:root`) }));
  const iam = new IAMClient({ endpoint: run.url, region: "us-east-1", credentials: run.credentials, maxAttempts: 1 });
  await iam.send(new CreateRoleCommand({ RoleName: "rotator", AssumeRolePolicyDocument: trust(`arn:aws:iam::${FOUNDING}:root`) }));
});
afterAll(() => run.stop());

describe("the execution role must be the caller's to pass", () => {
  it("refuses a role of another account that does not trust the caller", async () => {
    const res = await admin("RegisterRotationFunction", {
      FunctionName: "steal",
      Command: { Program: process.execPath, Args: [command], RoleArn: `arn:aws:iam::${TENANT}:role/tenant-admin` },
    });
    expect(res).toMatchObject({ status: 400, body: { __type: "AccessDeniedException" } });
    expect(String(res.body.message)).toContain(`arn:aws:iam::${TENANT}:role/tenant-admin`);
  });

  it("accepts the caller's own role, and another account's role whose trust policy names the caller", async () => {
    const own = await admin("RegisterRotationFunction", { FunctionName: "own", Command: { Program: "/bin/true", RoleArn: `arn:aws:iam::${FOUNDING}:role/rotator` } });
    expect(own.status).toBe(200);
    const shared = await admin("RegisterRotationFunction", { FunctionName: "shared", Command: { Program: "/bin/true", RoleArn: `arn:aws:iam::${TENANT}:role/shared` } });
    expect(shared.status).toBe(200);
    const missing = await admin("RegisterRotationFunction", { FunctionName: "ghost", Command: { Program: "/bin/true", RoleArn: `arn:aws:iam::${FOUNDING}:role/ghost` } });
    expect(missing).toMatchObject({ status: 400, body: { __type: "InvalidParameterException" } });
  });
});

describe("the rotation function must be in the caller's account", () => {
  it("RotateSecret refuses another account's function, registered or built-in", async () => {
    // The founding account's command function: it would run with that account's role.
    expect((await admin("RegisterRotationFunction", { FunctionName: "counter", Command: { Program: process.execPath, Args: [command], RoleArn: `arn:aws:iam::${FOUNDING}:role/rotator` } })).status).toBe(200);
    await tenantSm.send(new CreateSecretCommand({ Name: "tenant/db", SecretString: "0" }));
    for (const arn of [fn(FOUNDING, "counter"), fn(FOUNDING, "coffer-random-value")]) {
      const err = await failure(tenantSm.send(new RotateSecretCommand({ SecretId: "tenant/db", RotationLambdaARN: arn })));
      expect(err.name, arn).toBe("AccessDeniedException");
    }
    await run.coffer.rotation.idle();
    expect((await tenantSm.send(new GetSecretValueCommand({ SecretId: "tenant/db" }))).SecretString).toBe("0");
    // Its own account's built-in is fine.
    await tenantSm.send(new RotateSecretCommand({ SecretId: "tenant/db", RotationLambdaARN: fn(TENANT, "coffer-random-value") }));
    await run.coffer.rotation.idle();
    expect((await tenantSm.send(new GetSecretValueCommand({ SecretId: "tenant/db" }))).SecretString).not.toBe("0");
  });

  it("a rotation already configured with another account's function is refused, and never runs it when due", async () => {
    await tenantSm.send(new CreateSecretCommand({ Name: "tenant/configured", SecretString: "0" }));
    await tenantSm.send(new RotateSecretCommand({ SecretId: "tenant/configured", RotationLambdaARN: fn(TENANT, "coffer-random-value"), RotateImmediately: false }));
    // As an earlier version could have stored it, due now.
    const arn = (await run.coffer.store.getSecretByName(TENANT, "tenant/configured"))!.arn;
    await run.coffer.store.transaction(async (tx) => {
      const s = (await tx.getSecret(arn))!;
      await tx.putSecret({ ...s, rotateAt: 0, rotation: { ...s.rotation!, functionArn: fn(FOUNDING, "counter") } });
    });
    const err = await failure(tenantSm.send(new RotateSecretCommand({ SecretId: "tenant/configured" })));
    expect(err.name).toBe("AccessDeniedException");
    const before = (await run.coffer.store.listAuditRows(0, 1_000_000)).length;
    await run.coffer.rotation.runDue();
    await run.coffer.rotation.idle();
    const events = (await run.coffer.store.listAuditRows(0, 1_000_000)).slice(before).map((r) => JSON.parse(r.record));
    // The founding account's command never ran: nothing was done with its role's credentials.
    expect(events.filter((e) => String(e.userIdentity?.arn).includes("assumed-role/rotator"))).toEqual([]);
    const failed = events.find((e) => e.eventName === "RotationFailed");
    expect(JSON.stringify(failed)).toMatch(/does not exist in the secret's account/);
    expect((await tenantSm.send(new GetSecretValueCommand({ SecretId: "tenant/configured" }))).SecretString).toBe("0");
  });
});
