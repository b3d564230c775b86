import type { GetSecretValueCommand, GetSecretValueCommandInput, GetSecretValueCommandOutput } from "@aws-sdk/client-secrets-manager";
import { describe, expect, it } from "vitest";
import { isAuthError } from "./auth-errors.ts";
import { isTransientError } from "./refreshing-cache.ts";
import { SecretCache, type SecretsManagerSender } from "./secret-cache.ts";

/** A Secrets Manager that counts its calls, can be held (gate) and can fail. */
class FakeSecrets implements SecretsManagerSender {
  calls: GetSecretValueCommandInput[] = [];
  values = new Map<string, string>();
  version = 1;
  failWith?: unknown;
  private release?: () => void;
  private gate?: Promise<void>;

  hold(): void {
    this.gate = new Promise((resolve) => (this.release = resolve));
  }
  open(): void {
    this.release?.();
    this.gate = undefined;
  }
  async send(command: GetSecretValueCommand): Promise<GetSecretValueCommandOutput> {
    const input = command.input;
    this.calls.push(input);
    await this.gate;
    if (this.failWith !== undefined) throw this.failWith;
    const id = input.SecretId!;
    const value = this.values.get(id);
    if (value === undefined) throw notFound();
    return {
      $metadata: { httpStatusCode: 200 },
      ARN: `arn:aws:secretsmanager:us-east-1:000000000000:secret:${id}-AbCdEf`,
      Name: id,
      VersionId: input.VersionId ?? `v${this.version}`,
      SecretString: `${value}|${input.VersionStage ?? ""}|${input.VersionId ?? ""}`,
      VersionStages: [input.VersionStage ?? "AWSCURRENT"],
      CreatedDate: new Date(0),
    };
  }
}

const serverFault = () => Object.assign(new Error("Service unavailable"), { name: "InternalServiceError", $fault: "server", $metadata: { httpStatusCode: 503 } });
const notFound = () =>
  Object.assign(new Error("Secrets Manager can't find the specified secret."), {
    name: "ResourceNotFoundException",
    $fault: "client",
    $metadata: { httpStatusCode: 400 },
  });
const flush = () => new Promise((resolve) => setImmediate(resolve));

function setup(options: { ttlMs?: number; refreshAheadMs?: number; maxStaleMs?: number; maxEntries?: number } = {}) {
  const clock = { t: 1_000_000, now() { return this.t; } };
  const fake = new FakeSecrets();
  fake.values.set("db", "one");
  const cache = new SecretCache({ client: fake, clock, ttlMs: 1000, refreshAheadMs: 0, ...options });
  return { clock, fake, cache };
}

describe("SecretCache", () => {
  it("serves from the cache until the TTL passes, then fetches again", async () => {
    const { clock, fake, cache } = setup();
    expect(cache.peekSecretString("db")).toBeUndefined();
    expect(await cache.getSecretString("db")).toBe("one|AWSCURRENT|");
    clock.t += 999;
    expect(await cache.getSecretString("db")).toBe("one|AWSCURRENT|");
    expect(cache.peekSecretString("db")).toBe("one|AWSCURRENT|");
    expect(fake.calls).toHaveLength(1);
    fake.values.set("db", "two");
    clock.t += 1;
    expect(cache.peekSecretString("db")).toBeUndefined();
    expect(await cache.getSecretString("db")).toBe("two|AWSCURRENT|");
    expect(fake.calls).toHaveLength(2);
    expect(fake.calls[0]).toEqual({ SecretId: "db", VersionStage: "AWSCURRENT", VersionId: undefined });
  });

  it("uses the defaults of AWS's caching libraries: one hour, AWSCURRENT", async () => {
    const clock = { t: 0, now() { return this.t; } };
    const fake = new FakeSecrets();
    fake.values.set("db", "one");
    const cache = new SecretCache({ client: fake, clock });
    await cache.getSecretString("db");
    clock.t = 3_600_000 - 1;
    await cache.getSecretString("db");
    await flush();
    // 10% refresh-ahead: read at 59:59 started one background fetch.
    expect(fake.calls).toHaveLength(2);
    clock.t = 2 * 3_600_000;
    await cache.getSecretString("db");
    expect(fake.calls).toHaveLength(3);
  });

  it("refreshes ahead of expiry in the background, answering from the cache meanwhile", async () => {
    const { clock, fake, cache } = setup({ refreshAheadMs: 100 });
    await cache.getSecretString("db");
    fake.values.set("db", "two");
    clock.t += 899;
    expect(cache.peekSecretString("db")).toBe("one|AWSCURRENT|");
    expect(fake.calls).toHaveLength(1);
    clock.t += 1;
    fake.hold();
    expect(cache.peekSecretString("db")).toBe("one|AWSCURRENT|");
    expect(await cache.getSecretString("db")).toBe("one|AWSCURRENT|");
    expect(fake.calls).toHaveLength(2); // one background fetch, however many reads
    fake.open();
    await flush();
    expect(cache.peekSecretString("db")).toBe("two|AWSCURRENT|");
    clock.t += 999; // the TTL restarted at the refresh
    expect(cache.peekSecretString("db")).toBe("two|AWSCURRENT|");
  });

  it("shares one fetch among concurrent misses", async () => {
    const { fake, cache } = setup();
    fake.hold();
    const reads = Array.from({ length: 50 }, () => cache.getSecretString("db"));
    reads.push(cache.getSecretJson<string>("db").catch(() => "not json"));
    await flush();
    expect(fake.calls).toHaveLength(1);
    fake.open();
    const values = await Promise.all(reads);
    expect(new Set(values.slice(0, 50))).toEqual(new Set(["one|AWSCURRENT|"]));
    expect(fake.calls).toHaveLength(1);
  });

  it("shares a failed fetch too, and does not cache the failure", async () => {
    const { fake, cache } = setup();
    fake.hold();
    fake.failWith = notFound();
    const reads = [cache.getSecretString("db"), cache.getSecretString("db")];
    fake.open();
    for (const r of reads) await expect(r).rejects.toMatchObject({ name: "ResourceNotFoundException" });
    expect(fake.calls).toHaveLength(1);
    fake.failWith = undefined;
    expect(await cache.getSecretString("db")).toBe("one|AWSCURRENT|");
  });

  it("evicts the least recently used entry past maxEntries", async () => {
    const { fake, cache } = setup({ maxEntries: 2, ttlMs: 60_000 });
    for (const id of ["a", "b", "c"]) fake.values.set(id, id);
    await cache.getSecretString("a");
    await cache.getSecretString("b");
    expect(cache.peekSecretString("a")).toBe("a|AWSCURRENT|"); // a is now more recent than b
    await cache.getSecretString("c");
    expect(fake.calls).toHaveLength(3);
    expect(cache.peekSecretString("b")).toBeUndefined();
    expect(cache.peekSecretString("a")).toBeDefined();
    expect(cache.peekSecretString("c")).toBeDefined();
    await cache.getSecretString("b");
    expect(fake.calls).toHaveLength(4);
    expect(cache.peekSecretString("a")).toBeUndefined(); // c was used after a
  });

  it("serves a stale value while refreshes fail transiently, bounded by maxStaleMs, with back-off", async () => {
    const { clock, fake, cache } = setup({ maxStaleMs: 10_000 });
    await cache.getSecretString("db");
    fake.failWith = serverFault();
    clock.t += 1000;
    expect(await cache.getSecretString("db")).toBe("one|AWSCURRENT|");
    expect(fake.calls).toHaveLength(2);
    // Backing off: 1 s after the first failure, 2 s after the second.
    clock.t += 500;
    expect(await cache.getSecretString("db")).toBe("one|AWSCURRENT|");
    expect(fake.calls).toHaveLength(2);
    clock.t += 500;
    expect(await cache.getSecretString("db")).toBe("one|AWSCURRENT|");
    expect(fake.calls).toHaveLength(3);
    clock.t += 1999;
    await cache.getSecretString("db");
    expect(fake.calls).toHaveLength(3);
    // Past the bound: the error reaches the caller.
    clock.t = 1_000_000 + 1000 + 10_001;
    await expect(cache.getSecretString("db")).rejects.toMatchObject({ name: "InternalServiceError" });
    // Recovery resets everything.
    fake.failWith = undefined;
    fake.values.set("db", "two");
    expect(await cache.getSecretString("db")).toBe("two|AWSCURRENT|");
  });

  it("does not paper over a definitive error: a deleted secret is evicted, not served stale", async () => {
    const { clock, fake, cache } = setup({ maxStaleMs: 10_000 });
    await cache.getSecretString("db");
    fake.failWith = notFound();
    clock.t += 1000;
    await expect(cache.getSecretString("db")).rejects.toMatchObject({ name: "ResourceNotFoundException" });
    await expect(cache.getSecretString("db")).rejects.toMatchObject({ name: "ResourceNotFoundException" });
    expect(fake.calls).toHaveLength(3);
  });

  it("serves no stale value when maxStaleMs is 0", async () => {
    const { clock, fake, cache } = setup({ maxStaleMs: 0 });
    await cache.getSecretString("db");
    fake.failWith = serverFault();
    clock.t += 1000;
    await expect(cache.getSecretString("db")).rejects.toMatchObject({ name: "InternalServiceError" });
  });

  it("keys by version stage and version id", async () => {
    const { fake, cache } = setup();
    expect(await cache.getSecretString("db")).toBe("one|AWSCURRENT|");
    expect(await cache.getSecretString("db", { versionStage: "AWSCURRENT" })).toBe("one|AWSCURRENT|");
    expect(await cache.getSecretString("db", { versionStage: "AWSPREVIOUS" })).toBe("one|AWSPREVIOUS|");
    expect(await cache.getSecretString("db", { versionId: "v7" })).toBe("one||v7");
    expect(await cache.getSecretString("db", { versionId: "v7", versionStage: "AWSPENDING" })).toBe("one|AWSPENDING|v7");
    expect(cache.peekSecretString("db", { versionStage: "AWSPREVIOUS" })).toBe("one|AWSPREVIOUS|");
    expect(fake.calls).toEqual([
      { SecretId: "db", VersionStage: "AWSCURRENT", VersionId: undefined },
      { SecretId: "db", VersionStage: "AWSPREVIOUS", VersionId: undefined },
      { SecretId: "db", VersionStage: undefined, VersionId: "v7" },
      { SecretId: "db", VersionStage: "AWSPENDING", VersionId: "v7" },
    ]);
    await cache.getSecretString("db", { versionId: "v7" });
    expect(fake.calls).toHaveLength(4);
  });

  it("uses the configured default stage", async () => {
    const fake = new FakeSecrets();
    fake.values.set("db", "one");
    const cache = new SecretCache({ client: fake, versionStage: "AWSPENDING" });
    expect(await cache.getSecretString("db")).toBe("one|AWSPENDING|");
  });

  it("invalidates one secret (all its stages) or everything", async () => {
    const { fake, cache } = setup({ ttlMs: 60_000 });
    fake.values.set("other", "x");
    await cache.getSecretString("db");
    await cache.getSecretString("db", { versionStage: "AWSPREVIOUS" });
    await cache.getSecretString("other");
    cache.invalidate("db");
    expect(cache.peekSecretString("db")).toBeUndefined();
    expect(cache.peekSecretString("db", { versionStage: "AWSPREVIOUS" })).toBeUndefined();
    expect(cache.peekSecretString("other")).toBe("x|AWSCURRENT|");
    cache.invalidate();
    expect(cache.peekSecretString("other")).toBeUndefined();
  });

  it("drops the result of a fetch that was under way when invalidated", async () => {
    const { fake, cache } = setup({ ttlMs: 60_000 });
    fake.hold();
    const read = cache.getSecretString("db");
    cache.invalidate("db");
    fake.open();
    expect(await read).toBe("one|AWSCURRENT|");
    expect(cache.peekSecretString("db")).toBeUndefined();
  });

  it("refresh() bypasses the cache; concurrent refreshes share one fetch", async () => {
    const { fake, cache } = setup({ ttlMs: 60_000 });
    await cache.getSecretString("db");
    fake.values.set("db", "two");
    fake.hold();
    const a = cache.refresh("db");
    const b = cache.refresh("db");
    fake.open();
    expect((await a).SecretString).toBe("two|AWSCURRENT|");
    expect(await b).toBe(await a);
    expect(fake.calls).toHaveLength(2);
    expect(cache.peekSecretString("db")).toBe("two|AWSCURRENT|");
  });

  it("parses JSON once, freezes it, and never quotes the value in a parse error", async () => {
    const { fake, cache } = setup();
    fake.values.set("json", "unused");
    const json = new SecretCache({
      client: { send: async () => ({ $metadata: {}, Name: "j", VersionId: "v1", SecretString: '{"password":"hunter2","nested":{"a":1}}' }) },
    });
    const a = await json.getSecretJson<{ password: string; nested: { a: number } }>("j");
    expect(a.password).toBe("hunter2");
    expect(await json.getSecretJson("j")).toBe(a);
    expect(Object.isFrozen(a.nested)).toBe(true);
    fake.values.set("bad", "hunter2-not-json");
    const err = await cache.getSecretJson("bad").catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe("Secret bad is not valid JSON.");
    expect((err as Error).message).not.toContain("hunter2");
  });

  it("returns binaries as copies and says when a secret holds the other kind", async () => {
    const bytes = new Uint8Array([1, 2, 3]);
    const cache = new SecretCache({ client: { send: async () => ({ $metadata: {}, Name: "b", VersionId: "v1", SecretBinary: bytes }) } });
    const got = await cache.getSecretBinary("b");
    expect([...got]).toEqual([1, 2, 3]);
    got[0] = 9;
    expect([...(await cache.getSecretBinary("b"))]).toEqual([1, 2, 3]);
    await expect(cache.getSecretString("b")).rejects.toThrow("Secret b has no SecretString");
    expect(cache.peekSecretString("b")).toBeUndefined();
    const { cache: strings } = setup();
    await expect(strings.getSecretBinary("db")).rejects.toThrow("Secret db has no SecretBinary");
  });

  it("returns the whole GetSecretValue result, frozen", async () => {
    const { cache } = setup();
    const v = await cache.getSecretValue("db");
    expect(v).toMatchObject({ Name: "db", VersionId: "v1", VersionStages: ["AWSCURRENT"], CreatedDate: new Date(0) });
    expect(Object.isFrozen(v)).toBe(true);
    expect("$metadata" in v).toBe(false);
  });
});

describe("withSecret", () => {
  const authError = () => Object.assign(new Error('password authentication failed for user "app"'), { code: "28P01" });

  it("re-fetches once and retries when fn fails with an authentication error", async () => {
    const { fake, cache } = setup({ ttlMs: 60_000 });
    await cache.getSecretString("db");
    fake.values.set("db", "two");
    fake.version = 2;
    const seen: string[] = [];
    const result = await cache.withSecret("db", async (value) => {
      seen.push(value);
      if (value.startsWith("one")) throw authError();
      return "connected";
    });
    expect(result).toBe("connected");
    expect(seen).toEqual(["one|AWSCURRENT|", "two|AWSCURRENT|"]);
    expect(fake.calls).toHaveLength(2);
    expect(cache.peekSecretString("db")).toBe("two|AWSCURRENT|");
  });

  it("retries only once, and not at all for other errors", async () => {
    const { fake, cache } = setup({ ttlMs: 60_000 });
    let calls = 0;
    await expect(
      cache.withSecret("db", () => {
        calls++;
        throw authError();
      }),
    ).rejects.toMatchObject({ code: "28P01" });
    expect(calls).toBe(2);
    calls = 0;
    await expect(
      cache.withSecret("db", () => {
        calls++;
        throw new Error("ECONNREFUSED");
      }),
    ).rejects.toThrow("ECONNREFUSED");
    expect(calls).toBe(1);
    expect(fake.calls).toHaveLength(2);
  });

  it("takes a custom predicate, and a JSON variant", async () => {
    const cache = new SecretCache({
      client: { send: async () => ({ $metadata: {}, Name: "j", VersionId: "v1", SecretString: '{"user":"app"}' }) },
    });
    let calls = 0;
    const out = await cache.withSecretJson<{ user: string }, string>(
      "j",
      (s) => {
        if (calls++ === 0) throw new Error("E_BAD_LOGIN");
        return s.user;
      },
      { isAuthError: (e) => e instanceof Error && e.message === "E_BAD_LOGIN" },
    );
    expect(out).toBe("app");
    expect(calls).toBe(2);
  });

  it("concurrent failures share one re-fetch", async () => {
    const { fake, cache } = setup({ ttlMs: 60_000 });
    await cache.getSecretString("db");
    fake.values.set("db", "two");
    fake.version = 2;
    fake.hold();
    const runs = Array.from({ length: 10 }, () =>
      cache.withSecret("db", (v) => {
        if (v.startsWith("one")) throw authError();
        return v;
      }),
    );
    await flush();
    fake.open();
    expect(new Set(await Promise.all(runs))).toEqual(new Set(["two|AWSCURRENT|"]));
    expect(fake.calls).toHaveLength(2);
  });
});

describe("error classification", () => {
  it("recognises common authentication failures", () => {
    expect(isAuthError(Object.assign(new Error("x"), { code: "28P01" }))).toBe(true);
    expect(isAuthError(Object.assign(new Error("x"), { code: "ER_ACCESS_DENIED_ERROR", errno: 1045 }))).toBe(true);
    expect(isAuthError({ status: 401 })).toBe(true);
    expect(isAuthError({ statusCode: 403 })).toBe(true);
    expect(isAuthError({ response: { status: 401 } })).toBe(true);
    expect(isAuthError(new Error("SASL: SCRAM authentication failed"))).toBe(true);
    expect(isAuthError(new Error("Access denied for user 'app'@'localhost' (using password: YES)"))).toBe(true);
    expect(isAuthError(new Error("connection refused"))).toBe(false);
    expect(isAuthError({ status: 500 })).toBe(false);
    expect(isAuthError("28P01")).toBe(false);
  });

  it("tells transient SDK errors from definitive ones", () => {
    expect(isTransientError(serverFault())).toBe(true);
    expect(isTransientError(Object.assign(new Error("slow down"), { name: "ThrottlingException", $fault: "client", $metadata: { httpStatusCode: 400 } }))).toBe(true);
    expect(isTransientError(Object.assign(new Error("refused"), { code: "ECONNREFUSED", $metadata: { attempts: 3 } }))).toBe(true);
    expect(isTransientError(notFound())).toBe(false);
    expect(isTransientError(Object.assign(new Error("no"), { name: "AccessDeniedException", $fault: "client", $metadata: { httpStatusCode: 400 } }))).toBe(false);
  });
});
