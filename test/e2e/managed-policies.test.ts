import {
  AddUserToGroupCommand,
  AttachGroupPolicyCommand,
  AttachRolePolicyCommand,
  AttachUserPolicyCommand,
  CreateAccessKeyCommand,
  CreateGroupCommand,
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  CreateRoleCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  DeleteGroupCommand,
  DeleteGroupPolicyCommand,
  DeletePolicyCommand,
  DeletePolicyVersionCommand,
  DeleteRoleCommand,
  DeleteRolePermissionsBoundaryCommand,
  DeleteUserCommand,
  DeleteUserPermissionsBoundaryCommand,
  DetachGroupPolicyCommand,
  DetachRolePolicyCommand,
  DetachUserPolicyCommand,
  GetGroupCommand,
  GetGroupPolicyCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  GetUserCommand,
  IAMClient,
  ListAttachedGroupPoliciesCommand,
  ListAttachedRolePoliciesCommand,
  ListAttachedUserPoliciesCommand,
  ListEntitiesForPolicyCommand,
  ListGroupPoliciesCommand,
  ListGroupsCommand,
  ListGroupsForUserCommand,
  ListPoliciesCommand,
  ListPolicyTagsCommand,
  ListPolicyVersionsCommand,
  PutGroupPolicyCommand,
  PutRolePermissionsBoundaryCommand,
  PutUserPermissionsBoundaryCommand,
  PutUserPolicyCommand,
  RemoveUserFromGroupCommand,
  SetDefaultPolicyVersionCommand,
  TagPolicyCommand,
  UntagPolicyCommand,
} from "@aws-sdk/client-iam";
import { CreateSecretCommand, GetSecretValueCommand, PutResourcePolicyCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { GetParameterCommand, PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { CreateKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { CloudTrailClient, LookupEventsCommand } from "@aws-sdk/client-cloudtrail";
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failure, startCoffer, type Running } from "./harness.ts";

/**
 * Issue 16 item 3, on the wire with the AWS SDK: managed policies (customer and AWS managed),
 * their versions, groups with inline and attached policies, and permissions boundaries change
 * what a caller may do exactly as AWS's policy evaluation logic documents, at once; the IAM
 * limits and conflicts answer as AWS does.
 */

type Creds = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

let run: Running;
let account: string;
const opts = (credentials: Creds) => ({ endpoint: run.url, region: "us-east-1", credentials, maxAttempts: 1 });
const sm = (c: Creds) => new SecretsManagerClient(opts(c));
const ssm = (c: Creds) => new SSMClient(opts(c));
const iam = (c: Creds) => new IAMClient(opts(c));
const sts = (c: Creds) => new STSClient(opts(c));
const admin = () => iam(run.credentials);
const doc = (...Statement: object[]) => JSON.stringify({ Version: "2012-10-17", Statement });
const aws = (name: string) => `arn:aws:iam::aws:policy/${name}`;
const local = (name: string, path = "/") => `arn:aws:iam::${account}:policy${path}${name}`;
const secretArnPrefix = () => `arn:aws:secretsmanager:us-east-1:${account}:secret:`;

beforeAll(async () => {
  run = await startCoffer();
  account = (await sts(run.credentials).send(new GetCallerIdentityCommand({}))).Account!;
  for (const name of ["prod/a", "dev/a"]) await sm(run.credentials).send(new CreateSecretCommand({ Name: name, SecretString: `value of ${name}` }));
  await ssm(run.credentials).send(new PutParameterCommand({ Name: "/app/x", Value: "param", Type: "String" }));
  // Customer managed policies the matrix attaches.
  const create = (PolicyName: string, PolicyDocument: string) => admin().send(new CreatePolicyCommand({ PolicyName, PolicyDocument }));
  await create("read-prod", doc({ Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: `${secretArnPrefix()}prod/*` }));
  // As read-prod, and kms:Decrypt through Secrets Manager: what a role session limited by it needs for
  // the AWS managed key, whose key policy grants to "*" (a grant a session policy or boundary limits).
  await create(
    "read-prod-kms",
    doc(
      { Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: `${secretArnPrefix()}prod/*` },
      { Effect: "Allow", Action: "kms:Decrypt", Resource: "*", Condition: { StringLike: { "kms:ViaService": "secretsmanager.*.amazonaws.com" } } },
    ),
  );
  await create("deny-prod", doc({ Effect: "Deny", Action: "secretsmanager:GetSecretValue", Resource: `${secretArnPrefix()}prod/*` }));
  await create(
    "all-but-prod",
    doc({ Effect: "Allow", Action: "*", Resource: "*" }, { Effect: "Deny", Action: "secretsmanager:GetSecretValue", Resource: `${secretArnPrefix()}prod/*` }),
  );
});
afterAll(() => run.stop());

async function keyFor(userName: string): Promise<Creds> {
  const { AccessKey } = await admin().send(new CreateAccessKeyCommand({ UserName: userName }));
  return { accessKeyId: AccessKey!.AccessKeyId!, secretAccessKey: AccessKey!.SecretAccessKey! };
}

type Probe = "prod" | "dev" | "param";
const probes: Record<Probe, (c: Creds) => Promise<unknown>> = {
  prod: (c) => sm(c).send(new GetSecretValueCommand({ SecretId: "prod/a" })),
  dev: (c) => sm(c).send(new GetSecretValueCommand({ SecretId: "dev/a" })),
  param: (c) => ssm(c).send(new GetParameterCommand({ Name: "/app/x" })),
};

/** What each probe answers: "ok", or the denial's reason as AWS words it. */
async function outcomes(c: Creds): Promise<Record<Probe, string>> {
  const result = {} as Record<Probe, string>;
  for (const [name, probe] of Object.entries(probes) as [Probe, (c: Creds) => Promise<unknown>][]) {
    try {
      await probe(c);
      result[name] = "ok";
    } catch (err) {
      const e = err as Error;
      if (e.name !== "AccessDeniedException") throw err;
      result[name] = /explicit deny in a permissions boundary/.test(e.message)
        ? "deny:boundary"
        : /explicit deny/.test(e.message)
          ? "deny"
          : /no permissions boundary allows/.test(e.message)
            ? "no:boundary"
            : "no";
    }
  }
  return result;
}

interface Row {
  rule: string;
  /** Makes the user's access; `u` is the user's name. */
  setup: (u: string) => Promise<unknown>;
  expect: Record<Probe, string>;
}

const attach = (u: string, PolicyArn: string) => admin().send(new AttachUserPolicyCommand({ UserName: u, PolicyArn }));
const boundary = (u: string, PermissionsBoundary: string) => admin().send(new PutUserPermissionsBoundaryCommand({ UserName: u, PermissionsBoundary }));
async function groupWith(u: string, setup: (g: string) => Promise<unknown>) {
  const g = `${u}-group`;
  await admin().send(new CreateGroupCommand({ GroupName: g }));
  await setup(g);
  await admin().send(new AddUserToGroupCommand({ GroupName: g, UserName: u }));
}

const rows: Row[] = [
  { rule: "no policy: nothing", setup: async () => {}, expect: { prod: "no", dev: "no", param: "no" } },
  {
    rule: "a customer managed policy attached to the user grants what its default version allows",
    setup: (u) => attach(u, local("read-prod")),
    expect: { prod: "ok", dev: "no", param: "no" },
  },
  {
    rule: "AWS managed SecretsManagerReadWrite (its real document) reads every secret, no parameter",
    setup: (u) => attach(u, aws("SecretsManagerReadWrite")),
    expect: { prod: "ok", dev: "ok", param: "no" },
  },
  {
    rule: "AWS managed AmazonSSMReadOnlyAccess reads parameters, no secret",
    setup: (u) => attach(u, aws("AmazonSSMReadOnlyAccess")),
    expect: { prod: "no", dev: "no", param: "ok" },
  },
  {
    rule: "AWS managed AWSSecretsManagerClientReadOnlyAccess: GetSecretValue with its kms:ViaService condition",
    setup: (u) => attach(u, aws("AWSSecretsManagerClientReadOnlyAccess")),
    expect: { prod: "ok", dev: "ok", param: "no" },
  },
  {
    rule: "a group's inline policy applies to its members",
    setup: (u) =>
      groupWith(u, (g) =>
        admin().send(
          new PutGroupPolicyCommand({
            GroupName: g,
            PolicyName: "dev",
            PolicyDocument: doc({ Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: `${secretArnPrefix()}dev/*` }),
          }),
        ),
      ),
    expect: { prod: "no", dev: "ok", param: "no" },
  },
  {
    rule: "a managed policy attached to a group applies to its members",
    setup: (u) => groupWith(u, (g) => admin().send(new AttachGroupPolicyCommand({ GroupName: g, PolicyArn: aws("AmazonSSMFullAccess") }))),
    expect: { prod: "no", dev: "no", param: "ok" },
  },
  {
    rule: "an explicit Deny in an attached managed policy beats an inline Allow",
    setup: async (u) => {
      await admin().send(new PutUserPolicyCommand({ UserName: u, PolicyName: "all", PolicyDocument: doc({ Effect: "Allow", Action: "*", Resource: "*" }) }));
      await attach(u, local("deny-prod"));
    },
    expect: { prod: "deny", dev: "ok", param: "ok" },
  },
  {
    rule: "an explicit Deny in a group's managed policy beats the user's own Allow",
    setup: async (u) => {
      await attach(u, aws("AdministratorAccess"));
      await groupWith(u, (g) => admin().send(new AttachGroupPolicyCommand({ GroupName: g, PolicyArn: local("deny-prod") })));
    },
    expect: { prod: "deny", dev: "ok", param: "ok" },
  },
  {
    rule: "a boundary limits AdministratorAccess to what it allows",
    setup: async (u) => {
      await attach(u, aws("AdministratorAccess"));
      await boundary(u, aws("SecretsManagerReadWrite"));
    },
    expect: { prod: "ok", dev: "ok", param: "no:boundary" },
  },
  {
    rule: "a boundary alone grants nothing",
    setup: (u) => boundary(u, aws("AdministratorAccess")),
    expect: { prod: "no", dev: "no", param: "no" },
  },
  {
    rule: "an explicit Deny in the boundary wins",
    setup: async (u) => {
      await attach(u, aws("AdministratorAccess"));
      await boundary(u, local("all-but-prod"));
    },
    expect: { prod: "deny:boundary", dev: "ok", param: "ok" },
  },
  {
    rule: "a boundary limits group policies too",
    setup: async (u) => {
      await groupWith(u, (g) => admin().send(new AttachGroupPolicyCommand({ GroupName: g, PolicyArn: aws("AdministratorAccess") })));
      await boundary(u, aws("AmazonSSMReadOnlyAccess"));
    },
    expect: { prod: "no:boundary", dev: "no:boundary", param: "ok" },
  },
];

describe("managed policies, groups and boundaries: the access matrix", () => {
  rows.forEach((row, n) => {
    it(row.rule, async () => {
      const u = `matrix-${n}`;
      await admin().send(new CreateUserCommand({ UserName: u }));
      await row.setup(u);
      expect(await outcomes(await keyFor(u))).toEqual(row.expect);
    });
  });

  it("a resource policy naming the user is not limited by the user's boundary; detaching takes effect at once", async () => {
    await sm(run.credentials).send(new CreateSecretCommand({ Name: "shared/boundary", SecretString: "shared" }));
    await admin().send(new CreateUserCommand({ UserName: "bounded" }));
    const c = await keyFor("bounded");
    const userArn = `arn:aws:iam::${account}:user/bounded`;
    await sm(run.credentials).send(
      new PutResourcePolicyCommand({
        SecretId: "shared/boundary",
        ResourcePolicy: doc({ Effect: "Allow", Principal: { AWS: userArn }, Action: "secretsmanager:GetSecretValue", Resource: "*" }),
      }),
    );
    await boundary("bounded", aws("AmazonSSMReadOnlyAccess"));
    expect((await sm(c).send(new GetSecretValueCommand({ SecretId: "shared/boundary" }))).SecretString).toBe("shared");
    // The same user's identity-based permission to the same secret is limited.
    await attach("bounded", aws("SecretsManagerReadWrite"));
    expect(await outcomes(c)).toEqual({ prod: "no:boundary", dev: "no:boundary", param: "no" });
    await admin().send(new DeleteUserPermissionsBoundaryCommand({ UserName: "bounded" }));
    expect(await outcomes(c)).toEqual({ prod: "ok", dev: "ok", param: "no" });
    await admin().send(new DetachUserPolicyCommand({ UserName: "bounded", PolicyArn: aws("SecretsManagerReadWrite") }));
    expect(await outcomes(c)).toEqual({ prod: "no", dev: "no", param: "no" });
  });

  it("a customer key's IAM-delegation statement honours managed policies and the boundary", async () => {
    const { KeyMetadata } = await new KMSClient(opts(run.credentials)).send(new CreateKeyCommand({}));
    await sm(run.credentials).send(new CreateSecretCommand({ Name: "cmk/a", SecretString: "under a customer key", KmsKeyId: KeyMetadata!.Arn }));
    await admin().send(new CreateUserCommand({ UserName: "cmk-user" }));
    const c = await keyFor("cmk-user");
    const read = () => sm(c).send(new GetSecretValueCommand({ SecretId: "cmk/a" }));
    await admin().send(
      new CreatePolicyCommand({
        PolicyName: "read-cmk",
        PolicyDocument: doc({ Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: "*" }, { Effect: "Allow", Action: "kms:Decrypt", Resource: KeyMetadata!.Arn }),
      }),
    );
    await admin().send(new CreatePolicyCommand({ PolicyName: "secrets-only", PolicyDocument: doc({ Effect: "Allow", Action: "secretsmanager:*", Resource: "*" }) }));
    await attach("cmk-user", local("secrets-only"));
    const noKms = await failure(read());
    expect(noKms.message).toContain("kms:Decrypt");
    await attach("cmk-user", local("read-cmk"));
    expect((await read()).SecretString).toBe("under a customer key");
    await boundary("cmk-user", local("secrets-only"));
    const bounded = await failure(read());
    expect(bounded.message).toMatch(/kms:Decrypt .*because no permissions boundary allows/);
  });

  it("group membership changes access at once", async () => {
    await admin().send(new CreateUserCommand({ UserName: "member" }));
    const c = await keyFor("member");
    await admin().send(new CreateGroupCommand({ GroupName: "readers" }));
    await admin().send(new AttachGroupPolicyCommand({ GroupName: "readers", PolicyArn: local("read-prod") }));
    expect((await outcomes(c)).prod).toBe("no");
    await admin().send(new AddUserToGroupCommand({ GroupName: "readers", UserName: "member" }));
    expect((await outcomes(c)).prod).toBe("ok");
    await admin().send(new RemoveUserFromGroupCommand({ GroupName: "readers", UserName: "member" }));
    expect((await outcomes(c)).prod).toBe("no");
    await admin().send(new AddUserToGroupCommand({ GroupName: "readers", UserName: "member" }));
    expect((await outcomes(c)).prod).toBe("ok");
    await admin().send(new DetachGroupPolicyCommand({ GroupName: "readers", PolicyArn: local("read-prod") }));
    expect((await outcomes(c)).prod).toBe("no");
  });
});

describe("policy versions", () => {
  it("switching the default version changes access at once; a new version is not evaluated until it is the default", async () => {
    const arn = (
      await admin().send(
        new CreatePolicyCommand({
          PolicyName: "versioned",
          Path: "/team/",
          Description: "versions",
          PolicyDocument: doc({ Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: `${secretArnPrefix()}prod/*` }),
        }),
      )
    ).Policy!.Arn!;
    expect(arn).toBe(local("versioned", "/team/"));
    await admin().send(new CreateUserCommand({ UserName: "versions" }));
    await attach("versions", arn);
    const c = await keyFor("versions");
    expect(await outcomes(c)).toMatchObject({ prod: "ok", dev: "no" });

    const devOnly = doc({ Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: `${secretArnPrefix()}dev/*` });
    const v2 = (await admin().send(new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: devOnly }))).PolicyVersion!;
    expect(v2).toMatchObject({ VersionId: "v2", IsDefaultVersion: false });
    expect(await outcomes(c)).toMatchObject({ prod: "ok", dev: "no" });

    await admin().send(new SetDefaultPolicyVersionCommand({ PolicyArn: arn, VersionId: "v2" }));
    expect(await outcomes(c)).toMatchObject({ prod: "no", dev: "ok" });

    const v3 = await admin().send(
      new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: doc({ Effect: "Allow", Action: "ssm:GetParameter", Resource: "*" }), SetAsDefault: true }),
    );
    expect(v3.PolicyVersion).toMatchObject({ VersionId: "v3", IsDefaultVersion: true });
    expect(await outcomes(c)).toEqual({ prod: "no", dev: "no", param: "ok" });

    const got = await admin().send(new GetPolicyVersionCommand({ PolicyArn: arn, VersionId: "v2" }));
    expect(decodeURIComponent(got.PolicyVersion!.Document!)).toBe(devOnly);
    const listed = await admin().send(new ListPolicyVersionsCommand({ PolicyArn: arn }));
    expect(listed.Versions!.map((v) => [v.VersionId, v.IsDefaultVersion])).toEqual([
      ["v3", true],
      ["v2", false],
      ["v1", false],
    ]);
    const policy = (await admin().send(new GetPolicyCommand({ PolicyArn: arn }))).Policy!;
    expect(policy).toMatchObject({ PolicyName: "versioned", Path: "/team/", DefaultVersionId: "v3", AttachmentCount: 1, Description: "versions", IsAttachable: true });
    expect(policy.PolicyId).toMatch(/^ANPA[A-Z2-7]{17}$/);
  });

  it("keeps at most five versions, never deletes the default, and refuses to change AWS managed policies", async () => {
    const arn = (await admin().send(new CreatePolicyCommand({ PolicyName: "five", PolicyDocument: doc({ Effect: "Allow", Action: "ssm:GetParameter", Resource: "*" }) })))
      .Policy!.Arn!;
    for (let i = 2; i <= 5; i++) {
      await admin().send(new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: doc({ Effect: "Allow", Action: "ssm:GetParameter", Resource: `arn:aws:ssm:*:*:parameter/p${i}` }) }));
    }
    const sixth = await failure(admin().send(new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: doc({ Effect: "Allow", Action: "*", Resource: "*" }) })));
    expect(sixth.name).toBe("LimitExceededException");
    expect(sixth.message).toContain("up to 5 versions");
    const def = await failure(admin().send(new DeletePolicyVersionCommand({ PolicyArn: arn, VersionId: "v1" })));
    expect(def.name).toBe("DeleteConflictException");
    // With versions besides the default, the policy itself cannot go.
    expect((await failure(admin().send(new DeletePolicyCommand({ PolicyArn: arn })))).name).toBe("DeleteConflictException");
    await admin().send(new DeletePolicyVersionCommand({ PolicyArn: arn, VersionId: "v5" }));
    await admin().send(new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: doc({ Effect: "Allow", Action: "*", Resource: "*" }) }));
    const versions = (await admin().send(new ListPolicyVersionsCommand({ PolicyArn: arn }))).Versions!.map((v) => v.VersionId);
    expect(versions).toEqual(["v6", "v4", "v3", "v2", "v1"]);
    for (const v of ["v6", "v4", "v3", "v2"]) await admin().send(new DeletePolicyVersionCommand({ PolicyArn: arn, VersionId: v }));
    await admin().send(new DeletePolicyCommand({ PolicyArn: arn }));
    expect((await failure(admin().send(new GetPolicyCommand({ PolicyArn: arn })))).name).toBe("NoSuchEntityException");

    expect((await failure(admin().send(new CreatePolicyVersionCommand({ PolicyArn: aws("AdministratorAccess"), PolicyDocument: doc({ Effect: "Deny", Action: "*", Resource: "*" }) })))).name).toBe(
      "AccessDenied",
    );
    expect((await failure(admin().send(new DeletePolicyCommand({ PolicyArn: aws("AdministratorAccess") })))).name).toBe("AccessDenied");
    const malformed = await failure(admin().send(new CreatePolicyCommand({ PolicyName: "bad", PolicyDocument: "{not json" })));
    expect(malformed.name).toBe("MalformedPolicyDocumentException");
    const dup = await failure(admin().send(new CreatePolicyCommand({ PolicyName: "READ-PROD", PolicyDocument: doc({ Effect: "Allow", Action: "*", Resource: "*" }) })));
    expect(dup.name).toBe("EntityAlreadyExistsException");
  });
});

describe("IAM API shapes, listings and conflicts", () => {
  it("shows AWS managed policies with their published documents, and lists by scope, attachment, path and page", async () => {
    const srw = (await admin().send(new GetPolicyCommand({ PolicyArn: aws("SecretsManagerReadWrite") }))).Policy!;
    expect(srw).toMatchObject({ PolicyName: "SecretsManagerReadWrite", Path: "/", DefaultVersionId: "v6", IsAttachable: true });
    const v = await admin().send(new GetPolicyVersionCommand({ PolicyArn: aws("SecretsManagerReadWrite"), VersionId: "v6" }));
    const published = JSON.parse(decodeURIComponent(v.PolicyVersion!.Document!));
    expect(published.Statement[0]).toMatchObject({ Sid: "BasePermissions", Effect: "Allow", Resource: "*" });
    expect(published.Statement[0].Action).toContain("secretsmanager:*");

    const awsScope = (await admin().send(new ListPoliciesCommand({ Scope: "AWS" }))).Policies!.map((p) => p.PolicyName);
    expect(awsScope).toEqual(expect.arrayContaining(["AdministratorAccess", "AmazonSSMFullAccess", "AmazonSSMReadOnlyAccess", "IAMReadOnlyAccess", "SecretsManagerReadWrite"]));
    const localScope = (await admin().send(new ListPoliciesCommand({ Scope: "Local" }))).Policies!;
    expect(localScope.every((p) => p.Arn!.startsWith(`arn:aws:iam::${account}:policy/`))).toBe(true);
    expect(localScope.map((p) => p.PolicyName)).toContain("read-prod");
    const team = (await admin().send(new ListPoliciesCommand({ Scope: "Local", PathPrefix: "/team/" }))).Policies!.map((p) => p.PolicyName);
    expect(team).toEqual(["versioned"]);
    const attached = (await admin().send(new ListPoliciesCommand({ Scope: "AWS", OnlyAttached: true }))).Policies!;
    expect(attached.every((p) => (p.AttachmentCount ?? 0) > 0)).toBe(true);
    expect(attached.map((p) => p.PolicyName)).toContain("SecretsManagerReadWrite");
    const boundaries = (await admin().send(new ListPoliciesCommand({ PolicyUsageFilter: "PermissionsBoundary" }))).Policies!.map((p) => p.PolicyName);
    expect(boundaries).toContain("AmazonSSMReadOnlyAccess");
    expect(boundaries).not.toContain("read-prod");

    const all: string[] = [];
    let Marker: string | undefined;
    do {
      const page = await admin().send(new ListPoliciesCommand({ MaxItems: 2, Marker }));
      expect(page.Policies!.length).toBeLessThanOrEqual(2);
      all.push(...page.Policies!.map((p) => p.Arn!));
      Marker = page.IsTruncated ? page.Marker : undefined;
    } while (Marker);
    expect(new Set(all).size).toBe(all.length);
    expect(all).toEqual((await admin().send(new ListPoliciesCommand({}))).Policies!.map((p) => p.Arn));
  });

  it("lists attachments, entities, groups and memberships; shows a boundary in GetUser and GetRole; tags policies", async () => {
    await admin().send(new CreateUserCommand({ UserName: "lister", Path: "/ops/" }));
    await attach("lister", aws("IAMReadOnlyAccess"));
    await boundary("lister", aws("AdministratorAccess"));
    const attachedList = await admin().send(new ListAttachedUserPoliciesCommand({ UserName: "lister" }));
    expect(attachedList.AttachedPolicies).toEqual([{ PolicyName: "IAMReadOnlyAccess", PolicyArn: aws("IAMReadOnlyAccess") }]);
    const user = (await admin().send(new GetUserCommand({ UserName: "lister" }))).User!;
    expect(user.PermissionsBoundary).toEqual({ PermissionsBoundaryType: "PermissionsBoundaryPolicy", PermissionsBoundaryArn: aws("AdministratorAccess") });

    await admin().send(new CreateGroupCommand({ GroupName: "ops", Path: "/ops/" }));
    await admin().send(new AttachGroupPolicyCommand({ GroupName: "ops", PolicyArn: aws("IAMReadOnlyAccess") }));
    await admin().send(new AddUserToGroupCommand({ GroupName: "ops", UserName: "lister" }));
    await admin().send(new PutGroupPolicyCommand({ GroupName: "ops", PolicyName: "inline", PolicyDocument: doc({ Effect: "Allow", Action: "ssm:*", Resource: "*" }) }));
    const group = await admin().send(new GetGroupCommand({ GroupName: "ops" }));
    expect(group.Group).toMatchObject({ GroupName: "ops", Path: "/ops/", Arn: `arn:aws:iam::${account}:group/ops/ops` });
    expect(group.Group!.GroupId).toMatch(/^AGPA/);
    expect(group.Users!.map((u) => u.UserName)).toEqual(["lister"]);
    expect((await admin().send(new ListGroupsForUserCommand({ UserName: "lister" }))).Groups!.map((g) => g.GroupName)).toEqual(["ops"]);
    expect((await admin().send(new ListGroupsCommand({ PathPrefix: "/ops/" }))).Groups!.map((g) => g.GroupName)).toEqual(["ops"]);
    expect((await admin().send(new ListGroupPoliciesCommand({ GroupName: "ops" }))).PolicyNames).toEqual(["inline"]);
    expect(decodeURIComponent((await admin().send(new GetGroupPolicyCommand({ GroupName: "ops", PolicyName: "inline" }))).PolicyDocument!)).toContain("ssm:*");
    expect((await admin().send(new ListAttachedGroupPoliciesCommand({ GroupName: "ops" }))).AttachedPolicies!.map((p) => p.PolicyName)).toEqual(["IAMReadOnlyAccess"]);

    const entities = await admin().send(new ListEntitiesForPolicyCommand({ PolicyArn: aws("IAMReadOnlyAccess") }));
    expect(entities.PolicyGroups!.map((g) => g.GroupName)).toEqual(["ops"]);
    expect(entities.PolicyUsers!.map((u) => u.UserName)).toEqual(["lister"]);
    expect(entities.PolicyRoles).toEqual([]);
    const onlyUsers = await admin().send(new ListEntitiesForPolicyCommand({ PolicyArn: aws("IAMReadOnlyAccess"), EntityFilter: "User" }));
    expect(onlyUsers.PolicyGroups).toEqual([]);
    const asBoundary = await admin().send(new ListEntitiesForPolicyCommand({ PolicyArn: aws("AdministratorAccess"), PolicyUsageFilter: "PermissionsBoundary" }));
    expect(asBoundary.PolicyUsers!.map((u) => u.UserName)).toContain("lister");

    await admin().send(new CreateRoleCommand({ RoleName: "bounded-role", AssumeRolePolicyDocument: doc({ Effect: "Allow", Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: "sts:AssumeRole" }) }));
    await admin().send(new PutRolePermissionsBoundaryCommand({ RoleName: "bounded-role", PermissionsBoundary: local("read-prod") }));
    expect((await admin().send(new GetRoleCommand({ RoleName: "bounded-role" }))).Role!.PermissionsBoundary?.PermissionsBoundaryArn).toBe(local("read-prod"));
    await admin().send(new DeleteRolePermissionsBoundaryCommand({ RoleName: "bounded-role" }));
    expect((await admin().send(new GetRoleCommand({ RoleName: "bounded-role" }))).Role!.PermissionsBoundary).toBeUndefined();

    // CreateUser and CreateRole take a boundary too (Terraform's permissions_boundary).
    const created = await admin().send(new CreateUserCommand({ UserName: "born-bounded", PermissionsBoundary: aws("AmazonSSMReadOnlyAccess") }));
    expect(created.User!.PermissionsBoundary?.PermissionsBoundaryArn).toBe(aws("AmazonSSMReadOnlyAccess"));
    const role = await admin().send(
      new CreateRoleCommand({
        RoleName: "born-bounded-role",
        PermissionsBoundary: local("read-prod"),
        AssumeRolePolicyDocument: doc({ Effect: "Allow", Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: "sts:AssumeRole" }),
      }),
    );
    expect(role.Role!.PermissionsBoundary?.PermissionsBoundaryArn).toBe(local("read-prod"));
    const noSuch = await failure(admin().send(new CreateUserCommand({ UserName: "never", PermissionsBoundary: local("no-such-policy") })));
    expect(noSuch.name).toBe("NoSuchEntityException");
    expect((await failure(admin().send(new GetUserCommand({ UserName: "never" })))).name).toBe("NoSuchEntityException");

    await admin().send(new TagPolicyCommand({ PolicyArn: local("read-prod"), Tags: [{ Key: "team", Value: "a" }, { Key: "env", Value: "prod" }] }));
    await admin().send(new UntagPolicyCommand({ PolicyArn: local("read-prod"), TagKeys: ["env"] }));
    expect((await admin().send(new ListPolicyTagsCommand({ PolicyArn: local("read-prod") }))).Tags).toEqual([{ Key: "team", Value: "a" }]);
    expect((await admin().send(new GetPolicyCommand({ PolicyArn: local("read-prod") }))).Policy!.Tags).toEqual([{ Key: "team", Value: "a" }]);
  });

  it("refuses to delete what is still attached or has members, as AWS does (DeleteConflict)", async () => {
    const conflict = async (p: Promise<unknown>) => expect((await failure(p)).name).toBe("DeleteConflictException");
    await admin().send(new CreatePolicyCommand({ PolicyName: "in-use", PolicyDocument: doc({ Effect: "Allow", Action: "ssm:GetParameter", Resource: "*" }) }));
    await admin().send(new CreateUserCommand({ UserName: "holder" }));
    await admin().send(new CreateGroupCommand({ GroupName: "holders" }));
    await admin().send(new CreateRoleCommand({ RoleName: "holder-role", AssumeRolePolicyDocument: doc({ Effect: "Allow", Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: "sts:AssumeRole" }) }));
    await attach("holder", local("in-use"));
    await admin().send(new AttachRolePolicyCommand({ RoleName: "holder-role", PolicyArn: local("in-use") }));
    await admin().send(new AddUserToGroupCommand({ GroupName: "holders", UserName: "holder" }));
    await admin().send(new PutGroupPolicyCommand({ GroupName: "holders", PolicyName: "p", PolicyDocument: doc({ Effect: "Allow", Action: "ssm:GetParameter", Resource: "*" }) }));

    await conflict(admin().send(new DeletePolicyCommand({ PolicyArn: local("in-use") })));
    await conflict(admin().send(new DeleteUserCommand({ UserName: "holder" })));
    await conflict(admin().send(new DeleteRoleCommand({ RoleName: "holder-role" })));
    await conflict(admin().send(new DeleteGroupCommand({ GroupName: "holders" })));
    expect((await admin().send(new ListAttachedRolePoliciesCommand({ RoleName: "holder-role" }))).AttachedPolicies!.map((p) => p.PolicyName)).toEqual(["in-use"]);

    await admin().send(new DetachUserPolicyCommand({ UserName: "holder", PolicyArn: local("in-use") }));
    await conflict(admin().send(new DeletePolicyCommand({ PolicyArn: local("in-use") })));
    await admin().send(new DetachRolePolicyCommand({ RoleName: "holder-role", PolicyArn: local("in-use") }));
    await conflict(admin().send(new DeleteUserCommand({ UserName: "holder" }))); // still in a group
    await admin().send(new RemoveUserFromGroupCommand({ GroupName: "holders", UserName: "holder" }));
    await conflict(admin().send(new DeleteGroupCommand({ GroupName: "holders" }))); // still has an inline policy
    await admin().send(new DeleteGroupPolicyCommand({ GroupName: "holders", PolicyName: "p" }));
    await admin().send(new DeleteGroupCommand({ GroupName: "holders" }));
    await admin().send(new DeletePolicyCommand({ PolicyArn: local("in-use") }));
    await admin().send(new DeleteRoleCommand({ RoleName: "holder-role" }));
    await admin().send(new DeleteUserCommand({ UserName: "holder" }));

    // A policy used as a boundary is in use too.
    await admin().send(new CreatePolicyCommand({ PolicyName: "as-boundary", PolicyDocument: doc({ Effect: "Allow", Action: "*", Resource: "*" }) }));
    await admin().send(new CreateUserCommand({ UserName: "boundary-holder" }));
    await boundary("boundary-holder", local("as-boundary"));
    await conflict(admin().send(new DeletePolicyCommand({ PolicyArn: local("as-boundary") })));

    const missing = await failure(attach("boundary-holder", local("no-such-policy")));
    expect(missing.name).toBe("NoSuchEntityException");
    expect((await failure(admin().send(new DetachUserPolicyCommand({ UserName: "boundary-holder", PolicyArn: aws("AdministratorAccess") })))).name).toBe("NoSuchEntityException");
    expect((await failure(admin().send(new GetGroupCommand({ GroupName: "no-such-group" })))).name).toBe("NoSuchEntityException");
  });

  it("audits policy, group and boundary changes with the policy, group and user as resources", async () => {
    const trail = new CloudTrailClient(opts(run.credentials));
    const events = async (name: string) =>
      (await trail.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: "EventName", AttributeValue: name }] }))).Events!;
    const [attachEvent] = await events("AttachUserPolicy");
    expect(attachEvent.Resources).toEqual(
      expect.arrayContaining([expect.objectContaining({ ResourceType: "AWS::IAM::Policy" }), expect.objectContaining({ ResourceType: "AWS::IAM::User" })]),
    );
    const [createEvent] = await events("CreatePolicy");
    expect(createEvent.Resources?.[0]).toMatchObject({ ResourceType: "AWS::IAM::Policy" });
    expect(createEvent.Resources![0].ResourceName).toMatch(new RegExp(`^arn:aws:iam::${account}:policy/`));
    const [groupEvent] = await events("AddUserToGroup");
    expect(groupEvent.Resources!.map((r) => r.ResourceType).sort()).toEqual(["AWS::IAM::Group", "AWS::IAM::User"]);
    const [boundaryEvent] = await events("PutUserPermissionsBoundary");
    expect(boundaryEvent.Resources!.map((r) => r.ResourceType).sort()).toEqual(["AWS::IAM::Policy", "AWS::IAM::User"]);
    trail.destroy();
  });

  it("allows at most 10 managed policies per entity (LimitExceeded)", async () => {
    await admin().send(new CreateUserCommand({ UserName: "collector" }));
    for (let i = 0; i < 10; i++) {
      const name = `many-${i}`;
      await admin().send(new CreatePolicyCommand({ PolicyName: name, PolicyDocument: doc({ Effect: "Allow", Action: "ssm:GetParameter", Resource: `arn:aws:ssm:*:*:parameter/p${i}` }) }));
      await attach("collector", local(name));
    }
    // Attaching one already attached changes nothing and is no error.
    await attach("collector", local("many-0"));
    const err = await failure(attach("collector", aws("IAMReadOnlyAccess")));
    expect(err.name).toBe("LimitExceededException");
    expect(err.message).toContain("PoliciesPerUser: 10");
  });

  it("authorises every managed-policy and group operation with its IAM action", async () => {
    await admin().send(new CreateUserCommand({ UserName: "reader" }));
    await attach("reader", aws("IAMReadOnlyAccess"));
    const c = await keyFor("reader");
    expect((await iam(c).send(new GetPolicyCommand({ PolicyArn: local("read-prod") }))).Policy!.PolicyName).toBe("read-prod");
    expect((await iam(c).send(new ListPoliciesCommand({ Scope: "Local" }))).Policies!.length).toBeGreaterThan(0);
    expect((await iam(c).send(new GetGroupCommand({ GroupName: "ops" }))).Group!.GroupName).toBe("ops");
    const denied: (() => Promise<unknown>)[] = [
      () => iam(c).send(new CreatePolicyCommand({ PolicyName: "nope", PolicyDocument: doc({ Effect: "Allow", Action: "*", Resource: "*" }) })),
      () => iam(c).send(new AttachUserPolicyCommand({ UserName: "reader", PolicyArn: aws("AdministratorAccess") })),
      () => iam(c).send(new DeleteUserPermissionsBoundaryCommand({ UserName: "lister" })),
      () => iam(c).send(new AddUserToGroupCommand({ GroupName: "ops", UserName: "reader" })),
      () => iam(c).send(new CreateGroupCommand({ GroupName: "mine" })),
      () => iam(c).send(new SetDefaultPolicyVersionCommand({ PolicyArn: local("versioned", "/team/"), VersionId: "v1" })),
    ];
    for (const call of denied) {
      const err = await failure(call());
      expect(err.name).toBe("AccessDenied");
      expect(err.message).toContain(`arn:aws:iam::${account}:user/reader is not authorized to perform: iam:`);
    }
    // AccessDenied, not NoSuchEntity, for a group that does not exist: nothing is learnt.
    expect((await failure(iam(c).send(new DeleteGroupCommand({ GroupName: "no-such-group" })))).name).toBe("AccessDenied");
    // A policy condition on the attached policy's ARN (iam:PolicyARN) is honoured.
    await admin().send(
      new PutUserPolicyCommand({
        UserName: "reader",
        PolicyName: "attach-readonly-only",
        PolicyDocument: doc({ Effect: "Allow", Action: "iam:AttachUserPolicy", Resource: "*", Condition: { ArnEquals: { "iam:PolicyARN": aws("AmazonSSMReadOnlyAccess") } } }),
      }),
    );
    await iam(c).send(new AttachUserPolicyCommand({ UserName: "reader", PolicyArn: aws("AmazonSSMReadOnlyAccess") }));
    expect((await failure(iam(c).send(new AttachUserPolicyCommand({ UserName: "reader", PolicyArn: aws("AdministratorAccess") })))).name).toBe("AccessDenied");
    await admin().send(new DeleteAccessKeyCommand({ UserName: "reader", AccessKeyId: c.accessKeyId }));
  });
});

describe("roles and sessions", () => {
  it("a role's managed policies and boundary apply to its sessions; a resource policy naming the session is not limited, one naming the role is", async () => {
    const roleArn = `arn:aws:iam::${account}:role/app`;
    await admin().send(new CreateRoleCommand({ RoleName: "app", AssumeRolePolicyDocument: doc({ Effect: "Allow", Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: "sts:AssumeRole" }) }));
    await admin().send(new AttachRolePolicyCommand({ RoleName: "app", PolicyArn: aws("SecretsManagerReadWrite") }));
    const assume = async () => {
      const { Credentials } = await sts(run.credentials).send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: "s1" }));
      return { accessKeyId: Credentials!.AccessKeyId!, secretAccessKey: Credentials!.SecretAccessKey!, sessionToken: Credentials!.SessionToken! };
    };
    const session = await assume();
    expect(await outcomes(session)).toEqual({ prod: "ok", dev: "ok", param: "no" });
    // The boundary applies to sessions already issued, at once. It limits the AWS managed key's grant
    // to "*" as well (as a session policy does): without kms:Decrypt in the boundary, no secret reads.
    await admin().send(new PutRolePermissionsBoundaryCommand({ RoleName: "app", PermissionsBoundary: local("read-prod") }));
    expect(await outcomes(session)).toEqual({ prod: "no", dev: "no:boundary", param: "no" });
    await admin().send(new PutRolePermissionsBoundaryCommand({ RoleName: "app", PermissionsBoundary: local("read-prod-kms") }));
    expect(await outcomes(session)).toEqual({ prod: "ok", dev: "no:boundary", param: "no" });

    await sm(run.credentials).send(new CreateSecretCommand({ Name: "shared/to-role", SecretString: "role" }));
    await sm(run.credentials).send(new CreateSecretCommand({ Name: "shared/to-session", SecretString: "session" }));
    const grant = (SecretId: string, who: string) =>
      sm(run.credentials).send(
        new PutResourcePolicyCommand({ SecretId, ResourcePolicy: doc({ Effect: "Allow", Principal: { AWS: who }, Action: "secretsmanager:GetSecretValue", Resource: "*" }) }),
      );
    await grant("shared/to-role", roleArn);
    await grant("shared/to-session", `arn:aws:sts::${account}:assumed-role/app/s1`);
    await admin().send(new DetachRolePolicyCommand({ RoleName: "app", PolicyArn: aws("SecretsManagerReadWrite") }));
    expect((await failure(sm(session).send(new GetSecretValueCommand({ SecretId: "shared/to-role" })))).name).toBe("AccessDeniedException");
    expect((await sm(session).send(new GetSecretValueCommand({ SecretId: "shared/to-session" }))).SecretString).toBe("session");
    await admin().send(new DeleteRolePermissionsBoundaryCommand({ RoleName: "app" }));
    expect((await sm(session).send(new GetSecretValueCommand({ SecretId: "shared/to-role" }))).SecretString).toBe("role");
  });

  it("AssumeRole PolicyArns takes managed policies as session policies", async () => {
    const roleArn = `arn:aws:iam::${account}:role/wide`;
    await admin().send(new CreateRoleCommand({ RoleName: "wide", AssumeRolePolicyDocument: doc({ Effect: "Allow", Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: "sts:AssumeRole" }) }));
    await admin().send(new AttachRolePolicyCommand({ RoleName: "wide", PolicyArn: aws("AdministratorAccess") }));
    const { Credentials } = await sts(run.credentials).send(
      new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: "narrow", PolicyArns: [{ arn: aws("AmazonSSMReadOnlyAccess") }, { arn: local("read-prod-kms") }] }),
    );
    const c = { accessKeyId: Credentials!.AccessKeyId!, secretAccessKey: Credentials!.SecretAccessKey!, sessionToken: Credentials!.SessionToken! };
    expect(await outcomes(c)).toEqual({ prod: "ok", dev: "no", param: "ok" });
    const unknown = await failure(sts(run.credentials).send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: "unknown", PolicyArns: [{ arn: local("no-such") }] })));
    expect(unknown.name).toBe("InvalidParameterValue");
    // A caller who may not assume the role learns nothing of which policies exist.
    await admin().send(new CreateUserCommand({ UserName: "outsider" }));
    const outsider = await keyFor("outsider");
    for (const arn of [local("no-such"), local("read-prod-kms")]) {
      const err = await failure(sts(outsider).send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: "probe", PolicyArns: [{ arn }] })));
      expect([err.name, err.message]).toEqual(["AccessDenied", `User: arn:aws:iam::${account}:user/outsider is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`]);
    }
    // A trust policy naming the account root delegates to the caller's policies: a group's managed policy counts.
    await admin().send(new CreatePolicyCommand({ PolicyName: "assume-wide", PolicyDocument: doc({ Effect: "Allow", Action: "sts:AssumeRole", Resource: roleArn }) }));
    await admin().send(new CreateGroupCommand({ GroupName: "assumers" }));
    await admin().send(new AttachGroupPolicyCommand({ GroupName: "assumers", PolicyArn: local("assume-wide") }));
    await admin().send(new AddUserToGroupCommand({ GroupName: "assumers", UserName: "outsider" }));
    const assumed = await sts(outsider).send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: "insider" }));
    expect(assumed.AssumedRoleUser!.Arn).toBe(`arn:aws:sts::${account}:assumed-role/wide/insider`);
  });
});
