import { CreateSecretCommand, GetSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { GetUserCommand, IAMClient } from "@aws-sdk/client-iam";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failure, startCoffer, type Running } from "../e2e/harness.ts";
import { sendRaw, signedJson, signer, type WireResponse } from "./wire.ts";

// Item 13: no body can skip validation (prototype keys), null is absent, text is never altered.

let run: Running;
beforeAll(async () => {
  run = await startCoffer();
});
afterAll(() => run.stop());

async function call(target: string, body: string | Buffer, service = "secretsmanager"): Promise<WireResponse> {
  // Signed over the exact bytes, so a body that is not UTF-8 stays as sent.
  const headers = await signedJson(run.url, run.credentials, target, body as string, { service });
  return sendRaw(run.url, { headers, body });
}

const big = "a".repeat(70_000);

describe("prototype keys never skip validation", () => {
  it("a 70k SecretString hidden under __proto__ is refused and nothing is created", async () => {
    const res = await call("secretsmanager.CreateSecret", `{"Name":"proto/a","__proto__":{"SecretString":"${big}"}}`);
    expect(res.status).toBe(400);
    expect(res.json().__type).toBe("ValidationException");
    expect((await failure(run.client.send(new GetSecretValueCommand({ SecretId: "proto/a" })))).name).toBe("ResourceNotFoundException");
  });

  it("an escaped \\u005f_proto__ key is refused too", async () => {
    const res = await call("secretsmanager.CreateSecret", `{"Name":"proto/b","\\u005f_proto__":{"SecretString":"${big}"}}`);
    expect(res.status).toBe(400);
    expect(res.json().__type).toBe("ValidationException");
  });

  it("__proto__ nested in a list element or a map is refused", async () => {
    const inTags = await call(
      "secretsmanager.CreateSecret",
      `{"Name":"proto/c","SecretString":"x","Tags":[{"Key":"k","__proto__":{"Value":"${"v".repeat(300)}"}}]}`,
    );
    expect(inTags.status).toBe(400);
    expect(inTags.json().__type).toBe("ValidationException");
  });

  it("constructor/prototype keys are ignored like any unknown member", async () => {
    const res = await call(
      "secretsmanager.CreateSecret",
      `{"Name":"proto/d","SecretString":"kept","constructor":{"prototype":{"SecretString":"${big}"}},"prototype":{"SecretString":"x"}}`,
    );
    expect(res.status).toBe(200);
    const got = await run.client.send(new GetSecretValueCommand({ SecretId: "proto/d" }));
    expect(got.SecretString).toBe("kept");
  });
});

describe("null members are absent, as on AWS (never a 500)", () => {
  const cases: [string, string, string][] = [
    // string, blob, boolean, list of structures, list of strings
    [
      "secretsmanager",
      "secretsmanager.CreateSecret",
      `{"Name":"null/a","SecretString":"v","SecretBinary":null,"Description":null,"Tags":null,"AddReplicaRegions":null,"ForceOverwriteReplicaSecret":null,"KmsKeyId":null}`,
    ],
    ["secretsmanager", "secretsmanager.CreateSecret", `{"Name":"null/b","SecretString":null}`],
    ["secretsmanager", "secretsmanager.PutSecretValue", `{"SecretId":"null/a","SecretString":null,"SecretBinary":null,"VersionStages":null}`],
    ["secretsmanager", "secretsmanager.UpdateSecret", `{"SecretId":"null/a","SecretString":null,"Description":"d"}`],
    // numbers, booleans, list of structures
    ["secretsmanager", "secretsmanager.ListSecrets", `{"MaxResults":null,"IncludePlannedDeletion":null,"Filters":null,"NextToken":null,"SortOrder":null}`],
    // structure
    ["secretsmanager", "secretsmanager.RotateSecret", `{"SecretId":"null/a","RotationRules":null,"RotationLambdaARN":null}`],
    // map, blob
    ["kms", "TrentService.Encrypt", `{"KeyId":"alias/aws/secretsmanager","Plaintext":"aGk=","EncryptionContext":null,"GrantTokens":null}`],
    // timestamps
    ["cloudtrail", "CloudTrail_20131101.LookupEvents", `{"StartTime":null,"EndTime":null,"LookupAttributes":null,"MaxResults":null}`],
    // SSM: map-free structures, lists, booleans
    ["ssm", "AmazonSSM.GetParametersByPath", `{"Path":"/","Recursive":null,"WithDecryption":null,"ParameterFilters":null,"MaxResults":null}`],
  ];
  for (const [service, target, body] of cases) {
    it(`${target} ${body.slice(0, 60)}…`, async () => {
      const res = await call(target, body, service);
      expect(res.status, res.body).toBeLessThan(500);
    });
  }

  it("a null list element or map value is a ValidationException", async () => {
    const res = await call("secretsmanager.CreateSecret", `{"Name":"null/c","SecretString":"v","Tags":[null]}`);
    expect(res.status).toBe(400);
    expect(res.json().__type).toBe("ValidationException");
  });
});

describe("text that is not UTF-8 is refused, never altered", () => {
  it("raw bytes that are not UTF-8 in a JSON string are a SerializationException", async () => {
    const body = Buffer.concat([Buffer.from('{"Name":"utf8/a","SecretString":"pass'), Buffer.from([0xff, 0xfe]), Buffer.from('word"}')]);
    const u = new URL(run.url);
    const signed = await signer(run.credentials).sign({
      method: "POST",
      protocol: u.protocol,
      hostname: u.hostname,
      port: Number(u.port),
      path: "/",
      headers: { host: u.host, "content-type": "application/x-amz-json-1.1", "x-amz-target": "secretsmanager.CreateSecret" },
      body,
    });
    const res = await sendRaw(run.url, { headers: Object.entries(signed.headers as Record<string, string>), body });
    expect(res.status).toBe(400);
    expect(res.json().__type).toBe("SerializationException");
    expect((await failure(run.client.send(new GetSecretValueCommand({ SecretId: "utf8/a" })))).name).toBe("ResourceNotFoundException");
  });

  it("an escaped lone surrogate (\\ud800) is a SerializationException", async () => {
    const res = await call("secretsmanager.CreateSecret", `{"Name":"utf8/b","SecretString":"x\\ud800y"}`);
    expect(res.status).toBe(400);
    expect(res.json().__type).toBe("SerializationException");
  });

  it("a well-formed non-ASCII value round-trips unchanged", async () => {
    await run.client.send(new CreateSecretCommand({ Name: "utf8/c", SecretString: "été \u{1F600}" }));
    expect((await run.client.send(new GetSecretValueCommand({ SecretId: "utf8/c" }))).SecretString).toBe("été \u{1F600}");
  });

  it("a Query (IAM) form body with a percent-encoded byte that is not UTF-8 is MalformedInput", async () => {
    const u = new URL(run.url);
    const body = "Action=CreateUser&Version=2010-05-08&UserName=bad%FFname";
    const signed = await signer(run.credentials, "iam").sign({
      method: "POST",
      protocol: u.protocol,
      hostname: u.hostname,
      port: Number(u.port),
      path: "/",
      headers: { host: u.host, "content-type": "application/x-www-form-urlencoded" },
      body,
    });
    const res = await sendRaw(run.url, { headers: Object.entries(signed.headers as Record<string, string>), body });
    expect(res.status).toBe(400);
    expect(res.body).toContain("<Code>MalformedInput</Code>");
    const iam = new IAMClient({ endpoint: run.url, region: "us-east-1", credentials: run.credentials, maxAttempts: 1 });
    expect((await failure(iam.send(new GetUserCommand({ UserName: "bad\ufffdname" })))).name).not.toBe(undefined);
  });
});
