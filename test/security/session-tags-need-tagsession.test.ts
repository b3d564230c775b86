import { CreateRoleCommand, PutRolePolicyCommand } from "@aws-sdk/client-iam";
import { CreateSecretCommand, GetSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failure, startCoffer, type Running } from "../e2e/harness.ts";
import { ACCOUNT, clients, policy, roleArn, sessionCreds, trustAccount, type Creds } from "./identity-clients.ts";

// Issue 12 item 3: session tags need sts:TagSession in the role's trust policy; aws:RequestTag/*,
// aws:TagKeys and aws:PrincipalTag/* behave as AWS documents.

let run: Running;
let c: ReturnType<typeof clients>;
let admin: Creds;

beforeAll(async () => {
  run = await startCoffer();
  c = clients(run.url);
  admin = run.credentials;
  const iam = c.iam(admin);
  // No sts:TagSession: the role may be assumed, but not with tags.
  await iam.send(new CreateRoleCommand({ RoleName: "plain", AssumeRolePolicyDocument: trustAccount() }));
  // sts:TagSession only for team=blue|green and no other tag key; the role's own tag says team=red.
  await iam.send(
    new CreateRoleCommand({
      RoleName: "tagger",
      Tags: [{ Key: "team", Value: "red" }],
      AssumeRolePolicyDocument: policy(
        { Effect: "Allow", Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: "sts:AssumeRole" },
        {
          Effect: "Allow",
          Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
          Action: "sts:TagSession",
          Condition: {
            StringEquals: { "aws:RequestTag/team": ["blue", "green"] },
            "ForAllValues:StringEquals": { "aws:TagKeys": ["team"] },
          },
        },
      ),
    }),
  );
  await iam.send(
    new PutRolePolicyCommand({
      RoleName: "tagger",
      PolicyName: "own-team",
      PolicyDocument: policy(
        {
          Effect: "Allow",
          Action: "secretsmanager:GetSecretValue",
          Resource: "*",
          Condition: { StringEquals: { "secretsmanager:ResourceTag/team": "${aws:PrincipalTag/team}" } },
        },
        { Effect: "Allow", Action: ["sts:AssumeRole", "sts:TagSession"], Resource: "*" },
      ),
    }),
  );
  await iam.send(new CreateRoleCommand({ RoleName: "chained", AssumeRolePolicyDocument: trustAccount(["sts:AssumeRole", "sts:TagSession"]) }));
  for (const team of ["blue", "red"]) {
    await c.sm(admin).send(new CreateSecretCommand({ Name: `${team}-db`, SecretString: team, Tags: [{ Key: "team", Value: team }] }));
  }
});
afterAll(() => run.stop());

describe("session tags need sts:TagSession", () => {
  it("refuses Tags when the trust policy does not grant sts:TagSession, as AWS words it", async () => {
    expect((await c.assume(admin, { RoleArn: roleArn("plain") })).Credentials?.AccessKeyId).toMatch(/^ASIA/);
    const denied = await failure(c.assume(admin, { RoleArn: roleArn("plain"), Tags: [{ Key: "team", Value: "red" }] }));
    expect(denied.name).toBe("AccessDenied");
    expect(denied.$metadata?.httpStatusCode).toBe(403);
    expect(denied.message).toBe(
      `User: arn:aws:iam::${ACCOUNT}:root is not authorized to perform: sts:TagSession on resource: arn:aws:iam::${ACCOUNT}:role/plain`,
    );
    const transitive = await failure(
      c.assume(admin, { RoleArn: roleArn("plain"), Tags: [{ Key: "team", Value: "red" }], TransitiveTagKeys: ["team"] }),
    );
    expect(transitive.name).toBe("AccessDenied");
  });

  it("aws:RequestTag/* and aws:TagKeys in the trust policy see the tags of the request", async () => {
    expect((await failure(c.assume(admin, { RoleArn: roleArn("tagger"), Tags: [{ Key: "team", Value: "red" }] }))).name).toBe("AccessDenied");
    const extraKey = c.assume(admin, { RoleArn: roleArn("tagger"), Tags: [{ Key: "team", Value: "blue" }, { Key: "admin", Value: "yes" }] });
    expect((await failure(extraKey)).name).toBe("AccessDenied");
    const ok = await c.assume(admin, { RoleArn: roleArn("tagger"), Tags: [{ Key: "team", Value: "blue" }] });
    expect(ok.PackedPolicySize).toBeGreaterThan(0);
  });

  it("a session tag overrides the role's tag of the same key in aws:PrincipalTag, and only that", async () => {
    const blue = sessionCreds((await c.assume(admin, { RoleArn: roleArn("tagger"), Tags: [{ Key: "team", Value: "blue" }] })).Credentials);
    expect((await c.sm(blue).send(new GetSecretValueCommand({ SecretId: "blue-db" }))).SecretString).toBe("blue");
    expect((await failure(c.sm(blue).send(new GetSecretValueCommand({ SecretId: "red-db" })))).name).toBe("AccessDeniedException");
    // Without session tags the role's own tag applies.
    const plain = sessionCreds((await c.assume(admin, { RoleArn: roleArn("tagger") })).Credentials);
    expect((await c.sm(plain).send(new GetSecretValueCommand({ SecretId: "red-db" }))).SecretString).toBe("red");
    expect((await failure(c.sm(plain).send(new GetSecretValueCommand({ SecretId: "blue-db" })))).name).toBe("AccessDeniedException");
  });

  it("rejects duplicate keys differing only in case, and transitive keys that are not tags", async () => {
    const dup = await failure(
      c.assume(admin, { RoleArn: roleArn("tagger"), Tags: [{ Key: "team", Value: "blue" }, { Key: "Team", Value: "green" }] }),
    );
    expect(dup.name).toBe("InvalidParameterValue");
    expect(dup.message).toBe("Duplicate tag keys found. Please note that Tag keys are case insensitive.");
    const stray = await failure(c.assume(admin, { RoleArn: roleArn("tagger"), Tags: [{ Key: "team", Value: "blue" }], TransitiveTagKeys: ["env"] }));
    expect(stray.name).toBe("InvalidParameterValue");
  });

  it("a transitive tag passes on in a role chain and cannot be overridden there", async () => {
    const first = sessionCreds(
      (await c.assume(admin, { RoleArn: roleArn("tagger"), Tags: [{ Key: "team", Value: "blue" }], TransitiveTagKeys: ["team"] })).Credentials,
    );
    const override = await failure(c.assume(first, { RoleArn: roleArn("chained"), Tags: [{ Key: "TEAM", Value: "red" }] }));
    expect(override.name).toBe("InvalidParameterValue");
    expect(override.message).toMatch(/conflicts with a transitive tag key from the calling session/);
    // Passing it on needs sts:TagSession too.
    expect((await failure(c.assume(first, { RoleArn: roleArn("plain") }))).name).toBe("AccessDenied");
    expect((await c.assume(first, { RoleArn: roleArn("chained") })).Credentials?.AccessKeyId).toMatch(/^ASIA/);
  });

  it("enforces AWS's limits: 50 tags, 128-character keys, 256-character values, and the packed size", async () => {
    const tags = (n: number, k = 8, v = 8) => Array.from({ length: n }, (_, i) => ({ Key: `k${i}`.padEnd(k, "x"), Value: "v".repeat(v) }));
    expect((await failure(c.assume(admin, { RoleArn: roleArn("chained"), Tags: tags(51) }))).name).toBe("ValidationError");
    expect((await failure(c.assume(admin, { RoleArn: roleArn("chained"), Tags: tags(1, 129) }))).name).toBe("ValidationError");
    expect((await failure(c.assume(admin, { RoleArn: roleArn("chained"), Tags: tags(1, 8, 257) }))).name).toBe("ValidationError");
    const packed = await failure(c.assume(admin, { RoleArn: roleArn("chained"), Tags: tags(50, 128, 256) }));
    expect(packed.name).toBe("PackedPolicyTooLargeException");
    expect(packed.message).toMatch(/^Packed size of session tags consumes \d+% of allotted space\.$/);
    const within = await c.assume(admin, { RoleArn: roleArn("chained"), Tags: tags(50, 16, 32) });
    expect(within.PackedPolicySize).toBeLessThanOrEqual(100);
  });
});
