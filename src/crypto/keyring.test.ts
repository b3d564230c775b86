import { randomBytes } from "node:crypto";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { KeyRecord } from "../storage/store.ts";

// Counts AES opens: a read of a hot secret is one (the value), not two (data key, then value).
vi.mock("./aead.ts", async (importOriginal) => {
  const actual = await importOriginal<typeof import("./aead.ts")>();
  return { ...actual, open: vi.fn(actual.open) };
});
const aead = await import("./aead.ts");
const { createKeyring } = await import("./keyring.ts");

const masterKey = { id: "m1", key: randomBytes(32) };

function setup(dataKeyCacheSize?: number) {
  const keys = new Map<string, KeyRecord>();
  const store = {
    getKey: async (id: string) => keys.get(id),
    getAlias: async () => undefined,
    transaction: async <T>(fn: (tx: never) => Promise<T>) => fn(undefined as never),
  };
  let now = 1_000_000;
  const keyring = createKeyring({ store, masterKey, region: "us-east-1", clock: { now: () => now }, dataKeyCacheSize });
  const key = keyring.newKey({ keyId: "k1", accountId: "000000000000", meta: { description: "", state: "Enabled", managedBy: "CUSTOMER" } });
  keys.set("k1", key);
  return { keyring, key, keys, advance: (ms: number) => (now += ms) };
}

const opens = () => vi.mocked(aead.open).mock.calls.length;

describe("keyring data key cache", () => {
  beforeEach(() => {
    vi.mocked(aead.open).mockClear();
  });

  it("opens a version's value with one AES open once its data key is cached", async () => {
    const { keyring, key } = setup();
    const envelope = keyring.seal(key, Buffer.from("v1"), "secret-a\nversion-1");
    expect((await keyring.open(envelope, "secret-a\nversion-1")).toString()).toBe("v1");
    const first = opens();
    expect((await keyring.open(envelope, "secret-a\nversion-1", key)).toString()).toBe("v1");
    expect(opens() - first).toBe(1);
  });

  it("never serves a cached data key for other wrapped bytes under the same AAD", async () => {
    const { keyring, key } = setup();
    const a = keyring.seal(key, Buffer.from("old"), "s\nv");
    const b = keyring.seal(key, Buffer.from("new"), "s\nv");
    expect((await keyring.open(a, "s\nv")).toString()).toBe("old");
    expect((await keyring.open(b, "s\nv")).toString()).toBe("new");
  });

  it("a deleted key fails even when its data key is cached", async () => {
    const { keyring, key, keys } = setup();
    const envelope = keyring.seal(key, Buffer.from("v"), "s\nv");
    await keyring.open(envelope, "s\nv");
    keys.delete("k1");
    await expect(keyring.open(envelope, "s\nv")).rejects.toMatchObject({ code: "DecryptionFailure" });
  });

  it("zero-fills a data key when it is evicted (bound) or expires (unused for 5 minutes)", async () => {
    const { keyring, key, advance } = setup(1);
    const unwrapped = () => vi.mocked(aead.open).mock.results.filter((r) => r.type === "return").map((r) => r.value as Buffer);
    const a = keyring.seal(key, Buffer.from("a"), "s\na");
    const b = keyring.seal(key, Buffer.from("b"), "s\nb");
    await keyring.open(a, "s\na");
    const dataKeyA = unwrapped()[unwrapped().length - 2];
    expect(dataKeyA.some((byte) => byte !== 0)).toBe(true);
    await keyring.open(b, "s\nb");
    expect(dataKeyA.every((byte) => byte === 0)).toBe(true);

    const dataKeyB = unwrapped()[unwrapped().length - 2];
    advance(5 * 60_000);
    expect((await keyring.open(b, "s\nb")).toString()).toBe("b");
    expect(dataKeyB.every((byte) => byte === 0)).toBe(true);
  });

  it("keeps nothing with a cache size of 0", async () => {
    const { keyring, key } = setup(0);
    const envelope = keyring.seal(key, Buffer.from("v"), "s\nv");
    await keyring.open(envelope, "s\nv");
    const dataKey = vi.mocked(aead.open).mock.results.at(-2)!.value as Buffer;
    expect(dataKey.every((byte) => byte === 0)).toBe(true);
    const before = opens();
    await keyring.open(envelope, "s\nv");
    expect(opens() - before).toBe(2);
  });
});

describe("keyring master key rotation", () => {
  it("seals under the new master key, opens under both until told to forget the old one", async () => {
    const { keyring, key, keys } = setup();
    const envelope = keyring.seal(key, Buffer.from("value"), "s\nv");
    const sealedOld = keyring.sealWithMaster(Buffer.from("access secret"), "ak");
    const next = { id: "m2", key: randomBytes(32) };
    keyring.useMasterKey(next);
    expect(keyring.masterKeyIds()).toEqual({ current: "m2", known: ["m1", "m2"] });
    const moved = keyring.resealKey(key);
    expect(moved.masterKeyId).toBe("m2");
    expect(moved.sealedMaterial.equals(key.sealedMaterial)).toBe(false);
    expect(keyring.resealKey(moved)).toBe(moved);
    const resealed = keyring.resealWithMaster(sealedOld.masterKeyId, sealedOld.sealed, "ak");
    expect(resealed.masterKeyId).toBe("m2");
    expect(keyring.openWithMaster(sealedOld.masterKeyId, sealedOld.sealed, "ak").toString()).toBe("access secret");
    keyring.forgetMasterKeys();
    expect(keyring.masterKeyIds()).toEqual({ current: "m2", known: ["m2"] });
    expect(() => keyring.openWithMaster(sealedOld.masterKeyId, sealedOld.sealed, "ak")).toThrow(/sealed under master key m1/);
    expect(keyring.openWithMaster("m2", resealed.sealed, "ak").toString()).toBe("access secret");
    // The same AAD binds the re-wrapped item to its place.
    expect(() => keyring.openWithMaster("m2", resealed.sealed, "another")).toThrow();
    // A value sealed before is untouched and opens through the re-wrapped material (a fresh keyring, no cache).
    keys.set("k1", moved);
    const fresh = createKeyring({ store: { getKey: async (id: string) => keys.get(id), getAlias: async () => undefined, transaction: async () => undefined as never }, masterKey: next, region: "us-east-1", clock: { now: () => 0 } });
    expect((await fresh.open(envelope, "s\nv")).toString()).toBe("value");
  });
});
