import { timingSafeEqual } from "node:crypto";
import { CofferError } from "../shared/errors.ts";
import { sha256Hex } from "../shared/sha256.ts";
import type { Credential } from "../services/identity/identity-types.ts";
import { checkFreshness, decodeQueryParams, parseSignature, SigV4Error, verifySignature, type HttpRequestParts } from "./sigv4/sigv4.ts";

export type CredentialLookup = (accessKeyId: string) => Promise<Credential | undefined>;

export interface RawRequest {
  method: string;
  /** Path and query as received. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/**
 * Verifies a request's SigV4 signature and returns the caller's credential.
 * The scope must name this service and region; the access key must be known
 * and active; a temporary credential's session token must match.
 */
function partsOf(req: RawRequest): HttpRequestParts {
  const q = req.url.indexOf("?");
  return {
    method: req.method,
    rawPath: q >= 0 ? req.url.slice(0, q) : req.url,
    rawQuery: q >= 0 ? req.url.slice(q + 1) : "",
    headers: req.headers,
    body: req.body,
  };
}

/**
 * The X-Amz-Target (service and operation) the request's signature covers:
 * the header when it is a signed header, else, for a presigned URL, the
 * X-Amz-Target query parameter (the SDK presigner moves it there, and the
 * canonical query signs it). A target header outside the signature is
 * refused: otherwise a URL presigned for DescribeSecret could be replayed
 * with `X-Amz-Target: ...GetSecretValue` added. A request whose signature
 * does not even parse gets its header target back, for routing only:
 * authenticate() refuses it afterwards with the parse error.
 */
export function signedTarget(req: RawRequest): string | undefined {
  const parts = partsOf(req);
  const raw = req.headers["x-amz-target"];
  const header = Array.isArray(raw) ? raw[0] : raw;
  let signedHeaders: string[];
  let query: Map<string, string>;
  try {
    signedHeaders = parseSignature(parts).signedHeaders;
    query = decodeQueryParams(parts.rawQuery);
  } catch (err) {
    // With no target header the operation can only come from a (broken) presigned query: say why it is broken.
    if (header === undefined && err instanceof SigV4Error && err.code !== "MissingAuthenticationToken") {
      throw new CofferError(err.code, err.message);
    }
    return header;
  }
  let fromQuery: string | undefined;
  for (const [k, v] of query) if (k.toLowerCase() === "x-amz-target") fromQuery = v;
  if (header !== undefined && !signedHeaders.includes("x-amz-target") && fromQuery !== header) {
    throw new CofferError("IncompleteSignature", "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization.");
  }
  if (header !== undefined && fromQuery !== undefined && header !== fromQuery) {
    throw new CofferError("IncompleteSignature", "The X-Amz-Target header and the X-Amz-Target query parameter name different operations.");
  }
  return header ?? fromQuery;
}

export async function authenticate(
  req: RawRequest,
  opts: { service: string; region: string; now: number; lookup: CredentialLookup },
): Promise<Credential> {
  const parts = partsOf(req);
  try {
    const sig = parseSignature(parts);
    checkFreshness(sig, new Date(opts.now));
    if (sig.service !== opts.service) {
      throw new CofferError("InvalidSignature", `Credential should be scoped to correct service: '${opts.service}'.`);
    }
    if (sig.region !== opts.region) {
      throw new CofferError("InvalidSignature", `Credential should be scoped to a valid region. This server serves '${opts.region}'.`);
    }
    const credential = await opts.lookup(sig.accessKeyId);
    if (!credential || !sessionTokenMatches(credential, sig.sessionToken)) {
      throw new CofferError("UnrecognizedClient", "The security token included in the request is invalid.");
    }
    if (!verifySignature(parts, sig, credential.secretAccessKey)) {
      throw new CofferError(
        "InvalidSignature",
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
      );
    }
    return credential;
  } catch (err) {
    if (err instanceof SigV4Error) throw new CofferError(err.code, (err as Error).message);
    throw err;
  }
}

/** Temporary credentials need their session token; long-term keys must not carry one. */
function sessionTokenMatches(credential: Credential, token: string | undefined): boolean {
  if (credential.sessionTokenHash === undefined) return token === undefined;
  if (token === undefined) return false;
  return timingSafeEqual(Buffer.from(sha256Hex(token)), Buffer.from(credential.sessionTokenHash));
}
