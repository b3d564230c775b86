import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateRoleCommand, PutRolePolicyCommand } from "@aws-sdk/client-iam";
import { CreateSecretCommand, DeleteSecretCommand, GetSecretValueCommand, PutResourcePolicyCommand } from "@aws-sdk/client-secrets-manager";
import { AssumeRoleCommand, type AssumeRoleCommandInput } from "@aws-sdk/client-sts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failure, startCoffer, type Running } from "../e2e/harness.ts";
import { ACCOUNT, clients, policy, sessionCreds, trustAccount, type Creds } from "./identity-clients.ts";

// Issue 12 item 4: AssumeRole Policy and PolicyArns limit the session to the intersection with the
// role's permissions, on every request signed with its credentials, also after a restart.

const dataDir = mkdtempSync(join(tmpdir(), "coffer-sec-session-policy-"));
let run: Running;
let c: ReturnType<typeof clients>;
let admin: Creds;
const ROLE = `arn:aws:iam::${ACCOUNT}:role/broad`;
const arnOf: Record<string, string> = {};
const assume = (input: Omit<AssumeRoleCommandInput, "RoleArn" | "RoleSessionName"> & { RoleSessionName?: string }) =>
  c.sts(admin).send(new AssumeRoleCommand({ RoleArn: ROLE, RoleSessionName: "narrow", ...input }));
// The AWS managed key's policy grants to "*" (not to the session by name), so a session policy must
// allow its use too, as AWS documents for grants that do not name the session.
const VIA_SECRETS_MANAGER = {
  Effect: "Allow",
  Action: "kms:Decrypt",
  Resource: "*",
  Condition: { StringEquals: { "kms:ViaService": "secretsmanager.us-east-1.amazonaws.com" } },
};
const read = (who: Creds, SecretId: string) => c.sm(who).send(new GetSecretValueCommand({ SecretId }));

beforeAll(async () => {
  run = await startCoffer({ dataDir });
  c = clients(run.url);
  admin = run.credentials;
  await c.iam(admin).send(new CreateRoleCommand({ RoleName: "broad", AssumeRolePolicyDocument: trustAccount() }));
  await c.iam(admin).send(
    new PutRolePolicyCommand({
      RoleName: "broad",
      PolicyName: "read-all",
      PolicyDocument: policy({ Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: "*" }),
    }),
  );
  for (const name of ["app/a", "app/b", "shared/c"]) {
    arnOf[name] = (await c.sm(admin).send(new CreateSecretCommand({ Name: name, SecretString: name }))).ARN!;
  }
});
afterAll(async () => {
  await run.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("session policies are enforced", () => {
  let narrow: Creds;

  it("an inline session policy narrows the session to what both allow", async () => {
    const out = await assume({ Policy: policy({ Effect: "Allow", Action: "secretsmanager:*", Resource: arnOf["app/a"] }, VIA_SECRETS_MANAGER) });
    expect(out.PackedPolicySize).toBeGreaterThan(0);
    narrow = sessionCreds(out.Credentials);
    expect((await read(narrow, "app/a")).SecretString).toBe("app/a");
    const denied = await failure(read(narrow, "app/b"));
    expect(denied.name).toBe("AccessDeniedException");
    expect(denied.message).toBe(
      `User: arn:aws:sts::${ACCOUNT}:assumed-role/broad/narrow is not authorized to perform: secretsmanager:GetSecretValue on resource: ${arnOf["app/b"]} because no session policy allows the secretsmanager:GetSecretValue action`,
    );
    // secretsmanager:* in the session policy grants nothing the role lacks.
    expect((await failure(c.sm(narrow).send(new DeleteSecretCommand({ SecretId: "app/a" })))).name).toBe("AccessDeniedException");
  });

  it("an explicit deny in the session policy wins", async () => {
    const s = sessionCreds(
      (
        await assume({
          Policy: policy(
            { Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: "*" },
            { Effect: "Deny", Action: "secretsmanager:GetSecretValue", Resource: arnOf["app/b"] },
            VIA_SECRETS_MANAGER,
          ),
        })
      ).Credentials,
    );
    expect((await read(s, "app/a")).SecretString).toBe("app/a");
    expect((await failure(read(s, "app/b"))).message).toMatch(/with an explicit deny in a session policy$/);
  });

  it("a resource policy naming the session itself still grants; one naming the role is limited", async () => {
    await c.sm(admin).send(
      new PutResourcePolicyCommand({
        SecretId: "shared/c",
        ResourcePolicy: policy({
          Effect: "Allow",
          Principal: { AWS: `arn:aws:sts::${ACCOUNT}:assumed-role/broad/narrow` },
          Action: "secretsmanager:GetSecretValue",
          Resource: "*",
        }),
      }),
    );
    expect((await read(narrow, "shared/c")).SecretString).toBe("shared/c");
    await c.sm(admin).send(
      new PutResourcePolicyCommand({
        SecretId: "shared/c",
        ResourcePolicy: policy({ Effect: "Allow", Principal: { AWS: ROLE }, Action: "secretsmanager:GetSecretValue", Resource: "*" }),
      }),
    );
    expect((await failure(read(narrow, "shared/c"))).name).toBe("AccessDeniedException");
  });

  it("validates the session policy: syntax, managed policy ARNs and packed size", async () => {
    const malformed = await failure(assume({ Policy: "{not json" }));
    expect(malformed.name).toBe("MalformedPolicyDocumentException");
    const withPrincipal = await failure(assume({ Policy: policy({ Effect: "Allow", Principal: "*", Action: "*", Resource: "*" }) }));
    expect(withPrincipal.name).toBe("MalformedPolicyDocumentException");
    const unknown = await failure(assume({ PolicyArns: [{ arn: `arn:aws:iam::${ACCOUNT}:policy/nope` }] }));
    expect(unknown.name).toBe("InvalidParameterValue");
    const big = policy(
      ...Array.from({ length: 40 }, (_, i) => ({ Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: `${arnOf["app/a"]}-${i}` })),
    );
    const tooLarge = await failure(assume({ Policy: big }));
    expect(tooLarge.name).toBe("PackedPolicyTooLargeException");
    expect(tooLarge.message).toMatch(/^Packed policy consumes \d+% of allotted space, please use smaller policy\.$/);
  });

  it("stays with the credentials: still enforced after a restart", async () => {
    await run.stop();
    run = await startCoffer({ dataDir });
    c = clients(run.url);
    expect((await read(narrow, "app/a")).SecretString).toBe("app/a");
    expect((await failure(read(narrow, "app/b"))).name).toBe("AccessDeniedException");
  });
});
