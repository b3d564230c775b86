/**
 * Reading a SigV4 signature out of a request: the Authorization header or the presigned
 * query, checked for structure and strictness (duplicates, unknown fields, dates, scope)
 * before any cryptography runs. Kept apart from sigv4.ts, which canonicalises and verifies:
 * parsing decides what the request claims, verification whether the claim holds.
 * See README.md in this folder for the invariants.
 */
import { createHash } from "node:crypto";
import {
  ALGORITHM,
  firstHeader,
  headerValues,
  parseAmzDate,
  percentDecode,
  SigV4Error,
  TERMINATOR,
  toAmzDate,
  type HttpRequestParts,
  type ParsedSignature,
} from "./sigv4.ts";

const MAX_PRESIGNED_EXPIRES = 604_800; // one week, the AWS maximum

// RFC 1123 only ("Sun, 30 Aug 2015 12:36:00 GMT"); Date.parse alone accepts far too much.
const HTTP_DATE_RE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;

function httpDateToAmzDate(value: string): string | undefined {
  if (!HTTP_DATE_RE.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : toAmzDate(new Date(ms));
}

// ---------------------------------------------------------------------------
// Parsing the Authorization header / presigned query
// ---------------------------------------------------------------------------

const MISSING_AUTH = "Missing Authentication Token";

/** Headers that decide who signed, when, or what runs: a second copy is refused, never "first one wins". */
const SINGLE_VALUED_HEADERS = ["host", "x-amz-date", "date", "x-amz-security-token", "x-amz-content-sha256", "x-amz-target", "content-type"];

/** The parameters an Authorization header may carry, each exactly once. */
const AUTHORIZATION_FIELDS = new Set(["Credential", "SignedHeaders", "Signature"]);

/** `query`: the request's query already decoded by decodeQueryParams (decoded here when not given). */
export function parseSignature(req: HttpRequestParts, query?: Map<string, string>): ParsedSignature {
  const authorizations = headerValues(req.headers, "authorization");
  if (authorizations.length > 1) {
    // A proxy and this server might each pick a different one; refuse the ambiguity.
    throw new SigV4Error("IncompleteSignature", "Only one Authorization header is allowed.");
  }
  for (const name of SINGLE_VALUED_HEADERS) {
    if (headerValues(req.headers, name).length > 1) {
      // Which copy counts would be up to each parser on the way; refuse the ambiguity.
      throw new SigV4Error("IncompleteSignature", `Only one '${name}' header is allowed.`);
    }
  }
  const authorization = authorizations[0];
  const hasHeaderAuth = authorization !== undefined && authorization.trim() !== "";
  query ??= decodeQueryParams(req.rawQuery);
  const hasQueryAuth = query.has("X-Amz-Algorithm");
  if (hasHeaderAuth && hasQueryAuth) {
    throw new SigV4Error(
      "IncompleteSignature",
      "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified.",
    );
  }
  if (hasHeaderAuth) return parseAuthorizationHeader(req, authorization);
  if (hasQueryAuth) return parsePresignedQuery(req, query);
  throw new SigV4Error("MissingAuthenticationToken", MISSING_AUTH);
}

/**
 * Decoded query parameters. An X-Amz-* parameter may appear once only, in any
 * letter case: a second X-Amz-Signature or X-Amz-Credential would otherwise
 * leave "which one counts" to each parser.
 */
export function decodeQueryParams(rawQuery: string): Map<string, string> {
  const params = new Map<string, string>();
  const seen = new Set<string>();
  for (const part of rawQuery.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const key = percentDecode(eq === -1 ? part : part.slice(0, eq)).toString("utf8");
    const value = percentDecode(eq === -1 ? "" : part.slice(eq + 1)).toString("utf8");
    const lower = key.toLowerCase();
    if (lower.startsWith("x-amz-")) {
      if (seen.has(lower)) {
        throw new SigV4Error("IncompleteSignature", `The query parameter '${key.slice(0, 64)}' may appear only once.`);
      }
      seen.add(lower);
    }
    if (!params.has(key)) params.set(key, value);
  }
  return params;
}

function parseAuthorizationHeader(req: HttpRequestParts, header: string): ParsedSignature {
  const trimmed = header.trim();
  const space = trimmed.search(/\s/);
  const algorithm = space === -1 ? trimmed : trimmed.slice(0, space);
  if (algorithm !== ALGORITHM) {
    // Only echo the algorithm when it looks like one; the header could be a bearer secret.
    const shown = algorithm.startsWith("AWS4-") && algorithm.length <= 40 ? `'${algorithm}'` : "(not shown)";
    throw new SigV4Error("IncompleteSignature", `Unsupported AWS 'algorithm': ${shown}. Expected '${ALGORITHM}'.`);
  }
  const fields = parseAuthorizationFields(trimmed.slice(algorithm.length), header);
  const credential = fields.get("Credential");
  const signedHeadersText = fields.get("SignedHeaders");
  const signature = fields.get("Signature");
  const amzDate = requestAmzDate(req);

  const problems: string[] = [];
  if (!credential) problems.push("Authorization header requires 'Credential' parameter.");
  if (!signature) problems.push("Authorization header requires 'Signature' parameter.");
  if (!signedHeadersText) problems.push("Authorization header requires 'SignedHeaders' parameter.");
  if (amzDate === undefined) {
    problems.push("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
  }
  if (!credential || !signature || !signedHeadersText || amzDate === undefined) {
    // Like AWS, echo the header for debugging – but never the signature.
    const echoed = [`${ALGORITHM}`, credential && `Credential=${credential}`, signedHeadersText && `SignedHeaders=${signedHeadersText}`]
      .filter(Boolean)
      .join(" ");
    throw new SigV4Error("IncompleteSignature", `${problems.join(" ")} Authorization=${echoed}`);
  }

  const scope = parseCredential(credential);
  const signedHeaders = parseSignedHeaderList(req, signedHeadersText);
  const sessionToken = firstHeader(req.headers, "x-amz-security-token");
  if (sessionToken !== undefined && !signedHeaders.includes("x-amz-security-token")) {
    throw new SigV4Error(
      "IncompleteSignature",
      "'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization.",
    );
  }
  checkScopeDate(scope.date, amzDate);
  return { ...scope, signedHeaders, signature, amzDate, sessionToken, presigned: false };
}

/** "Credential=a, SignedHeaders=b,Signature=c" -> Map; commas with or without spaces. */
function parseAuthorizationFields(rest: string, wholeHeader: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const rawPart of rest.split(",")) {
    const part = rawPart.trim();
    if (part === "") continue;
    const eq = part.indexOf("=");
    if (eq === -1) {
      // AWS hashes the header here rather than echoing it, since it may hold a signature.
      const digest = createHash("sha256").update(wholeHeader).digest("base64");
      throw new SigV4Error(
        "IncompleteSignature",
        `Invalid key=value pair (missing equal-sign) in Authorization header (hashed with SHA-256 and encoded with Base64): '${digest}'.`,
      );
    }
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (!AUTHORIZATION_FIELDS.has(name)) {
      // Echo only short, plain names: the header may hold a secret.
      const shown = /^[A-Za-z-]{1,32}$/.test(name) ? `'${name}'` : "(not shown)";
      throw new SigV4Error("IncompleteSignature", `Unknown parameter ${shown} in the Authorization header: only Credential, SignedHeaders and Signature are allowed.`);
    }
    if (fields.has(name)) {
      throw new SigV4Error("IncompleteSignature", `The Authorization header names '${name}' more than once.`);
    }
    if (value === "" || /\s/.test(value)) {
      throw new SigV4Error("IncompleteSignature", `The Authorization header's '${name}' parameter is malformed (empty, or holds whitespace).`);
    }
    fields.set(name, value);
  }
  return fields;
}

function parseCredential(credential: string): Pick<ParsedSignature, "accessKeyId" | "date" | "region" | "service"> {
  const parts = credential.split("/");
  if (parts.length !== 5 || parts.some((p) => p === "")) {
    throw new SigV4Error(
      "IncompleteSignature",
      `Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '${credential}'`,
    );
  }
  const [accessKeyId, date, region, service, terminator] = parts;
  if (terminator !== TERMINATOR) {
    throw new SigV4Error(
      "IncompleteSignature",
      `Credential should be scoped with a valid terminator: '${TERMINATOR}', not '${terminator}'.`,
    );
  }
  if (!/^\d{8}$/.test(date)) {
    throw new SigV4Error("IncompleteSignature", "Invalid credential date. Date is not the required format: yyyyMMdd.");
  }
  return { accessKeyId, date, region, service };
}

function parseSignedHeaderList(req: HttpRequestParts, text: string): string[] {
  const names = text.split(";").map((h) => h.trim().toLowerCase());
  if (names.some((n) => n === "")) {
    throw new SigV4Error("IncompleteSignature", `SignedHeaders contains an empty header name: '${text.slice(0, 512)}'.`);
  }
  if (new Set(names).size !== names.length) {
    throw new SigV4Error("IncompleteSignature", `SignedHeaders names a header more than once: '${text.slice(0, 512)}'.`);
  }
  if (names.some((n) => !/^:?[a-z0-9!#$%&'*+.^_`|~-]+$/.test(n))) {
    throw new SigV4Error("IncompleteSignature", `SignedHeaders holds a name that is not a header name: '${text.slice(0, 512)}'.`);
  }
  // HTTP/2 clients may sign ":authority" instead of "host"; it binds the target host only when the
  // request has one. Over HTTP/1.1 a signed-but-absent ":authority" would bind nothing, so the
  // signature would be good for any host.
  const hostSigned = (name: string) => names.includes(name) && headerValues(req.headers, name).some((v) => v.trim() !== "");
  if (!hostSigned("host") && !hostSigned(":authority")) {
    throw new SigV4Error("IncompleteSignature", "'Host' must be a 'SignedHeader' in the AWS Authorization, and the request must carry it.");
  }
  return names;
}

/** X-Amz-Date wins over Date; undefined when neither is present. Throws when malformed. */
function requestAmzDate(req: HttpRequestParts): string | undefined {
  const amz = firstHeader(req.headers, "x-amz-date");
  if (amz !== undefined) return validAmzDate(amz.trim());
  const http = firstHeader(req.headers, "date");
  if (http === undefined) return undefined;
  const converted = httpDateToAmzDate(http.trim());
  if (converted === undefined) {
    throw new SigV4Error("IncompleteSignature", `Date must be in RFC 1123 format. Got '${http}'.`);
  }
  return converted;
}

function validAmzDate(value: string): string {
  if (parseAmzDate(value) === undefined) {
    throw new SigV4Error(
      "IncompleteSignature",
      `Date must be in ISO-8601 'basic format'. Got '${value}'. See http://en.wikipedia.org/wiki/ISO_8601`,
    );
  }
  return value;
}

function checkScopeDate(scopeDate: string, amzDate: string): void {
  if (amzDate.slice(0, 8) !== scopeDate) {
    throw new SigV4Error(
      "InvalidSignature",
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${scopeDate}' != '${amzDate.slice(0, 8)}', from '${amzDate}'.`,
    );
  }
}

function parsePresignedQuery(req: HttpRequestParts, query: Map<string, string>): ParsedSignature {
  const algorithm = query.get("X-Amz-Algorithm");
  if (algorithm !== ALGORITHM) {
    const shown = algorithm?.startsWith("AWS4-") && algorithm.length <= 40 ? `'${algorithm}'` : "(not shown)";
    throw new SigV4Error("IncompleteSignature", `Unsupported AWS 'algorithm': ${shown}. Expected '${ALGORITHM}'.`);
  }
  const required = ["X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Expires"];
  const missing = required.filter((name) => !query.get(name));
  if (missing.length > 0) {
    throw new SigV4Error(
      "IncompleteSignature",
      missing.map((name) => `AWS query-string parameters must include '${name}'.`).join(" "),
    );
  }
  const get = (name: string): string => query.get(name) ?? "";
  const scope = parseCredential(get("X-Amz-Credential"));
  const amzDate = validAmzDate(get("X-Amz-Date"));
  const expiresSeconds = parseExpires(get("X-Amz-Expires"));
  const signedHeaders = parseSignedHeaderList(req, get("X-Amz-SignedHeaders"));
  checkScopeDate(scope.date, amzDate);
  return {
    ...scope,
    signedHeaders,
    signature: get("X-Amz-Signature"),
    amzDate,
    // Query parameters are all covered by the canonical query, so the token is signed.
    sessionToken: query.get("X-Amz-Security-Token"),
    presigned: true,
    expiresSeconds,
  };
}

function parseExpires(value: string): number {
  const n = /^\d{1,7}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && n <= MAX_PRESIGNED_EXPIRES)) {
    throw new SigV4Error(
      "IncompleteSignature",
      `X-Amz-Expires must be an integer between 1 and ${MAX_PRESIGNED_EXPIRES} seconds, got '${value}'.`,
    );
  }
  return n;
}
