import type { JSONWebKeySet } from "jose";
import { CofferError } from "../../shared/errors.ts";
import { OidcFetchError, type FetchJson } from "./oidc-http.ts";

/**
 * An issuer's public signing keys: fetched from `<issuer>/.well-known/openid-configuration` →
 * `jwks_uri` and kept for a while, or given inline for the provider (a Coffer extension).
 *
 * What a hostile token or tenant can make the server do is bounded: one fetch per issuer at a
 * time (callers share it); an unknown `kid` refetches at most once per REFETCH_COOLDOWN_MS per
 * issuer, and so does a failed fetch; FETCHES_PER_MINUTE across all issuers (past that, cached
 * keys are used and an issuer with none gets IDPCommunicationError); at most MAX_ISSUERS issuers
 * are remembered.
 */

const KEYS_TTL_MS = 60 * 60 * 1000;
const REFETCH_COOLDOWN_MS = 30 * 1000;
const FETCHES_PER_MINUTE = 60;
const MAX_ISSUERS = 1000;
const MAX_KEYS = 100;
const MAX_INLINE_CHARS = 64 * 1024;
/** Members that only a private or symmetric key has: never accepted as a verification key. */
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "k", "oth"];

/** A key set as an issuer or an operator gave it, checked: public keys only, of a signing kind. */
export function checkKeySet(value: unknown, what: string): JSONWebKeySet {
  const keys = (value as { keys?: unknown })?.keys;
  if (!Array.isArray(keys) || keys.length === 0 || keys.length > MAX_KEYS) {
    throw new CofferError("InvalidParameter", `${what} must be a JWKS: {"keys": [...]} with 1 to ${MAX_KEYS} keys.`);
  }
  for (const key of keys) {
    if (!key || typeof key !== "object" || Array.isArray(key)) throw new CofferError("InvalidParameter", `${what}: every key must be a JWK object.`);
    const kty = (key as Record<string, unknown>).kty;
    if (kty !== "RSA" && kty !== "EC" && kty !== "OKP") {
      throw new CofferError("InvalidParameter", `${what}: only public RSA, EC and OKP keys are accepted (kty ${JSON.stringify(kty)}).`);
    }
    if (PRIVATE_MEMBERS.some((m) => m in (key as object))) {
      throw new CofferError("InvalidParameter", `${what}: a key holds private key material; give only the public keys.`);
    }
  }
  return { keys } as JSONWebKeySet;
}

/** Inline keys (PutOpenIDConnectProviderKeys) as text: JSON, bounded, public keys only. */
export function parseInlineKeys(text: string): JSONWebKeySet {
  if (text.length > MAX_INLINE_CHARS) throw new CofferError("InvalidParameter", `The key set is over ${MAX_INLINE_CHARS} characters.`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CofferError("InvalidParameter", "The key set is not valid JSON.");
  }
  return checkKeySet(value, "The key set");
}

export interface IssuerKeys {
  /**
   * The issuer's key set. `refresh`: the cached set lacked the token's key, so fetch again
   * unless that was done within the cooldown (then the cached set comes back unchanged).
   * Throws CofferError("IdpCommunicationError") when there are no keys to be had.
   */
  keysFor(issuer: string, refresh: boolean): Promise<JSONWebKeySet>;
}

interface Entry {
  keys?: JSONWebKeySet;
  fetchedAt: number;
  /** Last fetch attempt (success or failure): the cooldown runs from here. */
  triedAt: number;
  failure?: string;
  inflight?: Promise<void>;
}

export function createIssuerKeys({ fetchJson, clock, allowHttp }: { fetchJson: FetchJson; clock: { now(): number }; allowHttp: boolean }): IssuerKeys {
  const entries = new Map<string, Entry>();
  let budget = FETCHES_PER_MINUTE;
  let budgetAt = clock.now();

  function takeBudget(): boolean {
    const now = clock.now();
    budget = Math.min(FETCHES_PER_MINUTE, budget + ((now - budgetAt) * FETCHES_PER_MINUTE) / 60_000);
    budgetAt = now;
    if (budget < 1) return false;
    budget -= 1;
    return true;
  }

  const communicationError = (reason: string) =>
    new CofferError(
      "IdpCommunicationError",
      `Couldn't retrieve verification key from your identity provider, please reference AssumeRoleWithWebIdentity documentation for requirements (${reason}).`,
    );

  async function fetchKeys(issuer: string): Promise<JSONWebKeySet> {
    const discovery = (await fetchJson(`${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`)) as Record<string, unknown>;
    // OpenID Connect Discovery 1.0, 4.3: the document's issuer must be the one asked for.
    if (discovery?.issuer !== issuer) throw new OidcFetchError("the discovery document names another issuer");
    const jwksUri = discovery.jwks_uri;
    if (typeof jwksUri !== "string" || !(jwksUri.startsWith("https://") || (allowHttp && jwksUri.startsWith("http://")))) {
      throw new OidcFetchError("the discovery document has no https jwks_uri");
    }
    try {
      return checkKeySet(await fetchJson(jwksUri), "The issuer's key set");
    } catch (err) {
      if (err instanceof CofferError) throw new OidcFetchError("the key set is not a JWKS of public keys");
      throw err;
    }
  }

  function remember(issuer: string, entry: Entry): void {
    if (!entries.has(issuer) && entries.size >= MAX_ISSUERS) entries.delete(entries.keys().next().value!);
    entries.set(issuer, entry);
  }

  return {
    async keysFor(issuer, refresh) {
      const now = clock.now();
      let entry = entries.get(issuer);
      if (entry?.inflight) await entry.inflight;
      entry = entries.get(issuer);
      const fresh = entry?.keys !== undefined && now - entry.fetchedAt < KEYS_TTL_MS;
      const coolingDown = entry !== undefined && now - entry.triedAt < REFETCH_COOLDOWN_MS;
      if (entry?.keys && (coolingDown || (fresh && !refresh))) return entry.keys;
      if (!entry?.keys && coolingDown && entry?.failure) throw communicationError(entry.failure);
      if (!takeBudget()) {
        if (entry?.keys) return entry.keys;
        throw communicationError("too many key fetches; try again shortly");
      }
      const next: Entry = { ...(entry ?? { fetchedAt: 0 }), triedAt: now };
      next.inflight = fetchKeys(issuer).then(
        (keys) => {
          next.keys = keys;
          next.fetchedAt = clock.now();
          delete next.failure;
        },
        (err: unknown) => {
          next.failure = err instanceof OidcFetchError ? err.reason : "the fetch failed";
        },
      ).finally(() => delete next.inflight);
      remember(issuer, next);
      await next.inflight;
      if (next.keys && !next.failure) return next.keys;
      // A failed refetch leaves keys fetched before in use until they age out.
      if (next.keys && now - next.fetchedAt < KEYS_TTL_MS) return next.keys;
      throw communicationError(next.failure ?? "the fetch failed");
    },
  };
}
