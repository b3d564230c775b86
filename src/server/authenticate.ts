import { timingSafeEqual } from "node:crypto";
import { CofferError } from "../shared/errors.ts";
import { sha256Hex } from "../shared/sha256.ts";
import type { Credential } from "../services/identity/identity-types.ts";
import type { ParsedRequest } from "./request-context.ts";
import { checkFreshness, deriveSigningKey, SigV4Error, verifySignature, type ParsedSignature } from "./sigv4/sigv4.ts";

export type CredentialLookup = (accessKeyId: string) => Promise<Credential | undefined>;

/**
 * Signing keys per credential and scope (date/region/service). Held by the
 * credential object itself (a WeakMap), so a key lives exactly as long as
 * the identity service keeps that credential cached: a key deactivated,
 * deleted or re-issued is a new lookup and a new credential, never a stale
 * signing key; the raw secret is never a map key. A handful of scopes per
 * credential at most (a day boundary, a second service).
 */
const signingKeys = new WeakMap<Credential, Map<string, Buffer>>();
const SCOPES_PER_CREDENTIAL = 8;

function signingKeyFor(credential: Credential, sig: ParsedSignature): Buffer {
  const scope = `${sig.date}/${sig.region}/${sig.service}`;
  let keys = signingKeys.get(credential);
  if (!keys) signingKeys.set(credential, (keys = new Map()));
  let key = keys.get(scope);
  if (!key) {
    if (keys.size >= SCOPES_PER_CREDENTIAL) keys.clear();
    key = deriveSigningKey(credential.secretAccessKey, sig.date, sig.region, sig.service);
    keys.set(scope, key);
  }
  return key;
}

/**
 * Verifies a request's SigV4 signature (parsed once, in parseRequest) and
 * returns the caller's credential. The scope must name this service and
 * region; the access key must be known and active; a temporary credential's
 * session token must match.
 */
export async function authenticate(
  req: ParsedRequest,
  opts: { service: string; region: string; now: number; lookup: CredentialLookup },
): Promise<Credential> {
  try {
    const sig = req.signature;
    if (sig instanceof SigV4Error) throw sig;
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
    if (!verifySignature(req.parts, sig, credential.secretAccessKey, signingKeyFor(credential, sig))) {
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
