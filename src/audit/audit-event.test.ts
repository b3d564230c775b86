import { describe, expect, it } from "vitest";
import * as kms from "../api/kms/generated/operations.ts";
import { shapes as kmsShapes } from "../api/kms/generated/shapes.ts";
import * as sm from "../api/secretsmanager/generated/operations.ts";
import { shapes as smShapes } from "../api/secretsmanager/generated/shapes.ts";
import * as ssm from "../api/ssm/generated/operations.ts";
import { shapes as ssmShapes } from "../api/ssm/generated/shapes.ts";
import type { OperationSpec, Shapes } from "../shared/shape-types.ts";
import { bounded, buildEvent, FIELD_LIMITS } from "./audit-event.ts";

describe("bounded request-controlled text", () => {
  it("keeps short text and cuts long text with its original UTF-8 size", () => {
    expect(bounded("abc", 3)).toBe("abc");
    expect(bounded("abcd", 3)).toBe("abc...(truncated, 4 bytes)");
    expect(bounded("é".repeat(10), 2)).toBe("éé...(truncated, 20 bytes)");
  });

  it("bounds every field of an unauthenticated event that the client controls", () => {
    const huge = "z".repeat(50_000);
    const event = buildEvent({
      requestId: "r",
      time: 0,
      service: huge,
      operation: huge,
      region: "us-east-1",
      defaultAccountId: "000000000000",
      sourceIp: "127.0.0.1",
      userAgent: huge,
      claimedAccessKeyId: huge,
      error: { code: huge, message: huge },
    });
    expect(event.userAgent.length).toBeLessThanOrEqual(FIELD_LIMITS.userAgent + 40);
    expect(JSON.stringify(event).length).toBeLessThan(4_000);
    expect(event.userAgent).toContain("(truncated, 50000 bytes)");
  });
});

describe("resources and readOnly come from the operation's spec", () => {
  const R = "us-east-1";
  const A = "111122223333";
  const SECRET = `arn:aws:secretsmanager:${R}:${A}:secret:db-AbCdEf`;
  const base = { requestId: "r", time: 0, region: R, defaultAccountId: A, sourceIp: "127.0.0.1", userAgent: "t" };
  const event = (service: string, operation: string, spec: OperationSpec, shapes: Shapes, input: unknown, output?: unknown) =>
    buildEvent({ ...base, service, operation, spec, shapes, input, output });

  it("names a secret by the exact ARN the answer gives, and by the input when there is no answer", () => {
    const spec = sm.operations.GetSecretValue;
    expect(spec.readOnly).toBe(true);
    expect(event("secretsmanager", "GetSecretValue", spec, smShapes, { SecretId: "db" }, { ARN: SECRET }).resources).toEqual([
      { ARN: SECRET, accountId: A, type: "AWS::SecretsManager::Secret" },
    ]);
    const failed = buildEvent({ ...base, service: "secretsmanager", operation: "GetSecretValue", spec, shapes: smShapes, input: { SecretId: "db" }, error: { code: "X", message: "m" } });
    expect(failed.resources).toEqual([{ ARN: `arn:aws:secretsmanager:${R}:${A}:secret:db`, accountId: A, type: "AWS::SecretsManager::Secret" }]);
  });

  it("keeps the ids of a batch the answer did not cover", () => {
    const e = event("secretsmanager", "BatchGetSecretValue", sm.operations.BatchGetSecretValue, smShapes, { SecretIdList: ["db", "gone"] }, { SecretValues: [{ ARN: SECRET }] });
    expect(e.resources?.map((r) => r.ARN)).toEqual([SECRET, `arn:aws:secretsmanager:${R}:${A}:secret:gone`]);
  });

  it("records a parameter without its selector, and the secret a reference read reached", () => {
    const e = event("ssm", "GetParameter", ssm.operations.GetParameter, ssmShapes, { Name: "/aws/reference/secretsmanager/db:AWSCURRENT", WithDecryption: true }, {
      Parameter: { ARN: SECRET },
    });
    expect(e.resources).toEqual([
      { ARN: `arn:aws:ssm:${R}:${A}:parameter/aws/reference/secretsmanager/db`, accountId: A, type: "AWS::SSM::Parameter" },
      { ARN: SECRET, accountId: A, type: "AWS::SecretsManager::Secret" },
    ]);
    expect(e.requestParameters).toEqual({ name: "/aws/reference/secretsmanager/db:AWSCURRENT", withDecryption: true });
  });

  it("names a KMS key by ARN even when the caller gave an alias", () => {
    const e = event("kms", "EnableKey", kms.operations.EnableKey, kmsShapes, { KeyId: "alias/app" });
    expect(kms.operations.EnableKey.readOnly).toBe(false);
    expect(kms.operations.Decrypt.readOnly).toBe(true);
    expect(e.resources).toEqual([{ ARN: `arn:aws:kms:${R}:${A}:alias/app`, accountId: A, type: "AWS::KMS::Key" }]);
  });

  it("files a request that named no known operation with the writes, without resources", () => {
    const e = buildEvent({ ...base, service: "secretsmanager", operation: "GetNothing", error: { code: "UnknownOperationException", message: "m" } });
    expect(e.readOnly).toBe(false);
    expect(e.resources).toBeUndefined();
    expect(e.requestParameters).toBeNull();
  });
});
