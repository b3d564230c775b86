import { createHash, createHmac, type Hash, type Hmac } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { SignatureV4 } from "@smithy/signature-v4";
import type { Checksum, HttpRequest as SmithyHttpRequest, SourceData } from "@smithy/types";
import { describe, expect, it } from "vitest";
import {
  canonicalHeaderValue,
  canonicalQuery,
  canonicalRequest,
  canonicalUri,
  checkFreshness,
  credentialScope,
  signingKey,
  stringToSign,
  SigV4Error,
  verifySignature,
  type HttpRequestParts,
  type ParsedSignature,
} from "./sigv4.ts";
import { parseSignature } from "./sigv4-parse.ts";
import { requestPartsFromNode, signRequest } from "../../../test/sigv4-signer.ts";

const AKID = "AKIDEXAMPLE";
const SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const T0 = new Date("2015-08-30T12:36:00Z");
const TOKEN = "FwoGZXIvYXdzEXAMPLE//token+with/odd=chars";

/** Runs fn and returns the SigV4Error it throws (fails the test if it does not). */
function sigv4Error(fn: () => unknown): SigV4Error {
  try {
    fn();
  } catch (e) {
    if (e instanceof SigV4Error) return e;
    throw e;
  }
  throw new Error("expected a SigV4Error");
}

function baseRequest(overrides: Partial<HttpRequestParts> = {}): HttpRequestParts {
  return {
    method: "POST",
    rawPath: "/",
    rawQuery: "",
    headers: {
      host: "coffer.local:8443",
      "content-type": "application/x-amz-json-1.1",
      "x-amz-target": "secretsmanager.GetSecretValue",
    },
    body: Buffer.from('{"SecretId":"prod/db"}'),
    ...overrides,
  };
}

/** Signs parts with our signer and returns the request as the server would see it. */
function signed(
  req: HttpRequestParts = baseRequest(),
  opts: { sessionToken?: string; date?: Date; addContentSha256?: boolean } = {},
): HttpRequestParts {
  const out = signRequest({
    method: req.method,
    url: req.rawPath + (req.rawQuery ? `?${req.rawQuery}` : ""),
    headers: req.headers,
    body: req.body,
    credentials: { accessKeyId: AKID, secretAccessKey: SECRET, sessionToken: opts.sessionToken },
    region: "us-east-1",
    service: "secretsmanager",
    date: opts.date ?? T0,
    addContentSha256: opts.addContentSha256,
  });
  return { ...req, headers: { ...req.headers, ...out.headers } };
}

function verifies(req: HttpRequestParts, secret = SECRET): boolean {
  return verifySignature(req, parseSignature(req), secret);
}

function withAuth(authorization: string | string[], extra: HttpRequestParts["headers"] = { "x-amz-date": "20150830T123600Z" }) {
  return baseRequest({ headers: { ...baseRequest().headers, ...extra, authorization } });
}

const SIG = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
const CRED = `${AKID}/20150830/us-east-1/secretsmanager/aws4_request`;

describe("parseSignature", () => {
  it("parses a well-formed header, with or without spaces after commas", () => {
    for (const sep of [", ", ","]) {
      const sig = parseSignature(
        withAuth(`AWS4-HMAC-SHA256 Credential=${CRED}${sep}SignedHeaders=host;x-amz-date${sep}Signature=${SIG}`),
      );
      expect(sig).toEqual({
        accessKeyId: AKID,
        date: "20150830",
        region: "us-east-1",
        service: "secretsmanager",
        signedHeaders: ["host", "x-amz-date"],
        signature: SIG,
        amzDate: "20150830T123600Z",
        sessionToken: undefined,
        presigned: false,
      });
    }
  });

  it("MissingAuthenticationToken when there is no Authorization header or presigned query", () => {
    const err = sigv4Error(() => parseSignature(baseRequest()));
    expect(err.code).toBe("MissingAuthenticationToken");
    expect(err.message).toBe("Missing Authentication Token");
  });

  it("IncompleteSignature listing every missing part, AWS-style, without echoing secrets", () => {
    const err = sigv4Error(() => parseSignature(withAuth("AWS4-HMAC-SHA256 ", {})));
    expect(err.code).toBe("IncompleteSignature");
    expect(err.message).toBe(
      "Authorization header requires 'Credential' parameter. " +
        "Authorization header requires 'Signature' parameter. " +
        "Authorization header requires 'SignedHeaders' parameter. " +
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. " +
        "Authorization=AWS4-HMAC-SHA256",
    );
  });

  it("never echoes the signature when another part is missing", () => {
    const err = sigv4Error(() => parseSignature(withAuth(`AWS4-HMAC-SHA256 SignedHeaders=host, Signature=${SIG}`)));
    expect(err.code).toBe("IncompleteSignature");
    expect(err.message).toContain("Authorization header requires 'Credential' parameter.");
    expect(err.message).not.toContain("requires 'Signature'");
    expect(err.message).not.toContain(SIG);
  });

  it("IncompleteSignature when only the date header is missing", () => {
    const err = sigv4Error(() =>
      parseSignature(withAuth(`AWS4-HMAC-SHA256 Credential=${CRED}, SignedHeaders=host, Signature=${SIG}`, {})),
    );
    expect(err.code).toBe("IncompleteSignature");
    expect(err.message).toBe(
      "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. " +
        `Authorization=AWS4-HMAC-SHA256 Credential=${CRED} SignedHeaders=host`,
    );
  });

  it("IncompleteSignature for an unsupported algorithm, without echoing non-AWS schemes", () => {
    const sigv4a = sigv4Error(() => parseSignature(withAuth(`AWS4-ECDSA-P256-SHA256 Credential=${CRED}`)));
    expect(sigv4a.code).toBe("IncompleteSignature");
    expect(sigv4a.message).toBe("Unsupported AWS 'algorithm': 'AWS4-ECDSA-P256-SHA256'. Expected 'AWS4-HMAC-SHA256'.");
    const bearer = sigv4Error(() => parseSignature(withAuth("Bearer s3cr3t-token")));
    expect(bearer.code).toBe("IncompleteSignature");
    expect(bearer.message).not.toContain("s3cr3t");
  });

  it("IncompleteSignature for a key=value pair without '=' (header hashed, not echoed)", () => {
    const err = sigv4Error(() => parseSignature(withAuth(`AWS4-HMAC-SHA256 Credential=${CRED}, ${SIG}`)));
    expect(err.code).toBe("IncompleteSignature");
    expect(err.message).toMatch(/^Invalid key=value pair \(missing equal-sign\) in Authorization header/);
    expect(err.message).not.toContain(SIG);
  });

  it("IncompleteSignature for malformed credential scopes", () => {
    const cases: [string, string][] = [
      [
        `${AKID}/20150830/us-east-1/secretsmanager`,
        `Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '${AKID}/20150830/us-east-1/secretsmanager'`,
      ],
      [
        `${AKID}/20150830/us-east-1/secretsmanager/aws4_request/extra`,
        `Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '${AKID}/20150830/us-east-1/secretsmanager/aws4_request/extra'`,
      ],
      [
        `${AKID}/20150830/us-east-1/secretsmanager/aws3_request`,
        "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws3_request'.",
      ],
      [
        `${AKID}/2015-08-30/us-east-1/secretsmanager/aws4_request`,
        "Invalid credential date. Date is not the required format: yyyyMMdd.",
      ],
    ];
    for (const [credential, message] of cases) {
      const err = sigv4Error(() =>
        parseSignature(withAuth(`AWS4-HMAC-SHA256 Credential=${credential}, SignedHeaders=host, Signature=${SIG}`)),
      );
      expect(err.code).toBe("IncompleteSignature");
      expect(err.message).toBe(message);
    }
  });

  it("IncompleteSignature when host is not a signed header", () => {
    const err = sigv4Error(() =>
      parseSignature(withAuth(`AWS4-HMAC-SHA256 Credential=${CRED}, SignedHeaders=x-amz-date, Signature=${SIG}`)),
    );
    expect(err.code).toBe("IncompleteSignature");
    expect(err.message).toBe("'Host' must be a 'SignedHeader' in the AWS Authorization, and the request must carry it.");
  });

  it("IncompleteSignature when only an absent ':authority' is signed (it would bind no host)", () => {
    const err = sigv4Error(() =>
      parseSignature(withAuth(`AWS4-HMAC-SHA256 Credential=${CRED}, SignedHeaders=:authority;x-amz-date, Signature=${SIG}`)),
    );
    expect(err.code).toBe("IncompleteSignature");
  });
});

describe("strict Authorization parsing", () => {
  const ok = `Credential=${CRED}, SignedHeaders=host;x-amz-date, Signature=${SIG}`;
  const cases: [string, string][] = [
    ["a repeated Signature", `${ok}, Signature=${"0".repeat(64)}`],
    ["a repeated Credential", `Credential=${AKID}/20150830/us-east-1/iam/aws4_request, ${ok}`],
    ["a repeated SignedHeaders", `${ok}, SignedHeaders=host`],
    ["an unknown parameter", `${ok}, Foo=bar`],
    ["a parameter in another case", `credential=${CRED}, SignedHeaders=host;x-amz-date, Signature=${SIG}`],
    ["an empty value", `Credential=${CRED}, SignedHeaders=, Signature=${SIG}`],
    ["whitespace inside a value", `Credential=${CRED}, SignedHeaders=host;x-amz-date, Signature=${SIG} ${SIG}`],
    ["a repeated signed header name", `Credential=${CRED}, SignedHeaders=host;x-amz-date;host, Signature=${SIG}`],
    ["a signed header list with a bad name", `Credential=${CRED}, SignedHeaders=host;x amz, Signature=${SIG}`],
  ];
  for (const [what, rest] of cases) {
    it(`IncompleteSignature for ${what}`, () => {
      const err = sigv4Error(() => parseSignature(withAuth(`AWS4-HMAC-SHA256 ${rest}`)));
      expect(err.code).toBe("IncompleteSignature");
      expect(err.message).not.toContain(SIG);
    });
  }

  it("IncompleteSignature for a repeated header that decides the request", () => {
    for (const name of ["host", "x-amz-date", "x-amz-security-token", "x-amz-target", "content-type", "x-amz-content-sha256"]) {
      const req = withAuth(`AWS4-HMAC-SHA256 ${ok}`);
      req.headers = { ...req.headers, [name]: ["a", "b"] };
      expect(sigv4Error(() => parseSignature(req)).code, name).toBe("IncompleteSignature");
    }
  });

  it("IncompleteSignature for a repeated presigned parameter, in any letter case", () => {
    const base =
      `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${encodeURIComponent(CRED)}&X-Amz-Date=20150830T123600Z` +
      `&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=${SIG}`;
    for (const extra of [
      `X-Amz-Signature=${"0".repeat(64)}`,
      `x-amz-signature=${"0".repeat(64)}`,
      `X-Amz-Credential=${encodeURIComponent(CRED)}`,
      "X-Amz-Expires=604800",
      "X-Amz-Target=secretsmanager.DeleteSecret",
    ]) {
      for (const rawQuery of [`${base}&${extra}`, `${extra}&${base}`]) {
        const req = baseRequest({ method: "GET", rawQuery, headers: { host: "coffer.local:8443" }, body: Buffer.alloc(0) });
        if (!extra.startsWith("X-Amz-Target")) expect(sigv4Error(() => parseSignature(req)).code, rawQuery).toBe("IncompleteSignature");
      }
    }
    const twoTargets = baseRequest({
      method: "GET",
      rawQuery: `${base}&X-Amz-Target=a.B&X-Amz-Target=a.C`,
      headers: { host: "coffer.local:8443" },
      body: Buffer.alloc(0),
    });
    expect(sigv4Error(() => parseSignature(twoTargets)).code).toBe("IncompleteSignature");
  });

  it("IncompleteSignature when a security token is sent but not signed", () => {
    const err = sigv4Error(() =>
      parseSignature(
        withAuth(`AWS4-HMAC-SHA256 Credential=${CRED}, SignedHeaders=host;x-amz-date, Signature=${SIG}`, {
          "x-amz-date": "20150830T123600Z",
          "x-amz-security-token": TOKEN,
        }),
      ),
    );
    expect(err.code).toBe("IncompleteSignature");
    expect(err.message).toBe("'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization.");
  });

  it("InvalidSignature when the scope date differs from X-Amz-Date", () => {
    const err = sigv4Error(() =>
      parseSignature(
        withAuth(
          `AWS4-HMAC-SHA256 Credential=${AKID}/20150831/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=${SIG}`,
        ),
      ),
    );
    expect(err.code).toBe("InvalidSignature");
    expect(err.message).toBe(
      "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20150831' != '20150830', from '20150830T123600Z'.",
    );
  });

  it("IncompleteSignature for a malformed or impossible X-Amz-Date", () => {
    for (const bad of ["2015-08-30T12:36:00Z", "20150830T123600", "20150230T123600Z"]) {
      const err = sigv4Error(() =>
        parseSignature(
          withAuth(`AWS4-HMAC-SHA256 Credential=${CRED}, SignedHeaders=host, Signature=${SIG}`, { "x-amz-date": bad }),
        ),
      );
      expect(err.code).toBe("IncompleteSignature");
      expect(err.message).toContain(`Date must be in ISO-8601 'basic format'. Got '${bad}'.`);
    }
  });

  it("uses an RFC 1123 Date header when X-Amz-Date is absent (ISO form in the string to sign)", () => {
    const req = baseRequest({ headers: { ...baseRequest().headers, date: "Sun, 30 Aug 2015 12:36:00 GMT" } });
    const names = ["content-type", "date", "host"];
    const sts = stringToSign(
      "20150830T123600Z",
      credentialScope("20150830", "us-east-1", "secretsmanager"),
      canonicalRequest(req, names),
    );
    const signature = createHmac("sha256", signingKey(SECRET, "20150830", "us-east-1", "secretsmanager"))
      .update(sts)
      .digest("hex");
    const authorized = withAuth(
      `AWS4-HMAC-SHA256 Credential=${CRED}, SignedHeaders=${names.join(";")}, Signature=${signature}`,
      { date: "Sun, 30 Aug 2015 12:36:00 GMT" },
    );
    const sig = parseSignature(authorized);
    expect(sig.amzDate).toBe("20150830T123600Z");
    expect(verifySignature(authorized, sig, SECRET)).toBe(true);
  });

  it("rejects repeated Authorization headers", () => {
    const one = `AWS4-HMAC-SHA256 Credential=${CRED}, SignedHeaders=host, Signature=${SIG}`;
    const err = sigv4Error(() => parseSignature(withAuth([one, one])));
    expect(err.code).toBe("IncompleteSignature");
  });

  it("rejects a request carrying both an Authorization header and presigned query auth", () => {
    const err = sigv4Error(() =>
      parseSignature({
        ...withAuth(`AWS4-HMAC-SHA256 Credential=${CRED}, SignedHeaders=host, Signature=${SIG}`),
        rawQuery: "X-Amz-Algorithm=AWS4-HMAC-SHA256",
      }),
    );
    expect(err.code).toBe("IncompleteSignature");
  });
});

describe("checkFreshness", () => {
  const sigAt = (amzDate: string, extra: Partial<ParsedSignature> = {}): ParsedSignature => ({
    accessKeyId: AKID,
    date: amzDate.slice(0, 8),
    region: "us-east-1",
    service: "secretsmanager",
    signedHeaders: ["host"],
    signature: SIG,
    amzDate,
    presigned: false,
    ...extra,
  });

  it("allows exactly 15 minutes in either direction", () => {
    expect(() => checkFreshness(sigAt("20150830T123600Z"), new Date("2015-08-30T12:51:00Z"))).not.toThrow();
    expect(() => checkFreshness(sigAt("20150830T123600Z"), new Date("2015-08-30T12:21:00Z"))).not.toThrow();
  });

  it("rejects a signature more than 15 minutes old", () => {
    const err = sigv4Error(() => checkFreshness(sigAt("20150830T123600Z"), new Date("2015-08-30T13:01:00Z")));
    expect(err.code).toBe("InvalidSignature");
    expect(err.message).toBe(
      "Signature expired: 20150830T123600Z is now earlier than 20150830T124600Z (20150830T130100Z - 15 min.)",
    );
    // one second past the boundary is already too old
    expect(() => checkFreshness(sigAt("20150830T123600Z"), new Date("2015-08-30T12:51:01Z"))).toThrow(SigV4Error);
  });

  it("rejects a signature more than 15 minutes in the future", () => {
    const err = sigv4Error(() => checkFreshness(sigAt("20150830T125100Z"), new Date("2015-08-30T12:31:00Z")));
    expect(err.code).toBe("InvalidSignature");
    expect(err.message).toBe(
      "Signature not yet current: 20150830T125100Z is still later than 20150830T124600Z (20150830T123100Z + 15 min.)",
    );
    expect(() => checkFreshness(sigAt("20150830T123600Z"), new Date("2015-08-30T12:20:59Z"))).toThrow(SigV4Error);
  });

  it("honours a custom skew and formats it", () => {
    const err = sigv4Error(() => checkFreshness(sigAt("20150830T123600Z"), new Date("2015-08-30T12:42:00Z"), 300));
    expect(err.message).toBe(
      "Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z (20150830T124200Z - 5 min.)",
    );
  });

  it("bounds presigned requests by X-Amz-Expires instead of the skew", () => {
    const sig = sigAt("20150830T123600Z", { presigned: true, expiresSeconds: 3600 });
    expect(() => checkFreshness(sig, new Date("2015-08-30T13:36:00Z"))).not.toThrow();
    const err = sigv4Error(() => checkFreshness(sig, new Date("2015-08-30T13:36:01Z")));
    expect(err.code).toBe("InvalidSignature");
    expect(err.message).toMatch(/^Request has expired/);
    // still refuses URLs dated too far in the future
    expect(() => checkFreshness(sig, new Date("2015-08-30T12:20:00Z"))).toThrow(SigV4Error);
  });
});

describe("canonicalisation details", () => {
  it("double-encodes the path for non-S3 services, like the SDKs", () => {
    expect(canonicalUri("/a%20b/c")).toBe("/a%2520b/c");
    expect(canonicalUri("")).toBe("/");
    expect(canonicalUri("/a/./b/../c/")).toBe("/a/c/");
    expect(canonicalUri("/a/.")).toBe("/a");
    expect(canonicalUri("/../..")).toBe("/");
  });

  it("S3 mode: no normalisation, single encoding", () => {
    expect(canonicalUri("/my-object//example//photo.user", false)).toBe("/my-object//example//photo.user");
    expect(canonicalUri("/a%20b/a b/%7e", false)).toBe("/a%20b/a%20b/~");
  });

  it("decodes then re-encodes the query, sorting by key then value", () => {
    expect(canonicalQuery("b=2&a=1&a&c=x+y&d=%7e%2f")).toBe("a=&a=1&b=2&c=x%2By&d=~%2F");
    expect(canonicalQuery("a=%zz&&b=%E1%88")).toBe("a=%25zz&b=%E1%88");
    expect(canonicalQuery("X-Amz-Signature=abc&x=1")).toBe("x=1");
  });

  it("folds, collapses and trims header values; repeated lines join with ','", () => {
    expect(canonicalHeaderValue(["value1\n  value2\r\n\tvalue3"])).toBe("value1 value2 value3");
    expect(canonicalHeaderValue(['  "a   b   c" '])).toBe('"a b c"');
    expect(canonicalHeaderValue(["v2", " v1 "])).toBe("v2,v1");
  });

  it("derives the documented AWS example signing key (and caches it consistently)", () => {
    const expected = "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d";
    expect(signingKey(SECRET, "20120215", "us-east-1", "iam").toString("hex")).toBe(expected);
    expect(signingKey(SECRET, "20120215", "us-east-1", "iam").toString("hex")).toBe(expected);
    expect(signingKey(SECRET + "x", "20120215", "us-east-1", "iam").toString("hex")).not.toBe(expected);
  });
});

describe("verifySignature", () => {
  it("round-trips signRequest", () => {
    const req = signed();
    const sig = parseSignature(req);
    expect(sig.service).toBe("secretsmanager");
    expect(verifySignature(req, sig, SECRET)).toBe(true);
    expect(verifySignature(req, sig, SECRET.slice(1))).toBe(false);
    expect(verifies({ ...req, body: Buffer.from('{"SecretId":"prod/dc"}') })).toBe(false);
    expect(verifies({ ...req, headers: { ...req.headers, "x-amz-target": "secretsmanager.DeleteSecret" } })).toBe(false);
    expect(verifies({ ...req, method: "PUT" })).toBe(false);
  });

  it("round-trips a session token, which must stay intact and signed", () => {
    const req = signed(baseRequest(), { sessionToken: TOKEN });
    const sig = parseSignature(req);
    expect(sig.sessionToken).toBe(TOKEN);
    expect(sig.signedHeaders).toContain("x-amz-security-token");
    expect(verifySignature(req, sig, SECRET)).toBe(true);
    expect(verifies({ ...req, headers: { ...req.headers, "x-amz-security-token": TOKEN + "A" } })).toBe(false);
    const { "x-amz-security-token": _dropped, ...withoutToken } = req.headers;
    expect(verifies({ ...req, headers: withoutToken })).toBe(false);
  });

  it("returns false (no throw) for signatures of the wrong length or case", () => {
    const req = signed();
    const sig = parseSignature(req);
    for (const signature of [sig.signature.slice(0, 63), sig.signature + "0", "", sig.signature.toUpperCase()]) {
      expect(verifySignature(req, { ...sig, signature }, SECRET)).toBe(false);
    }
  });

  it("checks x-amz-content-sha256 against the body actually received", () => {
    const req = signed(baseRequest(), { addContentSha256: true });
    expect(verifies(req)).toBe(true);
    // body swapped but the (signed) declared hash kept: the declared hash no longer matches
    expect(verifies({ ...req, body: Buffer.from("{}") })).toBe(false);
  });

  it("rejects a correctly signed UNSIGNED-PAYLOAD request (body would be unauthenticated)", () => {
    const req = baseRequest({
      headers: {
        ...baseRequest().headers,
        "x-amz-date": "20150830T123600Z",
        "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
      },
    });
    const names = ["content-type", "host", "x-amz-content-sha256", "x-amz-date", "x-amz-target"];
    const creq = canonicalRequest(req, names, { payloadHash: "UNSIGNED-PAYLOAD" });
    const sts = stringToSign("20150830T123600Z", credentialScope("20150830", "us-east-1", "secretsmanager"), creq);
    const signature = createHmac("sha256", signingKey(SECRET, "20150830", "us-east-1", "secretsmanager"))
      .update(sts)
      .digest("hex");
    const authorized: HttpRequestParts = {
      ...req,
      headers: {
        ...req.headers,
        authorization: `AWS4-HMAC-SHA256 Credential=${CRED}, SignedHeaders=${names.join(";")}, Signature=${signature}`,
      },
    };
    expect(verifies(authorized)).toBe(false);
  });
});

describe("presigned query authentication", () => {
  /** Hand-rolled presigner, so this does not depend on our own signRequest. */
  function presign(extraParams: Record<string, string> = {}, expires = "300"): HttpRequestParts {
    const params: Record<string, string> = {
      Action: "GetSecretValue",
      "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
      "X-Amz-Credential": CRED,
      "X-Amz-Date": "20150830T123600Z",
      "X-Amz-Expires": expires,
      "X-Amz-SignedHeaders": "host",
      ...extraParams,
    };
    const rawQuery = Object.entries(params)
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
      .join("&");
    const req = baseRequest({ method: "GET", rawQuery, headers: { host: "coffer.local:8443" }, body: Buffer.alloc(0) });
    const sts = stringToSign(
      "20150830T123600Z",
      credentialScope("20150830", "us-east-1", "secretsmanager"),
      canonicalRequest(req, ["host"]),
    );
    const signature = createHmac("sha256", signingKey(SECRET, "20150830", "us-east-1", "secretsmanager"))
      .update(sts)
      .digest("hex");
    return { ...req, rawQuery: `${rawQuery}&X-Amz-Signature=${signature}` };
  }

  it("parses and verifies a presigned URL, including a session token", () => {
    const req = presign({ "X-Amz-Security-Token": TOKEN });
    const sig = parseSignature(req);
    expect(sig).toMatchObject({ presigned: true, expiresSeconds: 300, sessionToken: TOKEN, accessKeyId: AKID });
    expect(verifySignature(req, sig, SECRET)).toBe(true);
    expect(() => checkFreshness(sig, new Date("2015-08-30T12:41:00Z"))).not.toThrow();
    expect(() => checkFreshness(sig, new Date("2015-08-30T12:41:01Z"))).toThrow(SigV4Error);
  });

  it("rejects tampered query parameters", () => {
    const req = presign();
    expect(verifies({ ...req, rawQuery: req.rawQuery.replace("GetSecretValue", "DeleteSecret") })).toBe(false);
    expect(verifies({ ...req, rawQuery: req.rawQuery.replace("X-Amz-Expires=300", "X-Amz-Expires=600") })).toBe(
      false,
    );
  });

  it("requires X-Amz-Expires within 1..604800 and the other auth parameters", () => {
    for (const expires of ["0", "604801", "-1", "abc"]) {
      expect(sigv4Error(() => parseSignature(presign({}, expires))).code).toBe("IncompleteSignature");
    }
    const noSignature = presign();
    noSignature.rawQuery = noSignature.rawQuery.replace(/&X-Amz-Signature=[0-9a-f]+/, "");
    const err = sigv4Error(() => parseSignature(noSignature));
    expect(err.code).toBe("IncompleteSignature");
    expect(err.message).toContain("X-Amz-Signature");
  });
});

describe("node:http integration", () => {
  it("verifies a request received by a real server, with repeated header lines", async () => {
    const body = Buffer.from('{"SecretId":"a b"}');
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const host = `127.0.0.1:${port}`;
    const out = signRequest({
      method: "POST",
      url: "/x/y%20z?b=2&a=1",
      headers: { Host: host, "My-Header": ["one", "two"], "Content-Type": "application/x-amz-json-1.1" },
      body,
      credentials: { accessKeyId: AKID, secretAccessKey: SECRET, sessionToken: TOKEN },
      region: "us-east-1",
      service: "secretsmanager",
      date: new Date(),
    });
    const received = new Promise<{ verified: boolean; fresh: boolean }>((resolve) => {
      server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
          const parts = requestPartsFromNode(req, Buffer.concat(chunks));
          const sig = parseSignature(parts);
          let fresh = true;
          try {
            checkFreshness(sig, new Date());
          } catch {
            fresh = false;
          }
          resolve({ verified: verifySignature(parts, sig, SECRET), fresh });
          res.end();
        });
      });
    });
    // Flat raw-header array so "My-Header" really goes over the wire as two lines.
    const rawHeaders = [
      "Host", host,
      "My-Header", "one",
      "My-Header", "two",
      "Content-Type", "application/x-amz-json-1.1",
      ...Object.entries(out.headers).flat(),
    ];
    const request = http.request({ host: "127.0.0.1", port, method: "POST", path: "/x/y%20z?b=2&a=1", headers: rawHeaders });
    request.end(body);
    await new Promise<void>((resolve, reject) => {
      request.on("response", (res) => res.resume().on("end", resolve));
      request.on("error", reject);
    });
    server.close();
    expect(await received).toEqual({ verified: true, fresh: true });
  });
});

// ---------------------------------------------------------------------------
// Interop with the official AWS SDK signer
// ---------------------------------------------------------------------------

/** SHA-256 / HMAC-SHA256 over node:crypto in the shape smithy expects (no @aws-crypto installed). */
class NodeSha256 implements Checksum {
  private hash: Hash | Hmac;
  constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }
  private fresh(): Hash | Hmac {
    if (this.secret === undefined) return createHash("sha256");
    const key = typeof this.secret === "string" ? this.secret : toBuffer(this.secret);
    return createHmac("sha256", key);
  }
  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

function toBuffer(data: ArrayBuffer | ArrayBufferView): Buffer {
  return ArrayBuffer.isView(data)
    ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
    : Buffer.from(new Uint8Array(data));
}

/** What smithy's escapeUri does, for building the wire query from request.query. */
function escapeUri(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Turns a smithy HttpRequest into what our server would receive on the wire. */
function fromSmithy(request: SmithyHttpRequest): HttpRequestParts {
  const query = Object.entries(request.query ?? {})
    .flatMap(([k, v]) => [v ?? ""].flat().map((item) => `${escapeUri(k)}=${escapeUri(item ?? "")}`))
    .join("&");
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) headers[name.toLowerCase()] = value;
  const body = request.body === undefined ? Buffer.alloc(0) : Buffer.from(request.body as string);
  return { method: request.method, rawPath: request.path, rawQuery: query, headers, body };
}

function smithyRequest(overrides: Partial<SmithyHttpRequest> = {}): SmithyHttpRequest {
  return {
    method: "POST",
    protocol: "https:",
    hostname: "coffer.local",
    port: 8443,
    path: "/",
    query: {},
    headers: {
      host: "coffer.local:8443",
      "content-type": "application/x-amz-json-1.1",
      "x-amz-target": "secretsmanager.GetSecretValue",
    },
    body: '{"SecretId":"prod/db"}',
    ...overrides,
  };
}

describe("@smithy/signature-v4 interop", () => {
  const signer = (sessionToken?: string) =>
    new SignatureV4({
      service: "secretsmanager",
      region: "us-east-1",
      credentials: { accessKeyId: AKID, secretAccessKey: SECRET, sessionToken },
      sha256: NodeSha256,
    });

  it("accepts a JSON-protocol request signed by the SDK (with session token)", async () => {
    const signedReq = await signer(TOKEN).sign(smithyRequest(), { signingDate: T0 });
    const parts = fromSmithy(signedReq);
    const sig = parseSignature(parts);
    expect(sig).toMatchObject({ accessKeyId: AKID, service: "secretsmanager", sessionToken: TOKEN, amzDate: "20150830T123600Z" });
    expect(verifySignature(parts, sig, SECRET)).toBe(true);
    expect(verifySignature({ ...parts, body: Buffer.from('{"SecretId":"prod/dc"}') }, sig, SECRET)).toBe(false);
  });

  it("agrees on escaped paths, dot segments and repeated query values", async () => {
    const signedReq = await signer().sign(
      smithyRequest({
        method: "GET",
        path: "/foo%20bar/./baz/",
        query: { b: "x y", a: ["2", "1"], "we!rd*": "ü/?" },
        body: undefined,
      }),
      { signingDate: T0 },
    );
    const parts = fromSmithy(signedReq);
    expect(verifySignature(parts, parseSignature(parts), SECRET)).toBe(true);
  });

  it("accepts an SDK-presigned request", async () => {
    const presigned = await signer(TOKEN).presign(smithyRequest({ method: "GET", body: undefined }), {
      signingDate: T0,
      expiresIn: 300,
    });
    const parts = fromSmithy(presigned);
    const sig = parseSignature(parts);
    expect(sig).toMatchObject({ presigned: true, expiresSeconds: 300, sessionToken: TOKEN });
    expect(verifySignature(parts, sig, SECRET)).toBe(true);
    expect(() => checkFreshness(sig, new Date(T0.getTime() + 299_000))).not.toThrow();
  });
});
