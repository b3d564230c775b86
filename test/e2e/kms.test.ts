import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  EnableKeyRotationCommand,
  EnableKeyCommand,
  KMSClient,
  ListAliasesCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
  PutKeyPolicyCommand,
  ScheduleKeyDeletionCommand,
  TagResourceCommand as TagKeyCommand,
  UntagResourceCommand as UntagKeyCommand,
  UpdateAliasCommand,
} from "@aws-sdk/client-kms";
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from "@aws-sdk/client-iam";
import { CreateSecretCommand, GetSecretValueCommand, SecretsManagerClient, TagResourceCommand } from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, expect, it } from "vitest";
import { failure, startCoffer, type Running } from "./harness.ts";

let run: Running;
let kms: KMSClient;
beforeAll(async () => {
  run = await startCoffer();
  kms = new KMSClient({ endpoint: run.url, region: "us-east-1", credentials: run.credentials, maxAttempts: 1 });
});
afterAll(() => run.stop());


it("creates keys, aliases, encrypts and decrypts with encryption context", async () => {
  const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Description: "app key" }));
  expect(KeyMetadata).toMatchObject({ KeyState: "Enabled", KeyManager: "CUSTOMER", KeySpec: "SYMMETRIC_DEFAULT", Enabled: true });
  const keyId = KeyMetadata!.KeyId!;
  await kms.send(new CreateAliasCommand({ AliasName: "alias/app", TargetKeyId: keyId }));
  const aliases = await kms.send(new ListAliasesCommand({ KeyId: keyId }));
  expect(aliases.Aliases!.map((a) => a.AliasName)).toEqual(["alias/app"]);
  expect((await kms.send(new ListKeysCommand({}))).Keys!.map((k) => k.KeyId)).toContain(keyId);
  expect((await failure(kms.send(new CreateAliasCommand({ AliasName: "alias/aws/mine", TargetKeyId: keyId })))).name).toBe(
    "InvalidAliasNameException",
  );

  const context = { purpose: "test", tenant: "a" };
  const enc = await kms.send(new EncryptCommand({ KeyId: "alias/app", Plaintext: Buffer.from("hello"), EncryptionContext: context }));
  expect(enc.KeyId).toBe(KeyMetadata!.Arn);
  const dec = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { tenant: "a", purpose: "test" } }));
  expect(Buffer.from(dec.Plaintext!).toString()).toBe("hello");
  expect((await failure(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { tenant: "b" } })))).name).toBe(
    "InvalidCiphertextException",
  );
  const tampered = Buffer.from(enc.CiphertextBlob!);
  tampered[tampered.length - 1] ^= 1;
  expect((await failure(kms.send(new DecryptCommand({ CiphertextBlob: tampered, EncryptionContext: context })))).name).toBe(
    "InvalidCiphertextException",
  );

  const dk = await kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: "AES_256" }));
  expect(dk.Plaintext!.length).toBe(32);
  const back = await kms.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob }));
  expect(Buffer.from(back.Plaintext!)).toEqual(Buffer.from(dk.Plaintext!));

  await kms.send(new EnableKeyRotationCommand({ KeyId: keyId }));
  expect((await kms.send(new GetKeyRotationStatusCommand({ KeyId: keyId }))).KeyRotationEnabled).toBe(true);
  expect(JSON.parse((await kms.send(new GetKeyPolicyCommand({ KeyId: keyId }))).Policy!).Statement[0].Sid).toBe(
    "Enable IAM User Permissions",
  );
  expect((await failure(kms.send(new PutKeyPolicyCommand({ KeyId: keyId, Policy: "{bad" })))).name).toBe(
    "MalformedPolicyDocumentException",
  );
});

it("moves an alias to another key and deletes it; AWS's aliases stay", async () => {
  const one = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
  const two = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
  await kms.send(new CreateAliasCommand({ AliasName: "alias/moving", TargetKeyId: one.KeyId }));
  await kms.send(new UpdateAliasCommand({ AliasName: "alias/moving", TargetKeyId: two.Arn }));
  expect((await kms.send(new DescribeKeyCommand({ KeyId: "alias/moving" }))).KeyMetadata!.KeyId).toBe(two.KeyId);
  await kms.send(new DeleteAliasCommand({ AliasName: "alias/moving" }));
  expect((await failure(kms.send(new DescribeKeyCommand({ KeyId: "alias/moving" })))).name).toBe("NotFoundException");
  expect((await kms.send(new DescribeKeyCommand({ KeyId: two.KeyId }))).KeyMetadata!.KeyState).toBe("Enabled");
  expect((await failure(kms.send(new DeleteAliasCommand({ AliasName: "alias/moving" })))).name).toBe("NotFoundException");
  expect((await failure(kms.send(new UpdateAliasCommand({ AliasName: "alias/nothing", TargetKeyId: one.KeyId })))).name).toBe("NotFoundException");
  // An alias names a key by its ID or ARN, never through another alias.
  await kms.send(new CreateAliasCommand({ AliasName: "alias/first", TargetKeyId: one.KeyId }));
  for (const target of ["alias/first", one.Arn!.replace(/key\/.*/, "alias/first")]) {
    const denied = await failure(kms.send(new CreateAliasCommand({ AliasName: "alias/second", TargetKeyId: target })));
    expect([denied.name, denied.message]).toEqual(["NotFoundException", `Invalid keyId ${target}: an alias's target is a key ID or key ARN, not an alias`]);
    expect((await failure(kms.send(new UpdateAliasCommand({ AliasName: "alias/first", TargetKeyId: target })))).name).toBe("NotFoundException");
  }
  expect((await failure(kms.send(new DeleteAliasCommand({ AliasName: "alias/aws/secretsmanager" })))).name).toBe("InvalidAliasNameException");
});

it("tags a key: add, change, remove, list in pages, with KMS's errors", async () => {
  const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Tags: [{ TagKey: "team", TagValue: "payments" }] }));
  const keyId = KeyMetadata!.KeyId!;
  const tags = async () => (await kms.send(new ListResourceTagsCommand({ KeyId: KeyMetadata!.Arn }))).Tags;
  expect(await tags()).toEqual([{ TagKey: "team", TagValue: "payments" }]);

  await kms.send(new TagKeyCommand({ KeyId: keyId, Tags: [{ TagKey: "team", TagValue: "ledger" }, { TagKey: "env", TagValue: "" }] }));
  expect(await tags()).toEqual([{ TagKey: "team", TagValue: "ledger" }, { TagKey: "env", TagValue: "" }]);
  await kms.send(new UntagKeyCommand({ KeyId: keyId, TagKeys: ["env", "not-there"] }));
  expect(await tags()).toEqual([{ TagKey: "team", TagValue: "ledger" }]);

  await kms.send(new TagKeyCommand({ KeyId: keyId, Tags: ["a", "b", "c"].map((k) => ({ TagKey: k, TagValue: k })) }));
  const first = await kms.send(new ListResourceTagsCommand({ KeyId: keyId, Limit: 3 }));
  expect(first).toMatchObject({ Truncated: true, Tags: [{ TagKey: "team" }, { TagKey: "a" }, { TagKey: "b" }] });
  const second = await kms.send(new ListResourceTagsCommand({ KeyId: keyId, Limit: 3, Marker: first.NextMarker }));
  expect(second).toMatchObject({ Truncated: false, Tags: [{ TagKey: "c" }] });
  expect(second.NextMarker).toBeUndefined();

  const reserved = await failure(kms.send(new TagKeyCommand({ KeyId: keyId, Tags: [{ TagKey: "aws:owner", TagValue: "x" }] })));
  expect(reserved.name).toBe("TagException");
  const many = Array.from({ length: 47 }, (_, n) => ({ TagKey: `k${n}`, TagValue: "v" }));
  expect((await failure(kms.send(new TagKeyCommand({ KeyId: keyId, Tags: many })))).name).toBe("LimitExceededException");
  expect((await failure(kms.send(new ListResourceTagsCommand({ KeyId: keyId, Marker: "nonsense" })))).name).toBe("InvalidMarkerException");
  await kms.send(new CreateAliasCommand({ AliasName: "alias/tagged", TargetKeyId: keyId }));
  expect((await failure(kms.send(new ListResourceTagsCommand({ KeyId: "alias/tagged" })))).name).toBe("NotFoundException");
  expect(
    (await failure(kms.send(new ListResourceTagsCommand({ KeyId: "arn:aws:kms:us-east-1:111122223333:key/" + keyId })))).name,
  ).toBe("NotFoundException");

  await kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
  expect((await failure(kms.send(new TagKeyCommand({ KeyId: keyId, Tags: [{ TagKey: "late", TagValue: "x" }] })))).name).toBe(
    "KMSInvalidStateException",
  );
  expect((await tags())!.length).toBe(4);
});

it("a key pending deletion refuses use until the deletion is cancelled, then is disabled", async () => {
  const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
  const keyId = KeyMetadata!.KeyId!;
  const sm = new SecretsManagerClient({ endpoint: run.url, region: "us-east-1", credentials: run.credentials, maxAttempts: 1 });
  await sm.send(new CreateSecretCommand({ Name: "keyed", SecretString: "v", KmsKeyId: keyId }));
  const scheduled = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
  expect(scheduled.KeyState).toBe("PendingDeletion");
  expect((await failure(kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from("x") })))).name).toBe(
    "KMSInvalidStateException",
  );
  const read = await failure(sm.send(new GetSecretValueCommand({ SecretId: "keyed" })));
  expect(read.name).toBe("DecryptionFailure");
  await kms.send(new CancelKeyDeletionCommand({ KeyId: keyId }));
  expect((await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyState).toBe("Disabled");
  expect((await failure(kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from("x") })))).name).toBe("DisabledException");
  await kms.send(new EnableKeyCommand({ KeyId: keyId }));
  expect((await sm.send(new GetSecretValueCommand({ SecretId: "keyed" }))).SecretString).toBe("v");
});

it("a customer key opens only to callers its policy and their own policies allow", async () => {
  const iam = new IAMClient({ endpoint: run.url, region: "us-east-1", credentials: run.credentials, maxAttempts: 1 });
  await iam.send(new CreateUserCommand({ UserName: "reader" }));
  await iam.send(
    new PutUserPolicyCommand({
      UserName: "reader",
      PolicyName: "sm",
      PolicyDocument: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          { Effect: "Allow", Action: ["secretsmanager:GetSecretValue", "secretsmanager:TagResource"], Resource: "*" },
          {
            Effect: "Deny",
            Action: "secretsmanager:TagResource",
            Resource: "*",
            Condition: { "ForAnyValue:StringEquals": { "aws:TagKeys": ["Owner"] } },
          },
        ],
      }),
    }),
  );
  const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: "reader" }));
  const reader = new SecretsManagerClient({
    endpoint: run.url,
    region: "us-east-1",
    credentials: { accessKeyId: AccessKey!.AccessKeyId!, secretAccessKey: AccessKey!.SecretAccessKey! },
    maxAttempts: 1,
  });
  const admin = new SecretsManagerClient({ endpoint: run.url, region: "us-east-1", credentials: run.credentials, maxAttempts: 1 });
  const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
  await admin.send(new CreateSecretCommand({ Name: "cmk-secret", SecretString: "v", KmsKeyId: KeyMetadata!.Arn }));
  await admin.send(new CreateSecretCommand({ Name: "default-key-secret", SecretString: "w" }));

  // Default key: same account, so secretsmanager:GetSecretValue is enough.
  expect((await reader.send(new GetSecretValueCommand({ SecretId: "default-key-secret" }))).SecretString).toBe("w");
  // Customer key: the key policy delegates to IAM, and the reader's policy has no kms:Decrypt.
  const denied = await failure(reader.send(new GetSecretValueCommand({ SecretId: "cmk-secret" })));
  expect(denied.name).toBe("AccessDeniedException");
  expect(denied.message).toContain("kms:Decrypt");

  // aws:TagKeys: the reader may tag, but not with the Owner key.
  await reader.send(new TagResourceCommand({ SecretId: "default-key-secret", Tags: [{ Key: "team", Value: "a" }] }));
  expect((await failure(reader.send(new TagResourceCommand({ SecretId: "default-key-secret", Tags: [{ Key: "Owner", Value: "me" }] })))).name).toBe(
    "AccessDeniedException",
  );
});
