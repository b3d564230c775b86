/**
 * Server-side AWS Signature Version 4 (AWS4-HMAC-SHA256) verification.
 *
 * Pure functions over an already-read request; the only dependency is node:crypto.
 * The canonicalisation rules deliberately mirror what the AWS SDKs (smithy-typescript,
 * botocore) compute on the client side, because a verifier is only useful if it agrees
 * byte-for-byte with real signers. Reading the signature out of the request (Authorization
 * header, presigned query) lives in sigv4-parse.ts; this file holds the request model and
 * the canonicalisation, signing key, freshness and verification that parsing feeds.
 * See README.md in this folder for the invariants.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { sha256Hex } from "../../shared/sha256.ts";

export const ALGORITHM = "AWS4-HMAC-SHA256";
export const TERMINATOR = "aws4_request";


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
export function headerValues(headers: HttpRequestParts["headers"], name: string): string[] {
  const value = headers[name];
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

export function firstHeader(headers: HttpRequestParts["headers"], name: string): string | undefined {
  return headerValues(headers, name)[0];
}

/** yyyymmddThhmmssZ, the "ISO-8601 basic format" SigV4 uses everywhere. */
export function toAmzDate(date: Date): string {
  return date.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

const AMZ_DATE_RE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** Milliseconds since the epoch, or undefined when not a real yyyymmddThhmmssZ instant. */
export function parseAmzDate(value: string): number | undefined {
  const m = AMZ_DATE_RE.exec(value);
  if (!m) return undefined;
  const y = +m[1], mo = +m[2], d = +m[3], h = +m[4], mi = +m[5], s = +m[6];
  if (y < 100 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return undefined;
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  // Date.UTC silently rolls over (Feb 30 -> Mar 2); the day read back catches that.
  return new Date(ms).getUTCDate() === d ? ms : undefined;
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
export function percentDecode(value: string): Buffer {
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
