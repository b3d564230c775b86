import { CreateRoleCommand, PutRolePolicyCommand } from "@aws-sdk/client-iam";
import { CreateSecretCommand, GetSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { CloudTrailClient, LookupEventsCommand } from "@aws-sdk/client-cloudtrail";
import { afterAll, beforeAll, expect, it } from "vitest";
import { failure, startCoffer, type Running } from "../e2e/harness.ts";
import { ACCOUNT, clients, policy, roleArn, sessionCreds, trustAccount, userWithKey, type Creds } from "./identity-clients.ts";

// SourceIdentity, as AWS documents it: setting one needs sts:SetSourceIdentity (trust policy, and the
// caller's own policy when the trust policy names the account); once set it is kept through role
// chaining, can never be changed, is aws:SourceIdentity in every later request, and is in the trail.

let run: Running;
let c: ReturnType<typeof clients>;
let admin: Creds;
let dev: Creds;

beforeAll(async () => {
  run = await startCoffer();
  c = clients(run.url);
  admin = run.credentials;
  const iam = c.iam(admin);
  // "plain" may be assumed, but without sts:SetSourceIdentity no source identity can be set on it.
  await iam.send(new CreateRoleCommand({ RoleName: "plain", AssumeRolePolicyDocument: trustAccount() }));
  // "critical" needs a source identity, one of two names.
  const named = { StringEquals: { "sts:SourceIdentity": ["dev", "mallory"] } };
  await iam.send(new CreateRoleCommand({ RoleName: "critical", AssumeRolePolicyDocument: trustAccount(["sts:AssumeRole", "sts:SetSourceIdentity"], named) }));
  await iam.send(
    new PutRolePolicyCommand({
      RoleName: "critical",
      PolicyName: "read-and-hop",
      PolicyDocument: policy(
        // Reads only while someone is named behind the session.
        { Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: "*", Condition: { StringEquals: { "aws:SourceIdentity": "dev" } } },
        { Effect: "Allow", Action: ["sts:AssumeRole", "sts:SetSourceIdentity"], Resource: "*" },
      ),
    }),
  );
  // "next" trusts "critical" sessions, and so must allow the source identity they carry on.
  await iam.send(
    new CreateRoleCommand({
      RoleName: "next",
      AssumeRolePolicyDocument: policy({ Effect: "Allow", Principal: { AWS: roleArn("critical") }, Action: ["sts:AssumeRole", "sts:SetSourceIdentity"] }),
    }),
  );
  const withoutSource = policy({ Effect: "Allow", Principal: { AWS: roleArn("critical") }, Action: "sts:AssumeRole" });
  await iam.send(new CreateRoleCommand({ RoleName: "next-no-source", AssumeRolePolicyDocument: withoutSource }));
  // dev may assume roles and set a source identity only to its own name (${aws:username}).
  dev = await userWithKey(
    iam,
    "dev",
    policy(
      { Effect: "Allow", Action: "sts:AssumeRole", Resource: "*" },
      { Effect: "Allow", Action: "sts:SetSourceIdentity", Resource: "*", Condition: { StringEquals: { "sts:SourceIdentity": "${aws:username}" } } },
    ),
  );
  await c.sm(admin).send(new CreateSecretCommand({ Name: "prod/db", SecretString: "s3cret" }));
});
afterAll(() => run.stop());

it("needs sts:SetSourceIdentity in the trust policy and the caller's policy, with sts:SourceIdentity as its condition key", async () => {
  expect((await failure(c.assume(admin, { RoleArn: roleArn("plain"), SourceIdentity: "dev" }))).message).toBe(
    `User: arn:aws:iam::${ACCOUNT}:root is not authorized to perform: sts:SetSourceIdentity on resource: ${roleArn("plain")}`,
  );
  expect((await c.assume(admin, { RoleArn: roleArn("plain") })).SourceIdentity).toBeUndefined();
  // The trust policy requires a source identity, and that one.
  expect((await failure(c.assume(dev, { RoleArn: roleArn("critical") }))).name).toBe("AccessDenied");
  expect((await failure(c.assume(admin, { RoleArn: roleArn("critical"), SourceIdentity: "root-pretending" }))).name).toBe("AccessDenied");
  // The trust policy would take "mallory", but dev's own policy lets it name only itself.
  const mallory = await failure(c.assume(dev, { RoleArn: roleArn("critical"), SourceIdentity: "mallory" }));
  expect(mallory.name).toBe("AccessDenied");
  // The model's pattern and length.
  expect((await failure(c.assume(dev, { RoleArn: roleArn("critical"), SourceIdentity: "aws:dev" }))).name).toBe("ValidationError");
  expect((await failure(c.assume(dev, { RoleArn: roleArn("critical"), SourceIdentity: "d" }))).name).toBe("ValidationError");

  const answer = await c.assume(dev, { RoleArn: roleArn("critical"), SourceIdentity: "dev" });
  expect(answer.SourceIdentity).toBe("dev");
  expect((await c.sm(sessionCreds(answer.Credentials)).send(new GetSecretValueCommand({ SecretId: "prod/db" }))).SecretString).toBe("s3cret");
});

it("is kept through role chaining, cannot be changed, and needs sts:SetSourceIdentity on every role of the chain", async () => {
  const first = sessionCreds((await c.assume(dev, { RoleArn: roleArn("critical"), SourceIdentity: "dev" })).Credentials);
  const hopped = await c.assume(first, { RoleArn: roleArn("next") });
  expect(hopped.SourceIdentity).toBe("dev");
  const again = await c.assume(first, { RoleArn: roleArn("next"), SourceIdentity: "dev" });
  expect(again.SourceIdentity).toBe("dev");

  const changed = await failure(c.assume(first, { RoleArn: roleArn("next"), SourceIdentity: "someone-else" }));
  expect(changed.name).toBe("AccessDenied");
  expect(changed.message).toContain("source identity of a session cannot be changed");
  // Kept even when not passed: a role whose trust policy lacks sts:SetSourceIdentity cannot be reached with one.
  expect((await failure(c.assume(first, { RoleArn: roleArn("next-no-source") }))).message).toContain("sts:SetSourceIdentity");
});

it("is in the trail: the AssumeRole request's parameters, and every later request's session context", async () => {
  const session = sessionCreds((await c.assume(dev, { RoleArn: roleArn("critical"), SourceIdentity: "dev", RoleSessionName: "traced" })).Credentials);
  await c.sm(session).send(new GetSecretValueCommand({ SecretId: "prod/db" }));
  const trail = new CloudTrailClient({ endpoint: run.url, region: "us-east-1", credentials: admin, maxAttempts: 1 });
  const events = async (name: string) =>
    (await trail.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: "EventName", AttributeValue: name }] }))).Events!.map(
      (e) => JSON.parse(e.CloudTrailEvent!),
    );
  const assumed = (await events("AssumeRole")).find((e) => e.requestParameters?.roleSessionName === "traced");
  expect(assumed.requestParameters.sourceIdentity).toBe("dev");
  const read = (await events("GetSecretValue")).find((e) => e.userIdentity.accessKeyId === session.accessKeyId);
  expect(read.userIdentity.sessionContext.sourceIdentity).toBe("dev");
});
