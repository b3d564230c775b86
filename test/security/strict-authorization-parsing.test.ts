import { CreateSecretCommand } from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCoffer, type Running } from "../e2e/harness.ts";
import { presignedJsonQuery, sendRaw, signedJson } from "./wire.ts";

// Item 8: an Authorization header (or presigned query) that says something twice,
// or says something unknown, is refused; never "first one wins".

let run: Running;
beforeAll(async () => {
  run = await startCoffer();
  await run.client.send(new CreateSecretCommand({ Name: "strict/a", SecretString: "strict-value" }));
});
afterAll(() => run.stop());

const body = JSON.stringify({ SecretId: "strict/a" });

/** A correctly signed GetSecretValue whose Authorization header `edit` rewrites. */
async function withAuthorization(edit: (auth: string) => string) {
  const headers = await signedJson(run.url, run.credentials, "secretsmanager.GetSecretValue", body);
  return sendRaw(run.url, { headers: headers.map(([k, v]): [string, string] => (k === "authorization" ? [k, edit(v)] : [k, v])), body });
}

describe("Authorization header", () => {
  it("the untouched request is served (the baseline the attacks start from)", async () => {
    const res = await withAuthorization((a) => a);
    expect(res.status).toBe(200);
  });

  const attacks: [string, (auth: string) => string][] = [
    ["a second Signature after the good one", (a) => `${a}, Signature=${"0".repeat(64)}`],
    ["a second Credential after the good one", (a) => `${a}, Credential=AKIAOTHER/20200101/us-east-1/secretsmanager/aws4_request`],
    ["a second SignedHeaders after the good one", (a) => `${a}, SignedHeaders=host`],
    ["an unknown parameter", (a) => `${a}, Extra=1`],
    ["an empty parameter value", (a) => `${a}, Signature=`],
    ["a repeated name in SignedHeaders", (a) => a.replace(/SignedHeaders=([^,]+)/, "SignedHeaders=$1;host")],
  ];
  for (const [what, edit] of attacks) {
    it(`${what} is IncompleteSignatureException`, async () => {
      const res = await withAuthorization(edit);
      expect(res.status).toBe(400);
      expect(res.json().__type).toBe("IncompleteSignatureException");
      expect(res.body).not.toContain("strict-value");
    });
  }

  it("two Authorization headers are IncompleteSignatureException", async () => {
    const headers = await signedJson(run.url, run.credentials, "secretsmanager.GetSecretValue", body);
    const auth = headers.find(([k]) => k === "authorization")!;
    const res = await sendRaw(run.url, { headers: [...headers, auth], body });
    expect(res.status).toBe(400);
    expect(res.json().__type).toBe("IncompleteSignatureException");
  });

  for (const name of ["x-amz-target", "x-amz-date", "content-type"]) {
    it(`a repeated ${name} header is IncompleteSignatureException`, async () => {
      const headers = await signedJson(run.url, run.credentials, "secretsmanager.GetSecretValue", body);
      const original = headers.find(([k]) => k === name)!;
      const res = await sendRaw(run.url, { headers: [...headers, original], body });
      expect(res.status).toBe(400);
      expect(res.json().__type).toBe("IncompleteSignatureException");
    });
  }
});

describe("presigned query", () => {
  const presignedQuery = () => presignedJsonQuery(run.url, run.credentials, "secretsmanager.GetSecretValue", body);
  const send = (query: string) =>
    sendRaw(run.url, { path: `/?${query}`, headers: [["host", new URL(run.url).host], ["content-type", "application/x-amz-json-1.1"]], body });

  it("the untouched URL is served", async () => {
    expect((await send(await presignedQuery())).status).toBe(200);
  });

  for (const extra of [
    `X-Amz-Signature=${"0".repeat(64)}`,
    `x-amz-signature=${"0".repeat(64)}`,
    "X-Amz-Credential=AKIAOTHER%2F20200101%2Fus-east-1%2Fsecretsmanager%2Faws4_request",
    "X-Amz-Expires=604800",
    "X-Amz-Target=secretsmanager.DeleteSecret",
  ]) {
    it(`a repeated parameter (${extra.split("=")[0]}) is IncompleteSignatureException`, async () => {
      const res = await send(`${await presignedQuery()}&${extra}`);
      expect(res.status).toBe(400);
      expect(res.json().__type).toBe("IncompleteSignatureException");
      expect(res.body).not.toContain("strict-value");
    });
  }
});
