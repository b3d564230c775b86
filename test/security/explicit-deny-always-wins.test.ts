import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from "@aws-sdk/client-iam";
import { CreateKeyCommand, DescribeKeyCommand, EncryptCommand, GetKeyPolicyCommand, KMSClient } from "@aws-sdk/client-kms";
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutResourcePolicyCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { GetParameterCommand, PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failure, startCoffer, type Running } from "../e2e/harness.ts";

/**
 * Issue 12, item 9: an explicit Deny wins wherever it is written. Before, the AWS managed keys
 * (alias/aws/secretsmanager, alias/aws/ssm) were used without any policy evaluation, so an
 * identity policy's `Deny kms:Decrypt` on "*" did not stop reading a secret or a SecureString.
 */

type Creds = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

let run: Running;
let account: string;
const opts = (credentials: Creds) => ({ endpoint: run.url, region: "us-east-1", credentials, maxAttempts: 1 });
const sm = (c: Creds) => new SecretsManagerClient(opts(c));
const ssm = (c: Creds) => new SSMClient(opts(c));
const kms = (c: Creds) => new KMSClient(opts(c));
const iam = (c: Creds) => new IAMClient(opts(c));
const policy = (...Statement: object[]) => JSON.stringify({ Version: "2012-10-17", Statement });

beforeAll(async () => {
  run = await startCoffer();
  account = (await new STSClient(opts(run.credentials)).send(new GetCallerIdentityCommand({}))).Account!;
});
afterAll(() => run.stop());

async function user(name: string, document: string): Promise<Creds> {
  const admin = iam(run.credentials);
  await admin.send(new CreateUserCommand({ UserName: name }));
  await admin.send(new PutUserPolicyCommand({ UserName: name, PolicyName: "p", PolicyDocument: document }));
  const { AccessKey } = await admin.send(new CreateAccessKeyCommand({ UserName: name }));
  return { accessKeyId: AccessKey!.AccessKeyId!, secretAccessKey: AccessKey!.SecretAccessKey! };
}

describe("explicit deny always wins", () => {
  it("Deny kms:Decrypt stops GetSecretValue of a secret under the default aws/secretsmanager key", async () => {
    const admin = run.credentials;
    const { VersionId } = await sm(admin).send(new CreateSecretCommand({ Name: "deny/default-key", SecretString: "v1" }));
    const u = await user(
      "no-decrypt",
      policy({ Effect: "Allow", Action: "secretsmanager:*", Resource: "*" }, { Effect: "Deny", Action: "kms:Decrypt", Resource: "*" }),
    );
    const err = await failure(sm(u).send(new GetSecretValueCommand({ SecretId: "deny/default-key" })));
    expect(err.name).toBe("AccessDeniedException");
    expect(err.message).toContain("kms:Decrypt");
    expect(err.message).toContain("explicit deny");
    expect(err.message).not.toContain("v1");

    // A retried PutSecretValue compares the stored value: without kms:Decrypt that would be an
    // oracle (the right guess "succeeds", a wrong one is ResourceExists). Both are refused.
    for (const guess of ["v1", "v2"]) {
      const retry = await failure(
        sm(u).send(new PutSecretValueCommand({ SecretId: "deny/default-key", ClientRequestToken: VersionId, SecretString: guess })),
      );
      expect(retry.name).toBe("AccessDeniedException");
    }
  });

  it("Deny kms:GenerateDataKey stops writing a value under the default key", async () => {
    const u = await user(
      "no-gdk",
      policy({ Effect: "Allow", Action: ["secretsmanager:*", "ssm:*"], Resource: "*" }, { Effect: "Deny", Action: "kms:GenerateDataKey*", Resource: "*" }),
    );
    expect((await failure(sm(u).send(new CreateSecretCommand({ Name: "deny/no-gdk", SecretString: "x" })))).name).toBe(
      "AccessDeniedException",
    );
    const err = await failure(ssm(u).send(new PutParameterCommand({ Name: "/deny/no-gdk", Value: "x", Type: "SecureString" })));
    expect(err.name).not.toBe("ParameterAlreadyExists");
    expect(err.message).toContain("kms:GenerateDataKey");
  });

  it("Deny kms:Decrypt stops GetParameter WithDecryption of a SecureString under alias/aws/ssm", async () => {
    await ssm(run.credentials).send(new PutParameterCommand({ Name: "/deny/secure", Value: "p@ss", Type: "SecureString" }));
    const u = await user(
      "no-decrypt-ssm",
      policy({ Effect: "Allow", Action: "ssm:*", Resource: "*" }, { Effect: "Deny", Action: "kms:Decrypt", Resource: "*" }),
    );
    const err = await failure(ssm(u).send(new GetParameterCommand({ Name: "/deny/secure", WithDecryption: true })));
    expect(err.message).toContain("kms:Decrypt");
    expect(err.message).not.toContain("p@ss");
    // Without decryption the (encrypted) parameter is still readable, as on AWS.
    const { Parameter } = await ssm(u).send(new GetParameterCommand({ Name: "/deny/secure", WithDecryption: false }));
    expect(Parameter!.Value).not.toBe("p@ss");
  });

  it("a principal of the account still uses the AWS managed keys through the service without kms permissions", async () => {
    await sm(run.credentials).send(new CreateSecretCommand({ Name: "deny/plain-reader", SecretString: "ok" }));
    const u = await user("sm-only", policy({ Effect: "Allow", Action: ["secretsmanager:*", "ssm:*"], Resource: "*" }));
    expect((await sm(u).send(new GetSecretValueCommand({ SecretId: "deny/plain-reader" }))).SecretString).toBe("ok");
    await ssm(u).send(new PutParameterCommand({ Name: "/deny/by-user", Value: "mine", Type: "SecureString" }));
    expect((await ssm(u).send(new GetParameterCommand({ Name: "/deny/by-user", WithDecryption: true }))).Parameter!.Value).toBe("mine");
  });

  it("AWS managed keys answer to the key policy AWS gives them: direct use is metadata only", async () => {
    const admin = run.credentials;
    const { KeyMetadata } = await kms(admin).send(new DescribeKeyCommand({ KeyId: "alias/aws/secretsmanager" }));
    expect(KeyMetadata!.KeyManager).toBe("AWS");
    const { Policy } = await kms(admin).send(new GetKeyPolicyCommand({ KeyId: KeyMetadata!.KeyId!, PolicyName: "default" }));
    expect(JSON.parse(Policy!).Statement[0].Condition.StringEquals["kms:CallerAccount"]).toBe(account);
    const err = await failure(kms(admin).send(new EncryptCommand({ KeyId: "alias/aws/secretsmanager", Plaintext: Buffer.from("x") })));
    expect(err.name).toBe("AccessDeniedException");
  });

  it("the account root, exempt from identity policies, is still stopped by a key policy's or a resource policy's Deny", async () => {
    const admin = run.credentials;
    const { KeyMetadata } = await kms(admin).send(
      new CreateKeyCommand({
        Policy: policy(
          { Effect: "Allow", Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: "kms:*", Resource: "*" },
          { Effect: "Deny", Principal: "*", Action: "kms:Decrypt", Resource: "*" },
        ),
      }),
    );
    await sm(admin).send(new CreateSecretCommand({ Name: "deny/key-policy", SecretString: "k", KmsKeyId: KeyMetadata!.Arn }));
    const byKey = await failure(sm(admin).send(new GetSecretValueCommand({ SecretId: "deny/key-policy" })));
    expect(byKey.name).toBe("AccessDeniedException");
    expect(byKey.message).toContain("explicit deny");

    await sm(admin).send(new CreateSecretCommand({ Name: "deny/resource-policy", SecretString: "r" }));
    await sm(admin).send(
      new PutResourcePolicyCommand({
        SecretId: "deny/resource-policy",
        ResourcePolicy: policy({ Effect: "Deny", Principal: "*", Action: "secretsmanager:GetSecretValue", Resource: "*" }),
      }),
    );
    const byResource = await failure(sm(admin).send(new GetSecretValueCommand({ SecretId: "deny/resource-policy" })));
    expect(byResource.name).toBe("AccessDeniedException");
    expect(byResource.message).toContain("explicit deny");
  });
});
