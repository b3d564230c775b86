import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCoffer, type Running } from "./harness.ts";
import { rawCall } from "./raw.ts";

let run: Running;
beforeAll(async () => {
  run = await startCoffer();
});
afterAll(() => run.stop());

const call = (opts: Parameters<typeof rawCall>[1]) => rawCall(run.url, { credentials: run.credentials, ...opts });

function expectError(res: Awaited<ReturnType<typeof rawCall>>, type: string, status = 400) {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/x-amz-json-1.1");
  expect(res.headers.get("x-amzn-requestid")).toMatch(/^[0-9a-f-]{36}$/);
  const body = res.json();
  expect(body.__type).toBe(type);
  expect(typeof body.message).toBe("string");
  expect((body.message as string).length).toBeGreaterThan(0);
  return body.message as string;
}

describe("awsJson 1.1 wire", () => {
  it("answers a signed request with epoch-second timestamps and a request id", async () => {
    await call({ target: "secretsmanager.CreateSecret", body: JSON.stringify({ Name: "wire/a", SecretString: "s", ClientRequestToken: "a".repeat(32) }) });
    const res = await call({ target: "secretsmanager.GetSecretValue", body: JSON.stringify({ SecretId: "wire/a" }) });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/x-amz-json-1.1");
    expect(res.headers.get("x-amzn-requestid")).toMatch(/^[0-9a-f-]{36}$/);
    const body = res.json();
    expect(typeof body.CreatedDate).toBe("number");
    expect(Math.abs((body.CreatedDate as number) - Date.now() / 1000)).toBeLessThan(60);
    expect(body.VersionId).toBe("a".repeat(32));
  });

  it("accepts an empty body as empty input", async () => {
    const res = await call({ target: "secretsmanager.ListSecrets", body: "" });
    expect(res.status).toBe(200);
    expect(Array.isArray(res.json().SecretList)).toBe(true);
  });

  it("rejects an unknown operation, a missing target, malformed JSON, a wrong content type", async () => {
    expect(expectError(await call({ target: "secretsmanager.StealEverything" }), "UnknownOperationException")).toContain("StealEverything");
    expectError(await call({}), "UnknownOperationException");
    expectError(await call({ target: "secretsmanager.GetSecretValue", body: "{not json" }), "SerializationException");
    expectError(await call({ target: "secretsmanager.GetSecretValue", body: "[1,2]" }), "SerializationException");
    expectError(await call({ target: "secretsmanager.GetSecretValue", body: '{"SecretId": 5}' }), "SerializationException");
    expectError(await call({ target: "secretsmanager.ListSecrets", contentType: "text/plain" }), "SerializationException");
  });

  it("reports every constraint violation in AWS's words", async () => {
    const msg = expectError(
      await call({ target: "secretsmanager.ListSecrets", body: JSON.stringify({ MaxResults: 0, SortOrder: "up" }) }),
      "ValidationException",
    );
    expect(msg).toMatch(/^2 validation errors detected: /);
    expect(msg).toContain("Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1");
    const missing = expectError(await call({ target: "secretsmanager.GetSecretValue", body: "{}" }), "ValidationException");
    expect(missing).toBe("1 validation error detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null");
  });

  it("refuses an oversized body with 413 and keeps serving", async () => {
    const huge = JSON.stringify({ Name: "big", SecretString: "z".repeat(2 * 1024 * 1024) });
    const res = await call({ target: "secretsmanager.CreateSecret", body: huge });
    expectError(res, "RequestEntityTooLargeException", 413);
    expect((await call({ target: "secretsmanager.ListSecrets" })).status).toBe(200);
  });

  it("serves /health (liveness) and /ready (readiness) without credentials", async () => {
    const res = await fetch(`${run.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
    const ready = await fetch(`${run.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready" });
  });
});

describe("SigV4 on the wire", () => {
  const target = "secretsmanager.ListSecrets";

  it("requires a signature", async () => {
    const res = await rawCall(run.url, { target });
    expect(expectError(res, "MissingAuthenticationTokenException")).toBe("Missing Authentication Token");
  });

  it("rejects an unknown access key", async () => {
    const res = await call({ target, credentials: { accessKeyId: "AKIAUNKNOWNUNKNOWN00", secretAccessKey: "x".repeat(40) } });
    expect(expectError(res, "UnrecognizedClientException")).toBe("The security token included in the request is invalid.");
  });

  it("rejects a wrong secret", async () => {
    const res = await call({ target, credentials: { accessKeyId: run.credentials.accessKeyId, secretAccessKey: "x".repeat(40) } });
    expect(expectError(res, "InvalidSignatureException")).toContain("does not match the signature you provided");
  });

  it("rejects a body changed after signing", async () => {
    const res = await call({
      target: "secretsmanager.GetSecretValue",
      body: JSON.stringify({ SecretId: "wire/a" }),
      tamperedBody: JSON.stringify({ SecretId: "wire/b" }),
    });
    expectError(res, "InvalidSignatureException");
  });

  it("rejects requests signed more than 15 minutes ago or ahead", async () => {
    const old = await call({ target, signingDate: new Date(Date.now() - 16 * 60_000) });
    expect(expectError(old, "InvalidSignatureException")).toMatch(/^Signature expired: \d{8}T\d{6}Z is now earlier than/);
    const ahead = await call({ target, signingDate: new Date(Date.now() + 16 * 60_000) });
    expect(expectError(ahead, "InvalidSignatureException")).toMatch(/^Signature not yet current/);
    expect((await call({ target, signingDate: new Date(Date.now() - 14 * 60_000) })).status).toBe(200);
  });

  it("rejects a scope for another region or service", async () => {
    expectError(await call({ target, region: "eu-west-1" }), "InvalidSignatureException");
    expectError(await call({ target, service: "ssm" }), "InvalidSignatureException");
  });

  it("denies a valid key that no policy allows", async () => {
    const other = await run.coffer.identity.createAccessKey({
      arn: "arn:aws:iam::000000000000:user/nobody",
      accountId: "000000000000",
      kind: "user",
    });
    const res = await call({ target: "secretsmanager.GetSecretValue", body: JSON.stringify({ SecretId: "wire/a" }), credentials: other });
    const msg = expectError(res, "AccessDeniedException");
    expect(msg).toBe(
      "User: arn:aws:iam::000000000000:user/nobody is not authorized to perform: secretsmanager:GetSecretValue on resource: " +
        (await run.coffer.secrets.describe(
          { arn: "arn:aws:iam::000000000000:root", accountId: "000000000000", accessKeyId: "x", kind: "root" },
          { secretId: "wire/a" },
        )).arn +
        " because no identity-based policy allows the secretsmanager:GetSecretValue action",
    );
  });
});
