import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JSONWebKeySet, type JWTPayload } from "jose";
import { CofferError } from "../../shared/errors.ts";
import type { OidcProviderReads, OidcProviderRecord } from "../../storage/store.ts";
import { parseInlineKeys, type IssuerKeys } from "./oidc-keys.ts";
import { providerArn } from "./oidc-providers.ts";

/**
 * Verifies a web identity token (a JWT from an OIDC issuer) for AssumeRoleWithWebIdentity, with
 * jose doing the cryptography. Only asymmetric signatures are accepted (RS*, PS*, ES*, EdDSA):
 * `alg: none` and HMAC (HS256 "signed" with the issuer's public key) never verify. The issuer is
 * the token's `iss`, looked up as a provider of the role's account only, so a token for another
 * account's provider is refused as if that provider did not exist.
 */

export const ALLOWED_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"];
/** Clock skew tolerated on exp, nbf and iat, in seconds. */
export const CLOCK_SKEW_SECONDS = 60;

export interface VerifiedToken {
  provider: OidcProviderRecord;
  subject: string;
  /** The token's audience that matched one of the provider's client IDs. */
  audience: string;
  claims: JWTPayload;
}

const invalid = (message: string) => new CofferError("InvalidIdentityToken", message);
const NOT_A_JWT = "The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)";
const NO_KEY = "Couldn't retrieve verification key from your identity provider, please reference AssumeRoleWithWebIdentity documentation for requirements";

export function createTokenVerifier({
  store,
  keys,
  clock,
  allowHttp,
}: {
  store: Pick<OidcProviderReads, "getOidcProvider">;
  keys: IssuerKeys;
  clock: { now(): number };
  allowHttp: boolean;
}) {
  async function verifyWith(token: string, keySet: JSONWebKeySet) {
    return jwtVerify(token, createLocalJWKSet(keySet), {
      algorithms: ALLOWED_ALGORITHMS,
      clockTolerance: CLOCK_SKEW_SECONDS,
      currentDate: new Date(clock.now()),
    });
  }

  return {
    /** The verified token of a provider in `accountId`, or the AWS error for why not. */
    async verify(token: string, accountId: string): Promise<VerifiedToken> {
      let unverified: JWTPayload;
      let alg: string | undefined;
      try {
        alg = decodeProtectedHeader(token).alg;
        unverified = decodeJwt(token);
      } catch {
        throw invalid(NOT_A_JWT);
      }
      if (alg === undefined || !ALLOWED_ALGORITHMS.includes(alg)) {
        throw invalid(`The web identity token is signed with an algorithm Coffer does not accept (${String(alg).slice(0, 16)}); use one of ${ALLOWED_ALGORITHMS.join(", ")}.`);
      }
      const iss = unverified.iss;
      const schemeOk = typeof iss === "string" && (iss.startsWith("https://") || (allowHttp && iss.startsWith("http://")));
      const provider = schemeOk ? await store.getOidcProvider(providerArn(accountId, iss)) : undefined;
      // The ARN leaves out the scheme: an http:// token must not pass for an https:// provider.
      if (!provider || provider.url !== iss) {
        throw invalid(`No OpenIDConnect provider found in your account for ${typeof iss === "string" ? iss.slice(0, 256) : "(no iss)"}`);
      }

      let result: Awaited<ReturnType<typeof verifyWith>>;
      try {
        if (provider.inlineKeys !== undefined) {
          result = await verifyWith(token, parseInlineKeys(provider.inlineKeys));
        } else {
          const cached = await keys.keysFor(provider.url, false);
          try {
            result = await verifyWith(token, cached);
          } catch (err) {
            if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
            // A key the cached set lacks: the issuer may have rotated its keys (bounded in oidc-keys.ts).
            const refreshed = await keys.keysFor(provider.url, true);
            if (refreshed === cached) throw err;
            result = await verifyWith(token, refreshed);
          }
        }
      } catch (err) {
        throw verificationError(err, clock.now(), unverified.exp);
      }

      const claims = result.payload;
      if (typeof claims.sub !== "string" || claims.sub === "") {
        throw new CofferError("IdpRejectedClaim", "The web identity token has no sub (subject) claim.");
      }
      if (typeof claims.exp !== "number") {
        throw new CofferError("IdpRejectedClaim", "The web identity token has no exp (expiration) claim.");
      }
      const now = Math.floor(clock.now() / 1000);
      if (typeof claims.iat === "number" && claims.iat > now + CLOCK_SKEW_SECONDS) {
        throw invalid("The web identity token was issued in the future (iat); check the clocks of the issuer and of Coffer.");
      }
      const audiences = typeof claims.aud === "string" ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : [];
      const audience = audiences.find((a) => provider.clientIds.includes(a));
      if (audience === undefined) throw invalid("Incorrect token audience");
      return { provider, subject: claims.sub, audience, claims };
    },
  };
}

/** jose's verdict as AWS's error; unexpected errors pass through. */
function verificationError(err: unknown, nowMs: number, exp: unknown): unknown {
  if (err instanceof CofferError) return err;
  if (err instanceof errors.JWTExpired) {
    return new CofferError(
      "ExpiredIdentityToken",
      `Token expired: current date/time ${Math.floor(nowMs / 1000)} must be before the expiration date/time ${typeof exp === "number" ? exp : "(none)"}`,
    );
  }
  if (err instanceof errors.JWKSNoMatchingKey) return invalid(NO_KEY);
  if (err instanceof errors.JWSSignatureVerificationFailed) return invalid("The signature of the web identity token does not verify with the issuer's keys.");
  if (err instanceof errors.JWTClaimValidationFailed) {
    return invalid(`The web identity token's ${err.claim} claim is not valid (${err.reason}).`);
  }
  if (err instanceof errors.JOSEError) return invalid(NOT_A_JWT);
  return err;
}
