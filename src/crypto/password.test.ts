import { describe, expect, it } from "vitest";
import { CofferError } from "../shared/errors.ts";
import { DIGITS, LOWERCASE, PUNCTUATION, UPPERCASE, randomPassword, type PasswordOptions } from "./password.ts";

const has = (s: string, chars: string): boolean => [...s].some((c) => chars.includes(c));
const only = (s: string, chars: string): boolean => [...s].every((c) => chars.includes(c));
const ALL = LOWERCASE + UPPERCASE + DIGITS + PUNCTUATION;

function expectInvalid(options: PasswordOptions, pattern?: RegExp): void {
  try {
    randomPassword(options);
  } catch (err) {
    expect(err).toBeInstanceOf(CofferError);
    expect((err as CofferError).code).toBe("InvalidParameter");
    if (pattern) expect((err as CofferError).message).toMatch(pattern);
    return;
  }
  throw new Error(`expected InvalidParameter for ${JSON.stringify(options)}`);
}

describe("character classes", () => {
  it("are exactly the documented sets", () => {
    expect(LOWERCASE).toBe("abcdefghijklmnopqrstuvwxyz");
    expect(UPPERCASE).toBe("ABCDEFGHIJKLMNOPQRSTUVWXYZ");
    expect(DIGITS).toBe("0123456789");
    expect(PUNCTUATION).toBe("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~");
    expect(PUNCTUATION.length).toBe(32);
    expect(new Set(PUNCTUATION).size).toBe(32);
    // the 32 printable ASCII characters that are neither alphanumeric nor space
    const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join("");
    expect([...printable].filter((c) => !/[A-Za-z0-9 ]/.test(c)).join("")).toBe(PUNCTUATION);
  });
});

describe("randomPassword", () => {
  it("defaults: 32 characters with every one of the four classes, no space", () => {
    for (let i = 0; i < 200; i++) {
      const p = randomPassword();
      expect(p.length).toBe(32);
      expect(has(p, LOWERCASE)).toBe(true);
      expect(has(p, UPPERCASE)).toBe(true);
      expect(has(p, DIGITS)).toBe(true);
      expect(has(p, PUNCTUATION)).toBe(true);
      expect(only(p, ALL)).toBe(true);
    }
  });

  it("honours each exclude flag alone", () => {
    const flags: Array<[keyof PasswordOptions, string]> = [
      ["excludeLowercase", LOWERCASE],
      ["excludeUppercase", UPPERCASE],
      ["excludeNumbers", DIGITS],
      ["excludePunctuation", PUNCTUATION],
    ];
    for (const [flag, removed] of flags) {
      const rest = flags.filter(([f]) => f !== flag).map(([, chars]) => chars);
      for (let i = 0; i < 200; i++) {
        const p = randomPassword({ [flag]: true });
        expect(p.length).toBe(32);
        expect(has(p, removed)).toBe(false);
        for (const chars of rest) expect(has(p, chars)).toBe(true);
      }
    }
  });

  it("honours combined exclude flags", () => {
    for (let i = 0; i < 200; i++) {
      const p = randomPassword({ excludeLowercase: true, excludeUppercase: true, excludePunctuation: true, length: 20 });
      expect(p).toMatch(/^[0-9]{20}$/);
      const q = randomPassword({ excludeNumbers: true, excludePunctuation: true });
      expect(q).toMatch(/^[A-Za-z]{32}$/);
      expect(has(q, LOWERCASE) && has(q, UPPERCASE)).toBe(true);
      const r = randomPassword({ excludeLowercase: true, excludeUppercase: true, excludeNumbers: true, length: 8 });
      expect(only(r, PUNCTUATION)).toBe(true);
    }
  });

  it("never uses excluded characters (200 iterations)", () => {
    const excludeCharacters = "abcdefghijklmnopqrstuvwxyABCDEFGHIJKLMNOPQRSTUVWXY012345678!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}";
    for (let i = 0; i < 200; i++) {
      const p = randomPassword({ excludeCharacters, includeSpace: true, length: 64 });
      for (const c of p) expect(excludeCharacters.includes(c)).toBe(false);
      // what's left is z, Z, 9, ~ and space, and each is required
      expect(only(p, "zZ9~ ")).toBe(true);
      for (const c of "zZ9~ ") expect(p.includes(c)).toBe(true);
    }
    for (let i = 0; i < 200; i++) {
      const p = randomPassword({ excludeCharacters: "0OoIl1|`'\"\\" });
      for (const c of "0OoIl1|`'\"\\") expect(p.includes(c)).toBe(false);
    }
  });

  it("skips the requirement for a class that excludeCharacters empties", () => {
    for (let i = 0; i < 100; i++) {
      const p = randomPassword({ excludeCharacters: DIGITS, length: 3 });
      expect(has(p, DIGITS)).toBe(false);
      expect(has(p, LOWERCASE) && has(p, UPPERCASE) && has(p, PUNCTUATION)).toBe(true);
    }
  });

  it("includes space when asked, and never otherwise", () => {
    let withSpace = 0;
    for (let i = 0; i < 200; i++) {
      const p = randomPassword({ includeSpace: true });
      expect(p.length).toBe(32);
      if (p.includes(" ")) withSpace++;
      expect(only(p, ALL + " ")).toBe(true);
      expect(randomPassword().includes(" ")).toBe(false);
    }
    expect(withSpace).toBe(200); // required as its own class
    expect(randomPassword({ includeSpace: true, excludeCharacters: " " }).includes(" ")).toBe(false);
    expect(
      randomPassword({ includeSpace: true, excludeLowercase: true, excludeUppercase: true, excludeNumbers: true, excludePunctuation: true, length: 5 }),
    ).toBe("     ");
  });

  it("length 1 works with requireEachIncludedType false", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const p = randomPassword({ length: 1, requireEachIncludedType: false });
      expect(p.length).toBe(1);
      expect(only(p, ALL)).toBe(true);
      seen.add(p);
    }
    expect(seen.size).toBeGreaterThan(20);
    expect(randomPassword({ length: 1, excludeLowercase: true, excludeUppercase: true, excludePunctuation: true })).toMatch(/^[0-9]$/);
  });

  it("generates the maximum length 4096", () => {
    const p = randomPassword({ length: 4096 });
    expect(p.length).toBe(4096);
    expect(only(p, ALL)).toBe(true);
  });

  it("requireEachIncludedType false does not force classes", () => {
    // 4 free draws from 94 characters cover all four classes with probability
    // 4! * 26*26*10*32 / 94^4 ≈ 0.067, so ~187 of 200 miss a class (sd ≈ 3.5);
    // with the requirement on, none may.
    let missing = 0;
    for (let i = 0; i < 200; i++) {
      const p = randomPassword({ length: 4, requireEachIncludedType: false });
      expect(p.length).toBe(4);
      if (!(has(p, LOWERCASE) && has(p, UPPERCASE) && has(p, DIGITS) && has(p, PUNCTUATION))) missing++;
    }
    expect(missing).toBeGreaterThan(100);
  });

  it("requireEachIncludedType with length equal to the number of classes gives one of each, in random order", () => {
    const firstClass = new Set<string>();
    for (let i = 0; i < 400; i++) {
      const p = randomPassword({ length: 4 });
      expect(has(p, LOWERCASE) && has(p, UPPERCASE) && has(p, DIGITS) && has(p, PUNCTUATION)).toBe(true);
      const c = p[0];
      firstClass.add(LOWERCASE.includes(c) ? "l" : UPPERCASE.includes(c) ? "u" : DIGITS.includes(c) ? "d" : "p");
    }
    // each class is first with probability 1/4; missing one in 400 tries has probability < 4 * 0.75^400 ≈ 1e-49
    expect(firstClass.size).toBe(4);
  });

  it("rejects lengths out of range", () => {
    for (const length of [0, -1, 4097, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) expectInvalid({ length }, /length/);
  });

  it("rejects excluding everything", () => {
    const all = { excludeLowercase: true, excludeUppercase: true, excludeNumbers: true, excludePunctuation: true };
    expectInvalid(all, /every character type was excluded/);
    expectInvalid({ ...all, includeSpace: true, excludeCharacters: " " }, /every character type was excluded/);
    expectInvalid({ excludeCharacters: ALL }, /every character type was excluded/);
    expectInvalid({ excludeCharacters: ALL, requireEachIncludedType: false }, /every character type was excluded/);
  });

  it("rejects requireEachIncludedType when the length is below the number of required classes", () => {
    expectInvalid({ length: 3 }, /at least 4/);
    expectInvalid({ length: 4, includeSpace: true }, /at least 5/);
    expectInvalid({ length: 1, excludeNumbers: true, excludePunctuation: true }, /at least 2/);
    expect(randomPassword({ length: 5, includeSpace: true }).length).toBe(5);
    expect(randomPassword({ length: 3, requireEachIncludedType: false }).length).toBe(3);
  });

  it("draws uniformly (digits only, 20,000 draws)", () => {
    // Each digit count is Binomial(20000, 0.1): mean 2000, sd = sqrt(20000*0.1*0.9) ≈ 42.4.
    // The window [1500, 2500] is ±500 ≈ 11.8 sd; P(any of 10 digits outside) < 1e-30.
    const counts = new Map<string, number>();
    for (let i = 0; i < 5; i++) {
      const p = randomPassword({ length: 4000, excludeLowercase: true, excludeUppercase: true, excludePunctuation: true, requireEachIncludedType: false });
      for (const c of p) counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    expect([...counts.keys()].sort().join("")).toBe(DIGITS);
    for (const d of DIGITS) {
      expect(counts.get(d)).toBeGreaterThanOrEqual(1500);
      expect(counts.get(d)).toBeLessThanOrEqual(2500);
    }
  });
});
