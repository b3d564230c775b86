import { describe, expect, it } from "vitest";
import { CofferError } from "../../shared/errors.ts";
import { OidcFetchError } from "./oidc-http.ts";
import { checkKeySet, createIssuerKeys, parseInlineKeys } from "./oidc-keys.ts";

/** The key cache's bounds, with a scripted issuer (the real fetch is exercised in test/e2e/workload-identity.test.ts). */
function issuer(keysets: { keys: object[] }[]) {
  let now = 1_000_000;
  const requests: string[] = [];
  let down = false;
  let served = 0;
  const fetchJson = async (url: string) => {
    requests.push(url);
    if (down) throw new OidcFetchError("ECONNREFUSED");
    const origin = new URL(url).origin;
    if (url.endsWith("/.well-known/openid-configuration")) return { issuer: origin, jwks_uri: `${origin}/keys` };
    return keysets[Math.min(served++, keysets.length - 1)];
  };
  const keys = createIssuerKeys({ fetchJson, clock: { now: () => now }, allowHttp: false });
  return {
    keys,
    requests,
    advance: (ms: number) => (now += ms),
    setDown: (value: boolean) => (down = value),
  };
}

const key = (kid: string) => ({ kty: "EC", crv: "P-256", x: "x", y: "y", kid });

describe("issuer keys", () => {
  it("fetches once, serves from cache, and refetches for an unknown kid at most once per cooldown", async () => {
    const i = issuer([{ keys: [key("a")] }, { keys: [key("a"), key("b")] }]);
    expect((await i.keys.keysFor("https://issuer.test", false)).keys).toHaveLength(1);
    await i.keys.keysFor("https://issuer.test", false);
    expect(i.requests).toHaveLength(2);
    // Within the cooldown a refresh returns the cached set without asking.
    expect((await i.keys.keysFor("https://issuer.test", true)).keys).toHaveLength(1);
    expect(i.requests).toHaveLength(2);
    i.advance(31_000);
    expect((await i.keys.keysFor("https://issuer.test", true)).keys).toHaveLength(2);
    expect(i.requests).toHaveLength(4);
  });

  it("shares one fetch among concurrent callers", async () => {
    const i = issuer([{ keys: [key("a")] }]);
    await Promise.all(Array.from({ length: 20 }, () => i.keys.keysFor("https://issuer.test", false)));
    expect(i.requests).toHaveLength(2);
  });

  it("answers IDPCommunicationError when the issuer is down, without asking again within the cooldown", async () => {
    const i = issuer([{ keys: [key("a")] }]);
    i.setDown(true);
    const first = await i.keys.keysFor("https://issuer.test", false).catch((e: unknown) => e);
    expect((first as CofferError).code).toBe("IdpCommunicationError");
    await i.keys.keysFor("https://issuer.test", true).catch(() => undefined);
    expect(i.requests).toHaveLength(1);
  });

  it("keeps using keys it has while a refetch fails, until they age out", async () => {
    const i = issuer([{ keys: [key("a")] }]);
    await i.keys.keysFor("https://issuer.test", false);
    i.setDown(true);
    i.advance(31_000);
    expect((await i.keys.keysFor("https://issuer.test", true)).keys).toHaveLength(1);
    i.advance(2 * 3600_000);
    await expect(i.keys.keysFor("https://issuer.test", false)).rejects.toMatchObject({ code: "IdpCommunicationError" });
  });

  it("fetches at most 60 key sets a minute across issuers; past that, an issuer without cached keys waits", async () => {
    const i = issuer([{ keys: [key("a")] }]);
    const outcomes = await Promise.all(
      Array.from({ length: 100 }, (_, n) => i.keys.keysFor(`https://issuer-${n}.test`, false).then(() => "ok", (e: CofferError) => e.code)),
    );
    expect(outcomes.filter((o) => o === "ok")).toHaveLength(60);
    expect(outcomes.filter((o) => o === "IdpCommunicationError")).toHaveLength(40);
    expect(new Set(i.requests.map((r) => new URL(r).host)).size).toBe(60);
    i.advance(60_000);
    expect(await i.keys.keysFor("https://issuer-99.test", false).then(() => "ok")).toBe("ok");
  });
});

describe("key sets", () => {
  it("accepts public keys and refuses private or symmetric ones, and anything else", () => {
    expect(checkKeySet({ keys: [key("a")] }, "k").keys).toHaveLength(1);
    expect(() => parseInlineKeys(JSON.stringify({ keys: [{ ...key("a"), d: "secret" }] }))).toThrow(/private key material/);
    expect(() => parseInlineKeys(JSON.stringify({ keys: [{ kty: "oct", k: "c2VjcmV0" }] }))).toThrow(/only public RSA, EC and OKP/);
    expect(() => parseInlineKeys("not json")).toThrow(CofferError);
    expect(() => parseInlineKeys(JSON.stringify({ keys: [] }))).toThrow(/1 to 100 keys/);
    expect(() => parseInlineKeys("x".repeat(70_000))).toThrow(/over 65536/);
  });
});
