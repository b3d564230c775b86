import { randomUUID } from "node:crypto";
import {
  BatchGetSecretValueCommand,
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  InvalidParameterException,
  InvalidRequestException,
  ListSecretsCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  RestoreSecretCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateSecretCommand,
  UpdateSecretVersionStageCommand,
  ValidateResourcePolicyCommand,
  type SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCoffer, type Running } from "./harness.ts";

let run: Running;
let sm: SecretsManagerClient;
beforeAll(async () => {
  run = await startCoffer();
  sm = run.client;
});
afterAll(() => run.stop());

const unique = (prefix: string) => `${prefix}/${randomUUID().slice(0, 8)}`;

async function rejects(promise: Promise<unknown>): Promise<Error & { name: string; $metadata?: { httpStatusCode?: number } }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { name: string };
  }
  throw new Error("expected the call to fail");
}

describe("CreateSecret / GetSecretValue", () => {
  it("creates a string secret and reads it back with AWSCURRENT", async () => {
    const name = unique("prod/app");
    const created = await sm.send(new CreateSecretCommand({ Name: name, SecretString: '{"password":"hunter2"}', Description: "db" }));
    expect(created.ARN).toMatch(new RegExp(`^arn:aws:secretsmanager:us-east-1:000000000000:secret:${name}-[A-Za-z0-9]{6}$`));
    expect(created.Name).toBe(name);
    expect(created.VersionId).toMatch(/^[0-9a-f-]{36}$/);

    const got = await sm.send(new GetSecretValueCommand({ SecretId: name }));
    expect(got).toMatchObject({ ARN: created.ARN, Name: name, VersionId: created.VersionId, SecretString: '{"password":"hunter2"}' });
    expect(got.VersionStages).toEqual(["AWSCURRENT"]);
    expect(got.CreatedDate).toBeInstanceOf(Date);
    expect(Math.abs(got.CreatedDate!.getTime() - Date.now())).toBeLessThan(60_000);

    // By full ARN, by partial ARN (no suffix), by version id and stage.
    expect((await sm.send(new GetSecretValueCommand({ SecretId: created.ARN }))).Name).toBe(name);
    const partial = created.ARN!.slice(0, -7);
    expect((await sm.send(new GetSecretValueCommand({ SecretId: partial }))).Name).toBe(name);
    expect(
      (await sm.send(new GetSecretValueCommand({ SecretId: name, VersionId: created.VersionId, VersionStage: "AWSCURRENT" })))
        .SecretString,
    ).toBe('{"password":"hunter2"}');
  });

  it("stores binary secrets byte for byte", async () => {
    const name = unique("bin");
    const bytes = new Uint8Array([0, 1, 2, 250, 255, 10, 13]);
    await sm.send(new CreateSecretCommand({ Name: name, SecretBinary: bytes }));
    const got = await sm.send(new GetSecretValueCommand({ SecretId: name }));
    expect(got.SecretString).toBeUndefined();
    expect(Buffer.from(got.SecretBinary!)).toEqual(Buffer.from(bytes));
  });

  it("accepts a 65,536-byte value and refuses a larger one without echoing it", async () => {
    const name = unique("big");
    await sm.send(new CreateSecretCommand({ Name: name, SecretString: "x".repeat(65_536) }));
    expect((await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString!.length).toBe(65_536);
    const err = await rejects(sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: "y".repeat(65_537) })));
    expect(err.name).toBe("ValidationException");
    expect(err.message).not.toContain("yyyy");
  });

  it("refuses duplicates, bad names, both value kinds, and unknown secrets with AWS's errors", async () => {
    const name = unique("dup");
    await sm.send(new CreateSecretCommand({ Name: name, SecretString: "a" }));
    const dup = await rejects(sm.send(new CreateSecretCommand({ Name: name, SecretString: "b" })));
    expect(dup).toBeInstanceOf(ResourceExistsException);
    expect(dup.message).toBe(`The operation failed because the secret ${name} already exists.`);
    expect(dup.$metadata?.httpStatusCode).toBe(400);

    const bad = await rejects(sm.send(new CreateSecretCommand({ Name: "no spaces allowed", SecretString: "a" })));
    expect(bad.name).toBe("ValidationException");

    const both = await rejects(
      sm.send(new CreateSecretCommand({ Name: unique("both"), SecretString: "a", SecretBinary: new Uint8Array([1]) })),
    );
    expect(both).toBeInstanceOf(InvalidParameterException);

    const missing = await rejects(sm.send(new GetSecretValueCommand({ SecretId: "does/not/exist" })));
    expect(missing).toBeInstanceOf(ResourceNotFoundException);
    expect(missing.message).toBe("Secrets Manager can't find the specified secret.");

    const noLabel = await rejects(sm.send(new GetSecretValueCommand({ SecretId: name, VersionStage: "AWSPREVIOUS" })));
    expect(noLabel).toBeInstanceOf(ResourceNotFoundException);
    expect(noLabel.message).toBe("Secrets Manager can't find the specified secret value for staging label: AWSPREVIOUS");
  });

  it("is idempotent on ClientRequestToken", async () => {
    const name = unique("idem");
    const token = randomUUID();
    const a = await sm.send(new CreateSecretCommand({ Name: name, SecretString: "v1", ClientRequestToken: token }));
    const again = await sm.send(new CreateSecretCommand({ Name: name, SecretString: "v1", ClientRequestToken: token }));
    expect(again.VersionId).toBe(a.VersionId);
    expect(a.VersionId).toBe(token);

    const t2 = randomUUID();
    const p1 = await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: "v2", ClientRequestToken: t2 }));
    const p2 = await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: "v2", ClientRequestToken: t2 }));
    expect(p2.VersionId).toBe(p1.VersionId);
    const clash = await rejects(sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: "other", ClientRequestToken: t2 })));
    expect(clash).toBeInstanceOf(ResourceExistsException);
    const versions = await sm.send(new ListSecretVersionIdsCommand({ SecretId: name }));
    expect(versions.Versions!.length).toBe(2);
  });

  it("creates a secret without a value, which has no versions until one is put", async () => {
    const name = unique("empty");
    const created = await sm.send(new CreateSecretCommand({ Name: name }));
    expect(created.VersionId).toBeUndefined();
    expect(await rejects(sm.send(new GetSecretValueCommand({ SecretId: name })))).toBeInstanceOf(ResourceNotFoundException);
    await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: "now" }));
    expect((await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe("now");
  });
});

describe("staging labels", () => {
  it("moves AWSCURRENT and AWSPREVIOUS as AWS does on PutSecretValue", async () => {
    const name = unique("labels");
    const v1 = (await sm.send(new CreateSecretCommand({ Name: name, SecretString: "one" }))).VersionId!;
    const v2 = (await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: "two" }))).VersionId!;
    const v3 = (await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: "three" }))).VersionId!;
    const described = await sm.send(new DescribeSecretCommand({ SecretId: name }));
    expect(described.VersionIdsToStages).toEqual({ [v3]: ["AWSCURRENT"], [v2]: ["AWSPREVIOUS"] });
    expect(v1).not.toBe(v2);
    expect((await sm.send(new GetSecretValueCommand({ SecretId: name, VersionStage: "AWSPREVIOUS" }))).SecretString).toBe("two");

    // Deprecated versions only appear with IncludeDeprecated.
    const listed = await sm.send(new ListSecretVersionIdsCommand({ SecretId: name }));
    expect(listed.Versions!.map((v) => v.VersionId).sort()).toEqual([v2, v3].sort());
    const all = await sm.send(new ListSecretVersionIdsCommand({ SecretId: name, IncludeDeprecated: true }));
    expect(all.Versions!.map((v) => v.VersionId)).toContain(v1);
    expect(all.Versions!.find((v) => v.VersionId === v1)!.VersionStages).toEqual([]);
  });

  it("puts a pending version without touching AWSCURRENT, then promotes it", async () => {
    const name = unique("pending");
    const v1 = (await sm.send(new CreateSecretCommand({ Name: name, SecretString: "old" }))).VersionId!;
    const pending = await sm.send(
      new PutSecretValueCommand({ SecretId: name, SecretString: "new", VersionStages: ["AWSPENDING", "custom"] }),
    );
    expect(pending.VersionStages!.sort()).toEqual(["AWSPENDING", "custom"]);
    expect((await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe("old");
    expect((await sm.send(new GetSecretValueCommand({ SecretId: name, VersionStage: "custom" }))).SecretString).toBe("new");

    const refused = await rejects(
      sm.send(new UpdateSecretVersionStageCommand({ SecretId: name, VersionStage: "AWSCURRENT", MoveToVersionId: pending.VersionId })),
    );
    expect(refused).toBeInstanceOf(InvalidParameterException);

    await sm.send(
      new UpdateSecretVersionStageCommand({
        SecretId: name,
        VersionStage: "AWSCURRENT",
        MoveToVersionId: pending.VersionId,
        RemoveFromVersionId: v1,
      }),
    );
    const d = await sm.send(new DescribeSecretCommand({ SecretId: name }));
    expect(d.VersionIdsToStages![pending.VersionId!].sort()).toEqual(["AWSCURRENT", "AWSPENDING", "custom"]);
    expect(d.VersionIdsToStages![v1]).toEqual(["AWSPREVIOUS"]);
    expect((await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe("new");

    await sm.send(new UpdateSecretVersionStageCommand({ SecretId: name, VersionStage: "custom", RemoveFromVersionId: pending.VersionId }));
    const cannot = await rejects(
      sm.send(new UpdateSecretVersionStageCommand({ SecretId: name, VersionStage: "AWSCURRENT", RemoveFromVersionId: pending.VersionId })),
    );
    expect(cannot).toBeInstanceOf(InvalidParameterException);
  });

  it("refuses a VersionStage that does not match the VersionId", async () => {
    const name = unique("mismatch");
    const v1 = (await sm.send(new CreateSecretCommand({ Name: name, SecretString: "a" }))).VersionId!;
    await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: "b" }));
    const err = await rejects(sm.send(new GetSecretValueCommand({ SecretId: name, VersionId: v1, VersionStage: "AWSCURRENT" })));
    expect(err).toBeInstanceOf(InvalidRequestException);
    expect(err.message).toBe("You provided a VersionStage that is not associated to the provided VersionId.");
  });

  it("prunes deprecated versions past 100", async () => {
    const name = unique("prune");
    await sm.send(new CreateSecretCommand({ Name: name, SecretString: "0" }));
    for (let i = 1; i <= 105; i++) await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: String(i) }));
    const all = [];
    let NextToken: string | undefined;
    do {
      const page = await sm.send(new ListSecretVersionIdsCommand({ SecretId: name, IncludeDeprecated: true, NextToken, MaxResults: 40 }));
      all.push(...page.Versions!);
      NextToken = page.NextToken;
    } while (NextToken);
    expect(all.length).toBe(100);
    expect((await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe("105");
    expect((await sm.send(new GetSecretValueCommand({ SecretId: name, VersionStage: "AWSPREVIOUS" }))).SecretString).toBe("104");
  });
});

describe("UpdateSecret, tags, DescribeSecret", () => {
  it("updates description and value, and tags", async () => {
    const name = unique("upd");
    await sm.send(new CreateSecretCommand({ Name: name, SecretString: "a", Tags: [{ Key: "team", Value: "blue" }] }));
    const noValue = await sm.send(new UpdateSecretCommand({ SecretId: name, Description: "changed" }));
    expect(noValue.VersionId).toBeUndefined();
    const withValue = await sm.send(new UpdateSecretCommand({ SecretId: name, SecretString: "b" }));
    expect(withValue.VersionId).toBeDefined();
    await sm.send(new TagResourceCommand({ SecretId: name, Tags: [{ Key: "env", Value: "prod" }, { Key: "team", Value: "red" }] }));
    await sm.send(new UntagResourceCommand({ SecretId: name, TagKeys: ["env"] }));
    const d = await sm.send(new DescribeSecretCommand({ SecretId: name }));
    expect(d.Description).toBe("changed");
    expect(d.Tags).toEqual([{ Key: "team", Value: "red" }]);
    expect(d.CreatedDate).toBeInstanceOf(Date);
    expect(d.LastChangedDate).toBeInstanceOf(Date);
    expect(d.PrimaryRegion).toBe("us-east-1");
    expect((await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe("b");
    const d2 = await sm.send(new DescribeSecretCommand({ SecretId: name }));
    expect(d2.LastAccessedDate!.getTime() % 86_400_000).toBe(0);
  });
});

describe("ListSecrets and BatchGetSecretValue", () => {
  it("filters, sorts and pages", async () => {
    const prefix = `list${randomUUID().slice(0, 6)}`;
    for (const [n, team] of [["a", "red"], ["b", "blue"], ["c", "red"]]) {
      await sm.send(
        new CreateSecretCommand({ Name: `${prefix}/${n}`, SecretString: n, Description: `Secret ${n}`, Tags: [{ Key: "team", Value: team }] }),
      );
    }
    const byName = await sm.send(new ListSecretsCommand({ Filters: [{ Key: "name", Values: [`${prefix}/`] }], SortBy: "name" }));
    expect(byName.SecretList!.map((s) => s.Name)).toEqual([`${prefix}/a`, `${prefix}/b`, `${prefix}/c`]);
    expect(byName.SecretList![0].SecretVersionsToStages).toBeDefined();
    const red = await sm.send(
      new ListSecretsCommand({
        Filters: [{ Key: "name", Values: [prefix] }, { Key: "tag-value", Values: ["red"] }],
        SortBy: "name",
        SortOrder: "desc",
      }),
    );
    expect(red.SecretList!.map((s) => s.Name)).toEqual([`${prefix}/c`, `${prefix}/a`]);
    const notRed = await sm.send(
      new ListSecretsCommand({ Filters: [{ Key: "name", Values: [prefix] }, { Key: "tag-value", Values: ["!red"] }] }),
    );
    expect(notRed.SecretList!.map((s) => s.Name)).toEqual([`${prefix}/b`]);
    const desc = await sm.send(new ListSecretsCommand({ Filters: [{ Key: "description", Values: ["secret B"] }, { Key: "name", Values: [prefix] }] }));
    expect(desc.SecretList!.map((s) => s.Name)).toEqual([`${prefix}/b`]);

    const first = await sm.send(new ListSecretsCommand({ Filters: [{ Key: "name", Values: [prefix] }], MaxResults: 2, SortBy: "name" }));
    expect(first.SecretList!.length).toBe(2);
    const second = await sm.send(
      new ListSecretsCommand({ Filters: [{ Key: "name", Values: [prefix] }], MaxResults: 2, SortBy: "name", NextToken: first.NextToken }),
    );
    expect(second.SecretList!.map((s) => s.Name)).toEqual([`${prefix}/c`]);
    expect(second.NextToken).toBeUndefined();
    const badToken = await rejects(sm.send(new ListSecretsCommand({ NextToken: "garbage!" })));
    expect(badToken.name).toBe("InvalidNextTokenException");

    const batch = await sm.send(new BatchGetSecretValueCommand({ SecretIdList: [`${prefix}/a`, `${prefix}/c`, `${prefix}/nope`] }));
    expect(batch.SecretValues!.map((v) => v.SecretString).sort()).toEqual(["a", "c"]);
    expect(batch.Errors).toEqual([
      { SecretId: `${prefix}/nope`, ErrorCode: "ResourceNotFoundException", Message: "Secrets Manager can't find the specified secret." },
    ]);
    const byFilter = await sm.send(new BatchGetSecretValueCommand({ Filters: [{ Key: "tag-value", Values: ["blue"] }, { Key: "name", Values: [prefix] }] }));
    expect(byFilter.SecretValues!.map((v) => v.SecretString)).toEqual(["b"]);
    const both = await rejects(sm.send(new BatchGetSecretValueCommand({ SecretIdList: ["x"], Filters: [{ Key: "name", Values: ["x"] }] })));
    expect(both).toBeInstanceOf(InvalidParameterException);
  });
});

describe("DeleteSecret and RestoreSecret", () => {
  it("schedules deletion, refuses use meanwhile, restores", async () => {
    const name = unique("del");
    await sm.send(new CreateSecretCommand({ Name: name, SecretString: "x" }));
    const deleted = await sm.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7 }));
    const days = (deleted.DeletionDate!.getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.99);
    expect(days).toBeLessThan(7.01);
    const refused = await rejects(sm.send(new GetSecretValueCommand({ SecretId: name })));
    expect(refused).toBeInstanceOf(InvalidRequestException);
    expect(refused.message).toBe("You can't perform this operation on the secret because it was marked for deletion.");
    expect(await rejects(sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: "y" })))).toBeInstanceOf(
      InvalidRequestException,
    );
    expect(await rejects(sm.send(new CreateSecretCommand({ Name: name, SecretString: "y" })))).toBeInstanceOf(InvalidRequestException);
    expect((await sm.send(new DescribeSecretCommand({ SecretId: name }))).DeletedDate).toBeInstanceOf(Date);

    const hidden = await sm.send(new ListSecretsCommand({ Filters: [{ Key: "name", Values: [name] }] }));
    expect(hidden.SecretList).toEqual([]);
    const shown = await sm.send(new ListSecretsCommand({ Filters: [{ Key: "name", Values: [name] }], IncludePlannedDeletion: true }));
    expect(shown.SecretList!.map((s) => s.Name)).toEqual([name]);

    await sm.send(new RestoreSecretCommand({ SecretId: name }));
    expect((await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe("x");
  });

  it("validates the recovery window and force-deletes at once", async () => {
    const name = unique("force");
    await sm.send(new CreateSecretCommand({ Name: name, SecretString: "x" }));
    for (const RecoveryWindowInDays of [6, 31]) {
      const err = await rejects(sm.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays })));
      expect(err).toBeInstanceOf(InvalidParameterException);
    }
    const both = await rejects(
      sm.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7, ForceDeleteWithoutRecovery: true })),
    );
    expect(both).toBeInstanceOf(InvalidParameterException);
    await sm.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }));
    expect(await rejects(sm.send(new DescribeSecretCommand({ SecretId: name })))).toBeInstanceOf(ResourceNotFoundException);
    // The name is free again at once.
    await sm.send(new CreateSecretCommand({ Name: name, SecretString: "again" }));
    // Force-deleting what does not exist succeeds, as on AWS.
    await sm.send(new DeleteSecretCommand({ SecretId: unique("never"), ForceDeleteWithoutRecovery: true }));
  });
});

describe("GetRandomPassword", () => {
  it("honours every option", async () => {
    const def = await sm.send(new GetRandomPasswordCommand({}));
    expect(def.RandomPassword!.length).toBe(32);
    const digits = await sm.send(
      new GetRandomPasswordCommand({
        PasswordLength: 50,
        ExcludeLowercase: true,
        ExcludeUppercase: true,
        ExcludePunctuation: true,
        ExcludeCharacters: "0123",
      }),
    );
    expect(digits.RandomPassword).toMatch(/^[4-9]{50}$/);
    const spaced = await sm.send(new GetRandomPasswordCommand({ PasswordLength: 20, IncludeSpace: true, RequireEachIncludedType: true }));
    expect(spaced.RandomPassword).toContain(" ");
    const err = await rejects(sm.send(new GetRandomPasswordCommand({ PasswordLength: 5000 })));
    expect(err.name).toBe("ValidationException");
  });
});

describe("small behaviours AWS has (issue 12)", () => {
  it("PutSecretValue into a secret with no versions makes the version AWSCURRENT whatever labels it names", async () => {
    const name = unique("first/version");
    await sm.send(new CreateSecretCommand({ Name: name }));
    const put = await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: "v1", VersionStages: ["CUSTOM"] }));
    expect(put.VersionStages).toEqual(["CUSTOM", "AWSCURRENT"]);
    expect((await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe("v1");
    // Later versions get only what they ask for.
    const second = await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: "v2", VersionStages: ["OTHER"] }));
    expect(second.VersionStages).toEqual(["OTHER"]);
    expect((await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe("v1");
  });

  it("ValidateResourcePolicy does not pass a policy that grants access to everyone", async () => {
    const policy = (statement: object) => JSON.stringify({ Version: "2012-10-17", Statement: [statement] });
    const open = await sm.send(
      new ValidateResourcePolicyCommand({
        ResourcePolicy: policy({ Effect: "Allow", Principal: "*", Action: "secretsmanager:GetSecretValue", Resource: "*" }),
      }),
    );
    expect(open.PolicyValidationPassed).toBe(false);
    expect(open.ValidationErrors).toHaveLength(1);
    expect(open.ValidationErrors![0].ErrorMessage).toContain("public access");
    const pinned = await sm.send(
      new ValidateResourcePolicyCommand({
        ResourcePolicy: policy({
          Effect: "Allow",
          Principal: "*",
          Action: "secretsmanager:GetSecretValue",
          Resource: "*",
          Condition: { StringEquals: { "aws:PrincipalAccount": "000000000000" } },
        }),
      }),
    );
    expect(pinned).toMatchObject({ PolicyValidationPassed: true, ValidationErrors: [] });
  });
});
