import {
  CreateAccessKeyCommand,
  CreateRoleCommand,
  DeleteAccessKeyCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DeleteUserCommand,
  DeleteUserPolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  GetUserCommand,
  GetUserPolicyCommand,
  ListAccessKeysCommand,
  ListRolePoliciesCommand,
  ListUserPoliciesCommand,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
  TagRoleCommand,
  TagUserCommand,
  UntagRoleCommand,
  UntagUserCommand,
  UpdateAccessKeyCommand,
  UpdateAssumeRolePolicyCommand,
  type IAMClient,
} from "@aws-sdk/client-iam";
import { CreateSecretCommand, DescribeSecretCommand, GetSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { AssumeRoleCommand } from "@aws-sdk/client-sts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failure, startCoffer, type Running } from "../e2e/harness.ts";
import { ACCOUNT, clients, policy, trustAccount, userWithKey, type Creds } from "./identity-clients.ts";

// Issue 12 item 15: IAM Get*/List* (and every other operation on a named user or role) authorise
// before they look up: an unauthorised caller gets the same AccessDenied whether or not the entity
// exists. Siblings: STS AssumeRole, Secrets Manager.

let run: Running;
let c: ReturnType<typeof clients>;
let admin: Creds;
let snoop: Creds;
let aliceKey: string;

beforeAll(async () => {
  run = await startCoffer();
  c = clients(run.url);
  admin = run.credentials;
  // The snooper may do nothing in IAM; it exists only to ask.
  snoop = await userWithKey(c.iam(admin), "snoop", policy({ Effect: "Allow", Action: "sts:GetCallerIdentity", Resource: "*" }));
  aliceKey = (await userWithKey(c.iam(admin), "alice", policy({ Effect: "Allow", Action: "s3:ListBucket", Resource: "*" }))).accessKeyId;
  await c.iam(admin).send(new CreateRoleCommand({ RoleName: "deployer", AssumeRolePolicyDocument: trustAccount() }));
  await c.iam(admin).send(
    new PutRolePolicyCommand({ RoleName: "deployer", PolicyName: "p", PolicyDocument: policy({ Effect: "Allow", Action: "s3:*", Resource: "*" }) }),
  );
  await c.sm(admin).send(new CreateSecretCommand({ Name: "real-secret", SecretString: "x" }));
});
afterAll(() => run.stop());

type Probe = (iam: IAMClient, name: string) => Promise<unknown>;
const doc = policy({ Effect: "Allow", Action: "s3:ListBucket", Resource: "*" });
const userProbes: Record<string, Probe> = {
  GetUser: (iam, n) => iam.send(new GetUserCommand({ UserName: n })),
  GetUserPolicy: (iam, n) => iam.send(new GetUserPolicyCommand({ UserName: n, PolicyName: "p" })),
  ListUserPolicies: (iam, n) => iam.send(new ListUserPoliciesCommand({ UserName: n })),
  ListAccessKeys: (iam, n) => iam.send(new ListAccessKeysCommand({ UserName: n })),
  PutUserPolicy: (iam, n) => iam.send(new PutUserPolicyCommand({ UserName: n, PolicyName: "p", PolicyDocument: doc })),
  DeleteUserPolicy: (iam, n) => iam.send(new DeleteUserPolicyCommand({ UserName: n, PolicyName: "p" })),
  TagUser: (iam, n) => iam.send(new TagUserCommand({ UserName: n, Tags: [{ Key: "k", Value: "v" }] })),
  UntagUser: (iam, n) => iam.send(new UntagUserCommand({ UserName: n, TagKeys: ["k"] })),
  CreateAccessKey: (iam, n) => iam.send(new CreateAccessKeyCommand({ UserName: n })),
  UpdateAccessKey: (iam, n) => iam.send(new UpdateAccessKeyCommand({ UserName: n, AccessKeyId: aliceKey, Status: "Inactive" })),
  DeleteAccessKey: (iam, n) => iam.send(new DeleteAccessKeyCommand({ UserName: n, AccessKeyId: aliceKey })),
  DeleteUser: (iam, n) => iam.send(new DeleteUserCommand({ UserName: n })),
};
const roleProbes: Record<string, Probe> = {
  GetRole: (iam, n) => iam.send(new GetRoleCommand({ RoleName: n })),
  GetRolePolicy: (iam, n) => iam.send(new GetRolePolicyCommand({ RoleName: n, PolicyName: "p" })),
  ListRolePolicies: (iam, n) => iam.send(new ListRolePoliciesCommand({ RoleName: n })),
  PutRolePolicy: (iam, n) => iam.send(new PutRolePolicyCommand({ RoleName: n, PolicyName: "p", PolicyDocument: doc })),
  DeleteRolePolicy: (iam, n) => iam.send(new DeleteRolePolicyCommand({ RoleName: n, PolicyName: "p" })),
  UpdateAssumeRolePolicy: (iam, n) => iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: n, PolicyDocument: trustAccount() })),
  TagRole: (iam, n) => iam.send(new TagRoleCommand({ RoleName: n, Tags: [{ Key: "k", Value: "v" }] })),
  UntagRole: (iam, n) => iam.send(new UntagRoleCommand({ RoleName: n, TagKeys: ["k"] })),
  DeleteRole: (iam, n) => iam.send(new DeleteRoleCommand({ RoleName: n })),
};

/** The same error class and status for both names, and a message that differs only by the name. */
async function sameAnswer(call: (name: string) => Promise<unknown>, existing: string, missing: string, expected: string) {
  const a = await failure(call(existing));
  const b = await failure(call(missing));
  expect([a.name, b.name]).toEqual([expected, expected]);
  expect(a.$metadata?.httpStatusCode).toBe(b.$metadata?.httpStatusCode);
  expect(a.message.replaceAll(existing, "NAME")).toBe(b.message.replaceAll(missing, "NAME"));
}

describe("no existence oracle", () => {
  it.each(Object.entries(userProbes))("IAM %s on an existing and a missing user: AccessDenied both times", async (_op, probe) => {
    await sameAnswer((n) => probe(c.iam(snoop), n), "alice", "ghost", "AccessDenied");
  });

  it.each(Object.entries(roleProbes))("IAM %s on an existing and a missing role: AccessDenied both times", async (_op, probe) => {
    await sameAnswer((n) => probe(c.iam(snoop), n), "deployer", "phantom", "AccessDenied");
  });

  it("an authorised caller still learns that an entity does not exist", async () => {
    expect((await failure(c.iam(admin).send(new GetUserCommand({ UserName: "ghost" })))).name).toBe("NoSuchEntityException");
    expect((await failure(c.iam(admin).send(new GetRolePolicyCommand({ RoleName: "phantom", PolicyName: "p" })))).name).toBe(
      "NoSuchEntityException",
    );
  });

  it("STS AssumeRole: AccessDenied for a role that exists (untrusting) and for one that does not", async () => {
    await sameAnswer(
      (n) => c.sts(snoop).send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/${n}`, RoleSessionName: "probe" })),
      "deployer",
      "phantom",
      "AccessDenied",
    );
  });

  it("Secrets Manager: AccessDeniedException for a secret that exists and for one that does not", async () => {
    for (const op of [
      (n: string) => c.sm(snoop).send(new GetSecretValueCommand({ SecretId: n })),
      (n: string) => c.sm(snoop).send(new DescribeSecretCommand({ SecretId: n })),
    ]) {
      const a = await failure(op("real-secret"));
      const b = await failure(op("no-such-secret"));
      expect([a.name, b.name]).toEqual(["AccessDeniedException", "AccessDeniedException"]);
    }
  });
});
