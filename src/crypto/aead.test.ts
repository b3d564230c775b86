import { createCipheriv, createDecipheriv } from "node:crypto";
import { describe, expect, it } from "vitest";
import { CofferError } from "../shared/errors.ts";
import { FORMAT_VERSION, IV_LENGTH, OVERHEAD, TAG_LENGTH, open, randomKey, seal } from "./aead.ts";

function expectDecryptionFailure(fn: () => unknown): CofferError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CofferError);
    expect((err as CofferError).code).toBe("DecryptionFailure");
    return err as CofferError;
  }
  throw new Error("expected DecryptionFailure");
}

describe("seal/open", () => {
  const key = randomKey();

  it("round-trips with string and Buffer AAD", () => {
    const pt = Buffer.from("the quick brown fox");
    expect(open(key, seal(key, pt, "secret-1/v1"), "secret-1/v1")).toEqual(pt);
    const aad = Buffer.from([0, 1, 2, 255]);
    expect(open(key, seal(key, pt, aad), aad)).toEqual(pt);
    // a string AAD is its UTF-8 bytes
    expect(open(key, seal(key, pt, "ü"), Buffer.from("ü", "utf8"))).toEqual(pt);
  });

  it("round-trips a large binary plaintext", () => {
    const pt = Buffer.alloc(70_000);
    for (let i = 0; i < pt.length; i++) pt[i] = (i * 31) & 0xff;
    expect(open(key, seal(key, pt, ""), "")).toEqual(pt);
  });

  it("has the documented layout: version | 12-byte IV | 16-byte tag | ciphertext", () => {
    const pt = Buffer.from("hello");
    const sealed = seal(key, pt, "ctx");
    expect(sealed.length).toBe(1 + 12 + 16 + pt.length);
    expect(OVERHEAD).toBe(29);
    expect(sealed[0]).toBe(FORMAT_VERSION);
    expect(FORMAT_VERSION).toBe(1);
    // decrypt the pieces independently with node:crypto
    const iv = sealed.subarray(1, 1 + IV_LENGTH);
    const tag = sealed.subarray(1 + IV_LENGTH, 1 + IV_LENGTH + TAG_LENGTH);
    const d = createDecipheriv("aes-256-gcm", key, iv);
    d.setAAD(Buffer.from("ctx"));
    d.setAuthTag(tag);
    expect(Buffer.concat([d.update(sealed.subarray(OVERHEAD)), d.final()])).toEqual(pt);
  });

  it("works for an empty plaintext", () => {
    const sealed = seal(key, Buffer.alloc(0), "empty");
    expect(sealed.length).toBe(OVERHEAD);
    expect(open(key, sealed, "empty")).toEqual(Buffer.alloc(0));
    expectDecryptionFailure(() => open(key, sealed, "other"));
  });

  it("fails when any single byte of the sealed buffer is changed", () => {
    const pt = Buffer.from("small msg");
    const sealed = seal(key, pt, "aad");
    for (let i = 0; i < sealed.length; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const tampered = Buffer.from(sealed);
        tampered[i] ^= mask;
        expectDecryptionFailure(() => open(key, tampered, "aad"));
      }
    }
    // the original still opens
    expect(open(key, sealed, "aad")).toEqual(pt);
  });

  it("fails on truncation and extension", () => {
    const sealed = seal(key, Buffer.from("abc"), "aad");
    for (let n = 0; n < sealed.length; n++) expectDecryptionFailure(() => open(key, sealed.subarray(0, n), "aad"));
    expectDecryptionFailure(() => open(key, Buffer.concat([sealed, Buffer.from([0])]), "aad"));
  });

  it("fails with the wrong AAD", () => {
    const sealed = seal(key, Buffer.from("data"), "secret-1/v1");
    expectDecryptionFailure(() => open(key, sealed, "secret-1/v2"));
    expectDecryptionFailure(() => open(key, sealed, ""));
    expectDecryptionFailure(() => open(key, sealed, Buffer.from("secret-1/v1 ")));
  });

  it("fails with the wrong key", () => {
    const sealed = seal(key, Buffer.from("data"), "aad");
    expectDecryptionFailure(() => open(randomKey(), sealed, "aad"));
    const nearly = Buffer.from(key);
    nearly[31] ^= 1;
    expectDecryptionFailure(() => open(nearly, sealed, "aad"));
  });

  it("fails on an unknown format version even if the rest is authentic", () => {
    const sealed = seal(key, Buffer.from("data"), "aad");
    for (const v of [0, 2, 255]) {
      const other = Buffer.from(sealed);
      other[0] = v;
      expectDecryptionFailure(() => open(key, other, "aad"));
    }
  });

  it("uses a fresh IV on every call", () => {
    const pt = Buffer.from("same plaintext");
    const ivs = new Set<string>();
    const cts = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const s = seal(key, pt, "aad");
      ivs.add(s.subarray(1, 1 + IV_LENGTH).toString("hex"));
      cts.add(s.subarray(OVERHEAD).toString("hex"));
    }
    expect(ivs.size).toBe(1000);
    expect(cts.size).toBe(1000);
  });

  it("rejects keys that are not 32 bytes", () => {
    for (const n of [0, 16, 24, 31, 33, 64]) {
      const bad = Buffer.alloc(n, 7);
      expect(() => seal(bad, Buffer.from("x"), "")).toThrow(CofferError);
      try {
        seal(bad, Buffer.from("x"), "");
      } catch (err) {
        expect((err as CofferError).code).toBe("EncryptionFailure");
      }
      expectDecryptionFailure(() => open(bad, seal(key, Buffer.from("x"), ""), ""));
    }
  });

  it("never puts data, AAD or key bytes in the error message", () => {
    const pt = Buffer.from("TOP-SECRET-PLAINTEXT");
    const sealed = seal(key, pt, "AAD-MARKER");
    const err = expectDecryptionFailure(() => open(randomKey(), sealed, "AAD-MARKER-WRONG"));
    expect(err.message).not.toMatch(/TOP-SECRET|AAD-MARKER/);
    expect(err.message).not.toContain(sealed.toString("hex").slice(0, 8));
    expect(err.message).not.toContain(key.toString("hex").slice(0, 8));
    expect(err.message).not.toContain(key.toString("base64").slice(0, 8));
  });

  it("randomKey returns 32 distinct random bytes", () => {
    const a = randomKey();
    const b = randomKey();
    expect(a.length).toBe(32);
    expect(b.length).toBe(32);
    expect(a.equals(b)).toBe(false);
  });
});

/**
 * AES-256 test cases 13–16 from McGrew & Viega, "The Galois/Counter Mode of
 * Operation (GCM)" (revised submission to NIST), Appendix B. These prove the
 * primitive used by seal/open is AES-256-GCM with a 96-bit IV.
 */
describe("AES-256-GCM published test vectors (GCM spec test cases 13-16)", () => {
  const K0 = "00".repeat(32);
  const IV0 = "00".repeat(12);
  const K = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
  const IV = "cafebabefacedbaddecaf888";
  const P =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" +
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
  const C15 =
    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa" +
    "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad";
  const cases = [
    { n: 13, k: K0, iv: IV0, p: "", a: "", c: "", t: "530f8afbc74536b9a963b4f1c4cb738b" },
    { n: 14, k: K0, iv: IV0, p: "00".repeat(16), a: "", c: "cea7403d4d606b6e074ec5d3baf39d18", t: "d0d1c8a799996bf0265b98b5d48ab919" },
    { n: 15, k: K, iv: IV, p: P, a: "", c: C15, t: "b094dac5d93471bdec1a502270e3cc6c" },
    {
      n: 16,
      k: K,
      iv: IV,
      p: P.slice(0, 120),
      a: "feedfacedeadbeeffeedfacedeadbeefabaddad2",
      c: C15.slice(0, 120),
      t: "76fc6ece0f4e1768cddf8853bb2d551b",
    },
  ];

  for (const tc of cases) {
    it(`test case ${tc.n}: node:crypto aes-256-gcm produces the published C and T`, () => {
      const cipher = createCipheriv("aes-256-gcm", Buffer.from(tc.k, "hex"), Buffer.from(tc.iv, "hex"));
      cipher.setAAD(Buffer.from(tc.a, "hex"));
      const c = Buffer.concat([cipher.update(Buffer.from(tc.p, "hex")), cipher.final()]);
      expect(c.toString("hex")).toBe(tc.c);
      expect(cipher.getAuthTag().toString("hex")).toBe(tc.t);
    });

    it(`test case ${tc.n}: open() accepts the published vector in Coffer's format`, () => {
      const sealed = Buffer.concat([Buffer.from([FORMAT_VERSION]), Buffer.from(tc.iv, "hex"), Buffer.from(tc.t, "hex"), Buffer.from(tc.c, "hex")]);
      expect(open(Buffer.from(tc.k, "hex"), sealed, Buffer.from(tc.a, "hex")).toString("hex")).toBe(tc.p);
    });
  }
});
