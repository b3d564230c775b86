import { CreateSecretCommand, DescribeSecretCommand } from "@aws-sdk/client-secrets-manager";
import { GetUserCommand, IAMClient } from "@aws-sdk/client-iam";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failure, startCoffer, type Running } from "../e2e/harness.ts";
import { canonicalRequest, credentialScope, signingKey, stringToSign, toAmzDate } from "../../src/server/sigv4/sigv4.ts";
import { createHmac } from "node:crypto";
import { presignedJsonQuery, sendRaw, signedJson, signer, type WireResponse } from "./wire.ts";

// Item 7: what decides the action (target, Action, host) is covered by the signature.

let run: Running;
beforeAll(async () => {
  run = await startCoffer();
  await run.client.send(new CreateSecretCommand({ Name: "signed/target", SecretString: "the-value" }));
});
afterAll(() => run.stop());

/** A URL presigned (by the official signer) for one awsJson operation. */
const presignedPath = async (target: string, body: string) => `/?${await presignedJsonQuery(run.url, run.credentials, target, body)}`;

function errorType(res: WireResponse): string {
  return String(res.json().__type);
}

describe("presigned URLs run only the operation they were made for", () => {
  const body = JSON.stringify({ SecretId: "signed/target" });

  it("a URL presigned for DescribeSecret runs DescribeSecret", async () => {
    const path = await presignedPath("secretsmanager.DescribeSecret", body);
    const res = await sendRaw(run.url, { path, headers: [["host", new URL(run.url).host], ["content-type", "application/x-amz-json-1.1"]], body });
    expect(res.status).toBe(200);
    expect(res.json().Name).toBe("signed/target");
  });

  for (const swapped of ["secretsmanager.GetSecretValue", "secretsmanager.DeleteSecret"]) {
    it(`the same URL with an unsigned X-Amz-Target: ${swapped} is refused`, async () => {
      const path = await presignedPath("secretsmanager.DescribeSecret", body);
      const res = await sendRaw(run.url, {
        path,
        headers: [
          ["host", new URL(run.url).host],
          ["content-type", "application/x-amz-json-1.1"],
          ["x-amz-target", swapped],
        ],
        body,
      });
      expect(res.status).toBe(400);
      expect(errorType(res)).toBe("IncompleteSignatureException");
      expect(res.body).not.toContain("the-value");
      const still = await run.client.send(new DescribeSecretCommand({ SecretId: "signed/target" }));
      expect(still.DeletedDate).toBeUndefined();
    });
  }
});

describe("header-signed requests", () => {
  it("an X-Amz-Target left out of SignedHeaders is IncompleteSignatureException", async () => {
    const body = JSON.stringify({ SecretId: "signed/target" });
    const headers = await signedJson(run.url, run.credentials, "secretsmanager.DescribeSecret", body, { unsignable: ["x-amz-target"] });
    expect(headers.find(([k]) => k === "authorization")![1]).not.toContain("x-amz-target");
    const swapped = headers.map(([k, v]): [string, string] => (k === "x-amz-target" ? [k, "secretsmanager.GetSecretValue"] : [k, v]));
    const res = await sendRaw(run.url, { headers: swapped, body });
    expect(res.status).toBe(400);
    expect(errorType(res)).toBe("IncompleteSignatureException");
    expect(res.json().message).toContain("X-Amz-Target");
    expect(res.body).not.toContain("the-value");
  });

  it("a signature over ':authority' alone (no host) is refused: it would be good for any host", async () => {
    const date = new Date();
    const amzDate = toAmzDate(date);
    const body = JSON.stringify({ SecretId: "signed/target" });
    const headers: Record<string, string> = {
      "content-type": "application/x-amz-json-1.1",
      "x-amz-date": amzDate,
      "x-amz-target": "secretsmanager.GetSecretValue",
    };
    const signedNames = [":authority", "content-type", "x-amz-date", "x-amz-target"];
    const creq = canonicalRequest({ method: "POST", rawPath: "/", rawQuery: "", headers, body: Buffer.from(body) }, signedNames);
    const scope = credentialScope(amzDate.slice(0, 8), "us-east-1", "secretsmanager");
    const signature = createHmac("sha256", signingKey(run.credentials.secretAccessKey, amzDate.slice(0, 8), "us-east-1", "secretsmanager"))
      .update(stringToSign(amzDate, scope, creq))
      .digest("hex");
    const auth = `AWS4-HMAC-SHA256 Credential=${run.credentials.accessKeyId}/${scope}, SignedHeaders=${signedNames.join(";")}, Signature=${signature}`;
    const res = await sendRaw(run.url, {
      headers: [["host", "some-other-host.example"], ...Object.entries(headers), ["authorization", auth]],
      body,
    });
    expect(res.status).toBe(400);
    expect(errorType(res)).toBe("IncompleteSignatureException");
    expect(res.body).not.toContain("the-value");
  });

  it("a request signed for one host and sent with another Host is InvalidSignatureException", async () => {
    const body = JSON.stringify({ SecretId: "signed/target" });
    const headers = await signedJson(run.url, run.credentials, "secretsmanager.GetSecretValue", body);
    const moved = headers.map(([k, v]): [string, string] => (k === "host" ? [k, "elsewhere.example:443"] : [k, v]));
    const res = await sendRaw(run.url, { headers: moved, body });
    expect(res.status).toBe(400);
    expect(errorType(res)).toBe("InvalidSignatureException");
  });

  it("an unsigned Content-Type cannot turn a signed JSON body into a Query action", async () => {
    // The JSON body carries a form-encoded IAM action in a string; flipping the
    // unsigned Content-Type to a form must not run it.
    const body = JSON.stringify({ SecretId: "signed/target", x: "&Action=CreateUser&UserName=smuggled&Version=2010-05-08&" });
    const headers = await signedJson(run.url, run.credentials, "secretsmanager.DescribeSecret", body, { unsignable: ["content-type"] });
    const flipped = headers.map(([k, v]): [string, string] => (k === "content-type" ? [k, "application/x-www-form-urlencoded"] : [k, v]));
    const res = await sendRaw(run.url, { headers: flipped, body });
    expect(res.status).toBeGreaterThanOrEqual(400);
    const iam = new IAMClient({ endpoint: run.url, region: "us-east-1", credentials: run.credentials, maxAttempts: 1 });
    expect((await failure(iam.send(new GetUserCommand({ UserName: "smuggled" })))).name).toBe("NoSuchEntityException");
  });
});

describe("Query protocol (IAM, STS): the body that names the Action is signed", () => {
  it("x-amz-content-sha256: UNSIGNED-PAYLOAD does not let the Action be swapped", async () => {
    const u = new URL(run.url);
    const body = "Action=GetUser&Version=2010-05-08";
    const signed = await signer(run.credentials, "iam").sign({
      method: "POST",
      protocol: u.protocol,
      hostname: u.hostname,
      port: Number(u.port),
      path: "/",
      headers: { host: u.host, "content-type": "application/x-www-form-urlencoded", "x-amz-content-sha256": "UNSIGNED-PAYLOAD" },
      body,
    });
    const res = await sendRaw(run.url, {
      headers: Object.entries(signed.headers as Record<string, string>),
      body: "Action=CreateUser&UserName=swapped&Version=2010-05-08",
    });
    expect(res.status).toBe(403);
    expect(res.body).toContain("<Code>SignatureDoesNotMatch</Code>");
    const iam = new IAMClient({ endpoint: run.url, region: "us-east-1", credentials: run.credentials, maxAttempts: 1 });
    expect((await failure(iam.send(new GetUserCommand({ UserName: "swapped" })))).name).toBe("NoSuchEntityException");
  });
});
