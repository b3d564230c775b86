import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateSecretCommand, RotateSecretCommand, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { CreateAccessKeyCommand, CreateRoleCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from "@aws-sdk/client-iam";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FUNCTIONS_SETTING } from "../../src/services/rotation/rotation-registry.ts";
import { failure, startCoffer, type Running } from "../e2e/harness.ts";
import { rawCall } from "../e2e/raw.ts";

/**
 * Issue 12, item 1: a command rotation function runs on the server as its OS
 * user, so only the operator (the founding account's admin key, or
 * `coffer functions` on the data directory) may register one.
 */

const FOUNDING = "000000000000";
const TENANT = "111122223333";
let run: Running;
let tenant: { accessKeyId: string; secretAccessKey: string };
let tenantSm: SecretsManagerClient;
const scratch = mkdtempSync(join(tmpdir(), "coffer-opcmd-"));
const marker = join(scratch, "pwned");
/** A command that proves it ran: it creates the marker file. */
const evil = { Program: process.execPath, Args: ["-e", `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "ran")`] };

const iamFor = (credentials: { accessKeyId: string; secretAccessKey: string }) =>
  new IAMClient({ endpoint: run.url, region: "us-east-1", credentials, maxAttempts: 1 });
const trustOwnAccount = (account: string) =>
  JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: "sts:AssumeRole" }] });

async function admin(operation: string, body: object, credentials: { accessKeyId: string; secretAccessKey: string }) {
  const res = await rawCall(run.url, { target: `Coffer.${operation}`, body: JSON.stringify(body), credentials, service: "coffer" });
  return { status: res.status, body: res.json() };
}

beforeAll(async () => {
  run = await startCoffer();
  // A second tenant, as `coffer account create` makes one.
  tenant = await run.coffer.identity.createAccessKey({ arn: `arn:aws:iam::${TENANT}:root`, accountId: TENANT, kind: "root" });
  tenantSm = run.clientFor(tenant);
  await iamFor(tenant).send(new CreateRoleCommand({ RoleName: "tenant-rotator", AssumeRolePolicyDocument: trustOwnAccount(TENANT) }));
  await iamFor(run.credentials).send(new CreateRoleCommand({ RoleName: "rotator", AssumeRolePolicyDocument: trustOwnAccount(FOUNDING) }));
});
afterAll(async () => {
  await run.stop();
  rmSync(scratch, { recursive: true, force: true });
});

describe("command rotation functions are operator-only", () => {
  it("another account's root cannot register a command function, and nothing it names ever runs", async () => {
    const res = await admin(
      "RegisterRotationFunction",
      { FunctionName: "shell", Command: { ...evil, RoleArn: `arn:aws:iam::${TENANT}:role/tenant-rotator` } },
      tenant,
    );
    expect(res).toMatchObject({ status: 400, body: { __type: "AccessDeniedException" } });
    expect(String(res.body.message)).toMatch(/only the operator/);
    await tenantSm.send(new CreateSecretCommand({ Name: "tenant/app", SecretString: "v0" }));
    const rotate = await failure(
      tenantSm.send(new RotateSecretCommand({ SecretId: "tenant/app", RotationLambdaARN: `arn:aws:lambda:us-east-1:${TENANT}:function:shell` })),
    );
    expect(rotate.name).toBe("AccessDeniedException");
    await run.coffer.rotation.idle();
    expect(existsSync(marker)).toBe(false);
  });

  it("a non-root principal of the founding account cannot either, whatever its policies allow", async () => {
    const iam = iamFor(run.credentials);
    await iam.send(new CreateUserCommand({ UserName: "deployer" }));
    await iam.send(
      new PutUserPolicyCommand({
        UserName: "deployer",
        PolicyName: "everything",
        PolicyDocument: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }] }),
      }),
    );
    const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: "deployer" }));
    const user = { accessKeyId: AccessKey!.AccessKeyId!, secretAccessKey: AccessKey!.SecretAccessKey! };
    const res = await admin("RegisterRotationFunction", { FunctionName: "by-user", Command: { ...evil, RoleArn: `arn:aws:iam::${FOUNDING}:role/rotator` } }, user);
    expect(res).toMatchObject({ status: 400, body: { __type: "AccessDeniedException" } });
    // Webhook functions stay theirs to register (to a public receiver).
    const hook = await admin("RegisterRotationFunction", { FunctionName: "hook", Webhook: { Url: "https://hooks.example.com/rotate", Secret: "s".repeat(16) } }, user);
    expect(hook.status).toBe(200);
  });

  it("a tenant keeps registering webhook functions in its own account", async () => {
    const res = await admin("RegisterRotationFunction", { FunctionName: "hook", Webhook: { Url: "https://hooks.example.com/rotate", Secret: "s".repeat(16) } }, tenant);
    expect(res).toEqual({ status: 200, body: { FunctionArn: `arn:aws:lambda:us-east-1:${TENANT}:function:hook` } });
  });

  it("the operator's admin key may register one", async () => {
    const res = await admin("RegisterRotationFunction", { FunctionName: "ops", Command: { Program: "/bin/true", RoleArn: `arn:aws:iam::${FOUNDING}:role/rotator` } }, run.credentials);
    expect(res).toEqual({ status: 200, body: { FunctionArn: `arn:aws:lambda:us-east-1:${FOUNDING}:function:ops` } });
  });

  it("a command function a tenant registered before the fix (stored without the operator's mark) never runs", async () => {
    const stored = JSON.parse((await run.coffer.store.getSetting(FUNCTIONS_SETTING)) ?? "{}") as Record<string, unknown>;
    stored[`${TENANT}/planted`] = { kind: "command", command: [evil.Program, ...evil.Args], roleArn: `arn:aws:iam::${TENANT}:role/tenant-rotator` };
    await run.coffer.store.transaction((tx) => tx.putSetting(FUNCTIONS_SETTING, JSON.stringify(stored)));
    await tenantSm.send(new CreateSecretCommand({ Name: "tenant/planted", SecretString: "v0" }));
    const rotate = await failure(
      tenantSm.send(new RotateSecretCommand({ SecretId: "tenant/planted", RotationLambdaARN: `arn:aws:lambda:us-east-1:${TENANT}:function:planted` })),
    );
    expect(rotate.name).toBe("AccessDeniedException");
    await run.coffer.rotation.idle();
    expect(existsSync(marker)).toBe(false);
  });
});
