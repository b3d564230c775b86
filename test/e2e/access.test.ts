import {
  CreateAccessKeyCommand,
  CreateRoleCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  DeleteUserCommand,
  DeleteUserPolicyCommand,
  GetRoleCommand,
  GetUserPolicyCommand,
  IAMClient,
  ListInstanceProfilesForRoleCommand,
  ListUsersCommand,
  NoSuchEntityException,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
  UpdateAccessKeyCommand,
} from "@aws-sdk/client-iam";
import { CreateKeyCommand, DisableKeyCommand, EnableKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutResourcePolicyCommand,
  SecretsManagerClient,
  ValidateResourcePolicyCommand,
} from "@aws-sdk/client-secrets-manager";
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failure, startCoffer, type Running } from "./harness.ts";

type Creds = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

let run: Running;
let now = Date.now();
const clock = { now: () => now };
const ACCOUNT = "000000000000";
const OTHER = "111111111111";

beforeAll(async () => {
  run = await startCoffer({ clock });
});
afterAll(() => run.stop());

// Clients sign with the server's (test-controlled) clock, as a client with a synchronised clock would.
const opts = (credentials: Creds) => ({
  endpoint: run.url,
  region: "us-east-1",
  credentials,
  maxAttempts: 1,
  systemClockOffset: now - Date.now(),
});
const sm = (c: Creds) => new SecretsManagerClient(opts(c));
const iam = (c: Creds) => new IAMClient(opts(c));
const sts = (c: Creds) => new STSClient(opts(c));
const kms = (c: Creds) => new KMSClient(opts(c));


const policy = (...Statement: object[]) => JSON.stringify({ Version: "2012-10-17", Statement });

async function userWithPolicy(admin: Creds, name: string, document: string): Promise<Creds> {
  await iam(admin).send(new CreateUserCommand({ UserName: name }));
  await iam(admin).send(new PutUserPolicyCommand({ UserName: name, PolicyName: "p", PolicyDocument: document }));
  const { AccessKey } = await iam(admin).send(new CreateAccessKeyCommand({ UserName: name }));
  return { accessKeyId: AccessKey!.AccessKeyId!, secretAccessKey: AccessKey!.SecretAccessKey! };
}

describe("identity and access", () => {
  let admin: Creds;
  beforeAll(async () => {
    admin = run.credentials;
    for (const name of ["prod/myapp/db", "prod/other/db", "dev/myapp/db"]) {
      await sm(admin).send(new CreateSecretCommand({ Name: name, SecretString: `value of ${name}` }));
    }
    await sm(admin).send(
      new CreateSecretCommand({
        Name: "prod/tagged",
        SecretString: "tagged",
        Tags: [{ Key: "Environment", Value: "Production" }],
      }),
    );
  });

  it("a least-privilege role reads only prod/myapp/*", async () => {
    await iam(admin).send(
      new CreateRoleCommand({
        RoleName: "myapp",
        AssumeRolePolicyDocument: policy({ Effect: "Allow", Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: "sts:AssumeRole" }),
      }),
    );
    await iam(admin).send(
      new PutRolePolicyCommand({
        RoleName: "myapp",
        PolicyName: "read-myapp",
        PolicyDocument: policy({
          Effect: "Allow",
          Action: ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
          Resource: `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:prod/myapp/*`,
        }),
      }),
    );
    const role = await iam(admin).send(new GetRoleCommand({ RoleName: "myapp" }));
    expect(JSON.parse(decodeURIComponent(role.Role!.AssumeRolePolicyDocument!)).Statement[0].Action).toBe("sts:AssumeRole");

    const assumed = await sts(admin).send(new AssumeRoleCommand({ RoleArn: role.Role!.Arn, RoleSessionName: "deploy" }));
    const c = assumed.Credentials!;
    expect(c.AccessKeyId).toMatch(/^ASIA/);
    const session: Creds = { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! };

    const who = await sts(session).send(new GetCallerIdentityCommand({}));
    expect(who.Arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/myapp/deploy`);
    expect(who.Account).toBe(ACCOUNT);

    expect((await sm(session).send(new GetSecretValueCommand({ SecretId: "prod/myapp/db" }))).SecretString).toBe(
      "value of prod/myapp/db",
    );
    const denied = await failure(sm(session).send(new GetSecretValueCommand({ SecretId: "prod/other/db" })));
    expect(denied.name).toBe("AccessDeniedException");
    expect(denied.message).toMatch(
      /^User: arn:aws:sts::000000000000:assumed-role\/myapp\/deploy is not authorized to perform: secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:us-east-1:000000000000:secret:prod\/other\/db-\w{6} because no identity-based policy allows the secretsmanager:GetSecretValue action$/,
    );
    // A missing secret outside the allowed prefix is denied, not reported missing (no existence leak).
    expect((await failure(sm(session).send(new GetSecretValueCommand({ SecretId: "prod/nope" })))).name).toBe(
      "AccessDeniedException",
    );
    // The session cannot administer IAM.
    expect((await failure(iam(session).send(new ListUsersCommand({})))).name).toBe("AccessDenied");
    // A session without its token is not accepted.
    const noToken = await failure(sm({ ...session, sessionToken: undefined }).send(new GetSecretValueCommand({ SecretId: "prod/myapp/db" })));
    expect(noToken.name).toBe("UnrecognizedClientException");
  });

  it("an explicit Deny on a resource tag beats an Allow: a developer cannot read production", async () => {
    const dev = await userWithPolicy(
      admin,
      "developer",
      policy(
        { Effect: "Allow", Action: "secretsmanager:*", Resource: "*" },
        {
          Effect: "Deny",
          Action: "secretsmanager:GetSecretValue",
          Resource: "*",
          Condition: { StringEquals: { "secretsmanager:ResourceTag/Environment": "Production" } },
        },
      ),
    );
    expect((await sm(dev).send(new GetSecretValueCommand({ SecretId: "dev/myapp/db" }))).SecretString).toBe("value of dev/myapp/db");
    const denied = await failure(sm(dev).send(new GetSecretValueCommand({ SecretId: "prod/tagged" })));
    expect(denied.name).toBe("AccessDeniedException");
    expect(denied.message).toContain("with an explicit deny in an identity-based policy");
  });

  it("honours aws:SourceIp", async () => {
    const fromOffice = await userWithPolicy(
      admin,
      "office",
      policy({
        Effect: "Allow",
        Action: "secretsmanager:GetSecretValue",
        Resource: "*",
        Condition: { IpAddress: { "aws:SourceIp": "10.0.0.0/8" } },
      }),
    );
    expect((await failure(sm(fromOffice).send(new GetSecretValueCommand({ SecretId: "dev/myapp/db" })))).name).toBe(
      "AccessDeniedException",
    );
    const fromLoopback = await userWithPolicy(
      admin,
      "loopback",
      policy({
        Effect: "Allow",
        Action: "secretsmanager:GetSecretValue",
        Resource: "*",
        Condition: { IpAddress: { "aws:SourceIp": ["127.0.0.0/8", "::1/128"] } },
      }),
    );
    expect((await sm(fromLoopback).send(new GetSecretValueCommand({ SecretId: "dev/myapp/db" }))).SecretString).toBeDefined();
  });

  it("refuses AssumeRole when the trust policy does not name the caller", async () => {
    await iam(admin).send(
      new CreateRoleCommand({
        RoleName: "locked",
        AssumeRolePolicyDocument: policy({ Effect: "Allow", Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/someone-else` }, Action: "sts:AssumeRole" }),
      }),
    );
    const other = await userWithPolicy(admin, "wannabe", policy({ Effect: "Allow", Action: "sts:AssumeRole", Resource: "*" }));
    const err = await failure(
      sts(other).send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/locked`, RoleSessionName: "intruder" })),
    );
    expect(err.name).toBe("AccessDenied");
    expect(err.message).toContain("sts:AssumeRole");
  });

  it("rejects a session after it expires", async () => {
    await iam(admin).send(
      new CreateRoleCommand({
        RoleName: "short",
        AssumeRolePolicyDocument: policy({ Effect: "Allow", Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: "sts:AssumeRole" }),
      }),
    );
    await iam(admin).send(
      new PutRolePolicyCommand({
        RoleName: "short",
        PolicyName: "all",
        PolicyDocument: policy({ Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: "*" }),
      }),
    );
    const tooLong = await failure(
      sts(admin).send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/short`, RoleSessionName: "short-session", DurationSeconds: 7200 })),
    );
    expect(tooLong.name).toBe("ValidationError");
    const { Credentials: c } = await sts(admin).send(
      new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/short`, RoleSessionName: "short-session", DurationSeconds: 900 }),
    );
    const session = { accessKeyId: c!.AccessKeyId!, secretAccessKey: c!.SecretAccessKey!, sessionToken: c!.SessionToken! };
    expect((await sm(session).send(new GetSecretValueCommand({ SecretId: "dev/myapp/db" }))).SecretString).toBeDefined();
    now += 901_000;
    const expired = await failure(sm(session).send(new GetSecretValueCommand({ SecretId: "dev/myapp/db" })));
    expect(expired.name).toBe("ExpiredTokenException");
  });

  it("rejects a deactivated access key, and accepts it again once reactivated", async () => {
    const user = await userWithPolicy(admin, "rotating", policy({ Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: "*" }));
    await iam(admin).send(new UpdateAccessKeyCommand({ UserName: "rotating", AccessKeyId: user.accessKeyId, Status: "Inactive" }));
    expect((await failure(sm(user).send(new GetSecretValueCommand({ SecretId: "dev/myapp/db" })))).name).toBe(
      "UnrecognizedClientException",
    );
    await iam(admin).send(new UpdateAccessKeyCommand({ UserName: "rotating", AccessKeyId: user.accessKeyId, Status: "Active" }));
    expect((await sm(user).send(new GetSecretValueCommand({ SecretId: "dev/myapp/db" }))).SecretString).toBeDefined();
  });

  it("lists a role's instance profiles (none: Coffer runs no instances) only for a role that exists", async () => {
    const trust = policy({ Effect: "Allow", Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: "sts:AssumeRole" });
    await iam(admin).send(new CreateRoleCommand({ RoleName: "no-profiles", AssumeRolePolicyDocument: trust }));
    expect(await iam(admin).send(new ListInstanceProfilesForRoleCommand({ RoleName: "no-profiles" }))).toMatchObject({
      InstanceProfiles: [],
      IsTruncated: false,
    });
    expect(await failure(iam(admin).send(new ListInstanceProfilesForRoleCommand({ RoleName: "nobody" })))).toBeInstanceOf(NoSuchEntityException);
    const outsider = await userWithPolicy(admin, "profiles-outsider", policy({ Effect: "Allow", Action: "iam:GetRole", Resource: "*" }));
    expect((await failure(iam(outsider).send(new ListInstanceProfilesForRoleCommand({ RoleName: "no-profiles" })))).name).toBe("AccessDenied");
  });

  it("manages users, inline policies and access keys through the IAM API", async () => {
    await iam(admin).send(new CreateUserCommand({ UserName: "temp", Path: "/team/" }));
    await iam(admin).send(new PutUserPolicyCommand({ UserName: "temp", PolicyName: "p", PolicyDocument: policy({ Effect: "Allow", Action: "s3:*", Resource: "*" }) }));
    const got = await iam(admin).send(new GetUserPolicyCommand({ UserName: "temp", PolicyName: "p" }));
    expect(JSON.parse(decodeURIComponent(got.PolicyDocument!)).Statement[0].Action).toBe("s3:*");
    const key = await iam(admin).send(new CreateAccessKeyCommand({ UserName: "temp" }));
    expect((await failure(iam(admin).send(new DeleteUserCommand({ UserName: "temp" })))).name).toBe("DeleteConflictException");
    await iam(admin).send(new DeleteAccessKeyCommand({ UserName: "temp", AccessKeyId: key.AccessKey!.AccessKeyId }));
    await iam(admin).send(new DeleteUserPolicyCommand({ UserName: "temp", PolicyName: "p" }));
    await iam(admin).send(new DeleteUserCommand({ UserName: "temp" }));
    expect(await failure(iam(admin).send(new DeleteUserCommand({ UserName: "temp" })))).toBeInstanceOf(NoSuchEntityException);
    const bad = await failure(
      iam(admin).send(new CreateRoleCommand({ RoleName: "bad", AssumeRolePolicyDocument: "{not json" })),
    );
    expect(bad.name).toBe("MalformedPolicyDocumentException");
  });

  describe("cross-account sharing", () => {
    let other: Creds;
    let sharedArn: string;
    let keyArn: string;

    beforeAll(async () => {
      const root = await run.coffer.identity.createAccessKey({ arn: `arn:aws:iam::${OTHER}:root`, accountId: OTHER, kind: "root" });
      other = await userWithPolicy(
        root,
        "reader",
        policy({ Effect: "Allow", Action: ["secretsmanager:GetSecretValue", "kms:Decrypt"], Resource: "*" }),
      );
      const key = await kms(admin).send(
        new CreateKeyCommand({
          Description: "shared",
          Policy: policy(
            { Sid: "Enable IAM User Permissions", Effect: "Allow", Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: "kms:*", Resource: "*" },
            { Sid: "Let the other account decrypt", Effect: "Allow", Principal: { AWS: `arn:aws:iam::${OTHER}:root` }, Action: "kms:Decrypt", Resource: "*" },
          ),
        }),
      );
      keyArn = key.KeyMetadata!.Arn!;
      sharedArn = (await sm(admin).send(new CreateSecretCommand({ Name: "shared/db", SecretString: "shared value", KmsKeyId: keyArn }))).ARN!;
      await sm(admin).send(new CreateSecretCommand({ Name: "shared/default-key", SecretString: "x" }));
    });

    it("is denied without a resource policy", async () => {
      const err = await failure(sm(other).send(new GetSecretValueCommand({ SecretId: sharedArn })));
      expect(err.name).toBe("AccessDeniedException");
      expect(err.message).toContain("because no resource-based policy allows the secretsmanager:GetSecretValue action");
    });

    it("works with a resource policy and a customer key that allows the other account", async () => {
      const resourcePolicy = policy({
        Effect: "Allow",
        Principal: { AWS: `arn:aws:iam::${OTHER}:root` },
        Action: "secretsmanager:GetSecretValue",
        Resource: "*",
      });
      const check = await sm(admin).send(new ValidateResourcePolicyCommand({ ResourcePolicy: resourcePolicy }));
      expect(check.PolicyValidationPassed).toBe(true);
      await sm(admin).send(new PutResourcePolicyCommand({ SecretId: sharedArn, ResourcePolicy: resourcePolicy, BlockPublicPolicy: true }));
      expect((await sm(other).send(new GetSecretValueCommand({ SecretId: sharedArn }))).SecretString).toBe("shared value");

      // Disable the key: reads fail as AWS fails them.
      await kms(admin).send(new DisableKeyCommand({ KeyId: keyArn }));
      expect((await failure(sm(admin).send(new GetSecretValueCommand({ SecretId: sharedArn })))).name).toBe("DecryptionFailure");
      await kms(admin).send(new EnableKeyCommand({ KeyId: keyArn }));
    });

    it("fails with the default aws/secretsmanager key, which serves its own account only", async () => {
      const arn = (await sm(admin).send(new GetSecretValueCommand({ SecretId: "shared/default-key" }))).ARN!;
      await sm(admin).send(
        new PutResourcePolicyCommand({
          SecretId: arn,
          ResourcePolicy: policy({ Effect: "Allow", Principal: { AWS: `arn:aws:iam::${OTHER}:root` }, Action: "secretsmanager:GetSecretValue", Resource: "*" }),
        }),
      );
      const err = await failure(sm(other).send(new GetSecretValueCommand({ SecretId: arn })));
      expect(err.name).toBe("AccessDeniedException");
      expect(err.message).toContain("kms:Decrypt");
    });

    it("refuses a public resource policy when BlockPublicPolicy is set", async () => {
      const err = await failure(
        sm(admin).send(
          new PutResourcePolicyCommand({
            SecretId: sharedArn,
            BlockPublicPolicy: true,
            ResourcePolicy: policy({ Effect: "Allow", Principal: "*", Action: "secretsmanager:GetSecretValue", Resource: "*" }),
          }),
        ),
      );
      expect(err.name).toBe("PublicPolicyException");
      const malformed = await failure(sm(admin).send(new PutResourcePolicyCommand({ SecretId: sharedArn, ResourcePolicy: "{nope" })));
      expect(malformed.name).toBe("MalformedPolicyDocumentException");
    });
  });
});
