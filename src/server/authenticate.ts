import { timingSafeEqual } from "node:crypto";
import { CofferError } from "../services/errors.ts";
import { sha256Hex } from "../services/identity/identity-service.ts";
import type { Credential } from "../services/identity/identity-types.ts";
import { checkFreshness, parseSignature, SigV4Error, verifySignature, type HttpRequestParts } from "./sigv4/sigv4.ts";

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
export async function authenticate(
  req: RawRequest,
  opts: { service: string; region: string; now: number; lookup: CredentialLookup },
): Promise<Credential> {
  const q = req.url.indexOf("?");
  const parts: HttpRequestParts = {
    method: req.method,
    rawPath: q >= 0 ? req.url.slice(0, q) : req.url,
    rawQuery: q >= 0 ? req.url.slice(q + 1) : "",
    headers: req.headers,
    body: req.body,
  };
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
