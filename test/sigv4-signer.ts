/**
 * A SigV4 signer for tests: it signs with the server's own canonicalisation
 * (src/server/sigv4/sigv4.ts), so the round-trip and published-vector tests
 * can check both halves. The server only verifies; it never signs, so this
 * lives outside src/.
 */
import { createHmac } from "node:crypto";
import {
  ALGORITHM,
  canonicalRequest,
  credentialScope,
  signingKey,
  stringToSign,
  toAmzDate,
  type HttpRequestParts,
} from "../src/server/sigv4/sigv4.ts";
import { sha256Hex } from "../src/shared/sha256.ts";

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface SignRequestInput {
  method: string;
  /** path plus optional "?query", exactly as it will be sent */
  url: string;
  /** any case; repeated headers as string[]; must contain host */
  headers: Record<string, string | string[] | undefined>;
  body?: Buffer | string;
  credentials: Credentials;
  region: string;
  service: string;
  date: Date;
  /** default true; false reproduces the "token added after signing" style (post-sts-header-after) */
  signSessionToken?: boolean;
  /** add and sign x-amz-content-sha256 (default false) */
  addContentSha256?: boolean;
}

export interface SignRequestResult {
  /** lower-case header names to add to the request */
  headers: Record<string, string>;
  canonicalRequest: string;
  stringToSign: string;
  signature: string;
}

/** Signs every header passed in (except authorization) plus the ones it adds. */
export function signRequest(input: SignRequestInput): SignRequestResult {
  const q = input.url.indexOf("?");
  const body = typeof input.body === "string" ? Buffer.from(input.body, "utf8") : (input.body ?? Buffer.alloc(0));
  const headers = lowerCaseHeaders(input.headers);
  delete headers["authorization"];
  if (headers["host"] === undefined) throw new Error("signRequest: a host header is required");

  const amzDate = toAmzDate(input.date);
  const added: Record<string, string> = { "x-amz-date": amzDate };
  const token = input.credentials.sessionToken;
  const signToken = input.signSessionToken ?? true;
  if (token !== undefined && signToken) added["x-amz-security-token"] = token;
  if (input.addContentSha256) added["x-amz-content-sha256"] = sha256Hex(body);
  Object.assign(headers, added);

  const parts: HttpRequestParts = {
    method: input.method,
    rawPath: q === -1 ? input.url : input.url.slice(0, q),
    rawQuery: q === -1 ? "" : input.url.slice(q + 1),
    headers,
    body,
  };
  const date = amzDate.slice(0, 8);
  const signedHeaders = [...new Set(Object.keys(headers))].sort();
  const creq = canonicalRequest(parts, signedHeaders);
  const sts = stringToSign(amzDate, credentialScope(date, input.region, input.service), creq);
  const signature = createHmac("sha256", signingKey(input.credentials.secretAccessKey, date, input.region, input.service)).update(sts, "utf8").digest("hex");

  added["authorization"] =
    `${ALGORITHM} Credential=${input.credentials.accessKeyId}/${credentialScope(date, input.region, input.service)}, ` +
    `SignedHeaders=${signedHeaders.join(";")}, Signature=${signature}`;
  if (token !== undefined && !signToken) added["x-amz-security-token"] = token;
  return { headers: added, canonicalRequest: creq, stringToSign: sts, signature };
}

function lowerCaseHeaders(headers: SignRequestInput["headers"]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const key = name.toLowerCase();
    const prev = out[key];
    out[key] = prev === undefined ? value : [...[prev].flat(), ...[value].flat()];
  }
  return out;
}

/** Builds HttpRequestParts from a node IncomingMessage (or fastify's request.raw). */
export function requestPartsFromNode(
  req: { method?: string; url?: string; headersDistinct: Record<string, string[] | undefined> },
  body: Buffer,
): HttpRequestParts {
  const url = req.url ?? "/";
  const q = url.indexOf("?");
  return {
    method: req.method ?? "GET",
    rawPath: q === -1 ? url : url.slice(0, q),
    rawQuery: q === -1 ? "" : url.slice(q + 1),
    headers: req.headersDistinct,
    body,
  };
}
