/**
 * Server-side AWS Signature Version 4 (AWS4-HMAC-SHA256) verification.
 *
 * Pure functions over an already-read request; the only dependency is node:crypto.
 * The canonicalisation rules deliberately mirror what the AWS SDKs (smithy-typescript,
 * botocore) compute on the client side, because a verifier is only useful if it agrees
 * byte-for-byte with real signers. See README.md in this folder for the invariants.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { sha256Hex } from "../../shared/sha256.ts";

export const ALGORITHM = "AWS4-HMAC-SHA256";
const TERMINATOR = "aws4_request";
const MAX_PRESIGNED_EXPIRES = 604_800; // one week, the AWS maximum

export interface HttpRequestParts {
  method: string;
  /** Path exactly as received, without the query, e.g. "/" or "/example/..". */
  rawPath: string;
  /** Query string exactly as received, without "?"; "" if none. */
  rawQuery: string;
  /**
   * Lower-case header names. Prefer node's `req.headersDistinct` (string[] per header):
   * `req.headers` joins repeated headers with ", " (and drops some duplicates), which no
   * longer matches the "," join the client signed.
   */
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface ParsedSignature {
  accessKeyId: string;
  /** yyyymmdd, from the credential scope */
  date: string;
  region: string;
  service: string;
  /** lower-case, in the order the client listed them */
  signedHeaders: string[];
  signature: string;
  /** yyyymmddThhmmssZ (converted from the Date header when X-Amz-Date is absent) */
  amzDate: string;
  sessionToken?: string;
  presigned: boolean;
  expiresSeconds?: number;
}

export type SigV4ErrorCode =
  | "MissingAuthenticationToken"
  | "IncompleteSignature"
  | "InvalidSignature"
  | "UnrecognizedClient";

export class SigV4Error extends Error {
  constructor(
    readonly code: SigV4ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "SigV4Error";
  }
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac("sha256", key).update(data, "utf8").digest();
}

/** All values of a header (repeated lines kept apart), or [] when absent. */
function headerValues(headers: HttpRequestParts["headers"], name: string): string[] {
  const value = headers[name];
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

function firstHeader(headers: HttpRequestParts["headers"], name: string): string | undefined {
  return headerValues(headers, name)[0];
}

/** yyyymmddThhmmssZ, the "ISO-8601 basic format" SigV4 uses everywhere. */
export function toAmzDate(date: Date): string {
  return date.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

const AMZ_DATE_RE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** Milliseconds since the epoch, or undefined when not a real yyyymmddThhmmssZ instant. */
function parseAmzDate(value: string): number | undefined {
  const m = AMZ_DATE_RE.exec(value);
  if (!m) return undefined;
  const y = +m[1], mo = +m[2], d = +m[3], h = +m[4], mi = +m[5], s = +m[6];
  if (y < 100 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return undefined;
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  // Date.UTC silently rolls over (Feb 30 -> Mar 2); the day read back catches that.
  return new Date(ms).getUTCDate() === d ? ms : undefined;
}

// RFC 1123 only ("Sun, 30 Aug 2015 12:36:00 GMT"); Date.parse alone accepts far too much.
const HTTP_DATE_RE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;

function httpDateToAmzDate(value: string): string | undefined {
  if (!HTTP_DATE_RE.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : toAmzDate(new Date(ms));
}

// ---------------------------------------------------------------------------
// URI encoding (AWS flavour: only A-Za-z0-9-._~ unreserved, uppercase hex)
// ---------------------------------------------------------------------------

function isUnreserved(byte: number): boolean {
  return (
    (byte >= 0x41 && byte <= 0x5a) || // A-Z
    (byte >= 0x61 && byte <= 0x7a) || // a-z
    (byte >= 0x30 && byte <= 0x39) || // 0-9
    byte === 0x2d || byte === 0x2e || byte === 0x5f || byte === 0x7e // - . _ ~
  );
}

function uriEncodeBytes(bytes: Buffer): string {
  let out = "";
  for (const byte of bytes) {
    out += isUnreserved(byte)
      ? String.fromCharCode(byte)
      : "%" + byte.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

function uriEncode(value: string): string {
  return uriEncodeBytes(Buffer.from(value, "utf8"));
}

/**
 * Percent-decodes to raw bytes. Works on bytes rather than decodeURIComponent so that
 * malformed escapes ("%zz") and non-UTF-8 sequences survive unchanged instead of throwing;
 * the client signed those bytes, so they must round-trip exactly.
 */
function percentDecode(value: string): Buffer {
  const input = Buffer.from(value, "utf8");
  const out = Buffer.alloc(input.length);
  let n = 0;
  for (let i = 0; i < input.length; i++) {
    const byte = input[i];
    if (byte === 0x25 && isHex(input[i + 1]) && isHex(input[i + 2])) {
      out[n++] = parseInt(String.fromCharCode(input[i + 1], input[i + 2]), 16);
      i += 2;
    } else {
      out[n++] = byte;
    }
  }
  return out.subarray(0, n);
}

function isHex(byte: number | undefined): boolean {
  return (
    byte !== undefined &&
    ((byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66))
  );
}

// ---------------------------------------------------------------------------
// Canonical request
// ---------------------------------------------------------------------------

/**
 * Non-S3 services: remove dot segments and empty segments, keep a trailing slash only when
 * the raw path had one, then URI-encode the (already encoded) path again. This
 * "double encoding" is what the SDKs do: the canonical URI of the wire path
 * "/a%20b" is "/a%2520b". Decoding first would break every SDK request whose path
 * contains an escape.
 *
 * S3 (normalize = false): no normalisation, and the path is encoded exactly once.
 */
export function canonicalUri(rawPath: string, normalize = true): string {
  if (rawPath === "/") return "/";
  if (!normalize) {
    const encoded = rawPath
      .split("/")
      .map((segment) => uriEncodeBytes(percentDecode(segment)))
      .join("/");
    return encoded === "" ? "/" : encoded;
  }
  const segments: string[] = [];
  for (const segment of rawPath.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") segments.pop();
    else segments.push(segment);
  }
  // Same trailing-slash rule as smithy and botocore ("/a/." -> "/a", "/a/" -> "/a/").
  const trailing = segments.length > 0 && rawPath.endsWith("/") ? "/" : "";
  return "/" + segments.map(uriEncode).join("/") + trailing;
}

/** Decoded-then-re-encoded query pairs, sorted by key then value (byte order). */
export function canonicalQuery(rawQuery: string): string {
  if (rawQuery === "") return "";
  const pairs: [string, string][] = [];
  for (const part of rawQuery.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const rawKey = eq === -1 ? part : part.slice(0, eq);
    const rawValue = eq === -1 ? "" : part.slice(eq + 1);
    const key = uriEncodeBytes(percentDecode(rawKey));
    // The signature cannot sign itself; smithy drops it case-insensitively, so do we.
    if (key.toLowerCase() === "x-amz-signature") continue;
    pairs.push([key, uriEncodeBytes(percentDecode(rawValue))]);
  }
  // Encoded strings are pure ASCII, so plain comparison is byte order.
  pairs.sort(([ka, va], [kb, vb]) => (ka < kb ? -1 : ka > kb ? 1 : va < vb ? -1 : va > vb ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join("&");
}

/**
 * Same whitespace rules as the SDK signer: line breaks (obs-fold) become spaces, runs of
 * spaces/tabs collapse to one, leading/trailing space is dropped. Repeated header lines
 * are joined with "," (no space), in the order received.
 */
const NEEDS_TRIMMING = /[\r\n\t]| {2}|^ | $/;

export function canonicalHeaderValue(values: string[]): string {
  // Most values are already canonical: skip three regex replacements for them.
  if (values.length === 1 && !NEEDS_TRIMMING.test(values[0])) return values[0];
  return values
    .map((v) => v.replace(/[\r\n]/g, " ").replace(/[ \t]+/g, " ").replace(/^ | $/g, ""))
    .join(",");
}

function normalizeSignedHeaders(signedHeaders: string[]): string[] {
  return [...new Set(signedHeaders.map((h) => h.toLowerCase()))].sort();
}

export interface CanonicalRequestOptions {
  /** default true; false gives S3 rules (no normalisation, single encoding) */
  normalizePath?: boolean;
  /** default: hex SHA-256 of req.body */
  payloadHash?: string;
}

export function canonicalRequest(
  req: HttpRequestParts,
  signedHeaders: string[],
  opts: CanonicalRequestOptions = {},
): string {
  const names = normalizeSignedHeaders(signedHeaders);
  // A signed-but-absent header canonicalises as "name:" – harmless, since it is signed.
  const headerBlock = names.map((n) => `${n}:${canonicalHeaderValue(headerValues(req.headers, n))}\n`).join("");
  return [
    req.method,
    canonicalUri(req.rawPath, opts.normalizePath ?? true),
    canonicalQuery(req.rawQuery),
    headerBlock,
    names.join(";"),
    opts.payloadHash ?? sha256Hex(req.body),
  ].join("\n");
}

export function credentialScope(date: string, region: string, service: string): string {
  return `${date}/${region}/${service}/${TERMINATOR}`;
}

export function stringToSign(amzDate: string, scope: string, canonicalRequestText: string): string {
  return [ALGORITHM, amzDate, scope, sha256Hex(canonicalRequestText)].join("\n");
}

// ---------------------------------------------------------------------------
// Signing key (cached)
// ---------------------------------------------------------------------------

const SIGNING_KEY_CACHE_MAX = 1000;
const signingKeyCache = new Map<string, Buffer>();

export function deriveSigningKey(secretAccessKey: string, date: string, region: string, service: string): Buffer {
  const kDate = hmac("AWS4" + secretAccessKey, date);
  const kRegion = hmac(kDate, region);
  const kService = hmac(kRegion, service);
  return hmac(kService, TERMINATOR);
}

/**
 * The derived key only changes daily, so the server can skip four HMACs per request.
 * The cache key uses a SHA-256 of the secret so raw secrets never sit in a Map key;
 * eviction is FIFO (Map iteration order), which is enough for a handful of hot keys.
 */
export function signingKey(secretAccessKey: string, date: string, region: string, service: string): Buffer {
  const cacheKey = `${sha256Hex(secretAccessKey)}\n${date}\n${region}\n${service}`;
  const cached = signingKeyCache.get(cacheKey);
  if (cached) return cached;
  const key = deriveSigningKey(secretAccessKey, date, region, service);
  if (signingKeyCache.size >= SIGNING_KEY_CACHE_MAX) {
    const oldest = signingKeyCache.keys().next().value;
    if (oldest !== undefined) signingKeyCache.delete(oldest);
  }
  signingKeyCache.set(cacheKey, key);
  return key;
}

/** Test hook; also useful after rotating credentials. */
export function clearSigningKeyCache(): void {
  signingKeyCache.clear();
}

function computeSignature(key: Buffer, sts: string): string {
  return createHmac("sha256", key).update(sts, "utf8").digest("hex");
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

// ---------------------------------------------------------------------------
// Freshness
// ---------------------------------------------------------------------------

function describeSkew(skewSeconds: number): string {
  return skewSeconds % 60 === 0 ? `${skewSeconds / 60} min.` : `${skewSeconds} sec.`;
}

/** Rejects replays of old requests and clocks too far ahead; the boundary itself is allowed. */
export function checkFreshness(sig: ParsedSignature, now: Date, skewSeconds = 900): void {
  const signedAt = parseAmzDate(sig.amzDate);
  if (signedAt === undefined) {
    throw new SigV4Error("IncompleteSignature", `Date must be in ISO-8601 'basic format'. Got '${sig.amzDate}'.`);
  }
  const nowMs = now.getTime();
  const skewMs = skewSeconds * 1000;
  if (signedAt > nowMs + skewMs) {
    throw new SigV4Error(
      "InvalidSignature",
      `Signature not yet current: ${sig.amzDate} is still later than ${toAmzDate(new Date(nowMs + skewMs))} (${toAmzDate(now)} + ${describeSkew(skewSeconds)})`,
    );
  }
  if (sig.presigned) {
    const expiresAt = signedAt + (sig.expiresSeconds ?? 0) * 1000;
    if (nowMs > expiresAt) {
      throw new SigV4Error(
        "InvalidSignature",
        `Request has expired: ${sig.amzDate} + X-Amz-Expires ${sig.expiresSeconds ?? 0} sec. = ${toAmzDate(new Date(expiresAt))} is earlier than ${toAmzDate(now)}.`,
      );
    }
    return;
  }
  if (signedAt < nowMs - skewMs) {
    throw new SigV4Error(
      "InvalidSignature",
      `Signature expired: ${sig.amzDate} is now earlier than ${toAmzDate(new Date(nowMs - skewMs))} (${toAmzDate(now)} - ${describeSkew(skewSeconds)})`,
    );
  }
}

// ---------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------

/**
 * True only when the signature matches. The payload hash is always the hash of the body
 * actually received: a declared x-amz-content-sha256 that differs (including
 * UNSIGNED-PAYLOAD) fails, because otherwise the body would not be covered at all.
 * Does not check freshness, region/service or the access key – see checkFreshness and
 * the caller.
 */
export function verifySignature(
  req: HttpRequestParts,
  sig: ParsedSignature,
  secretAccessKey: string,
  /** The signing key of sig's scope for this secret, when the caller keeps one (see signingKey). */
  key?: Buffer,
): boolean {
  const bodyHash = sha256Hex(req.body);
  const declared = firstHeader(req.headers, "x-amz-content-sha256");
  if (declared !== undefined && declared.trim() !== bodyHash) return false;

  const creq = canonicalRequest(req, sig.signedHeaders, { payloadHash: bodyHash });
  const sts = stringToSign(sig.amzDate, credentialScope(sig.date, sig.region, sig.service), creq);
  const expected = computeSignature(key ?? signingKey(secretAccessKey, sig.date, sig.region, sig.service), sts);
  return constantTimeEqual(expected, sig.signature);
}

function constantTimeEqual(expected: string, provided: string): boolean {
  const a = Buffer.from(expected, "utf8");
  const b = Buffer.from(provided, "utf8");
  // The expected length is public (always 64 hex chars), so an early return leaks nothing.
  return a.length === b.length && timingSafeEqual(a, b);
}
