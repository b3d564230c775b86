import { describe, expect, it } from "vitest";
import { BoundedCache, compileTemplate, matchAction, matchArn, matchLike, resolveText, splitArn } from "./policy-match.ts";

const none = new Map<string, string | string[]>();
const ctx = (o: Record<string, string | string[]>) => new Map(Object.entries(o).map(([k, v]) => [k.toLowerCase(), v]));
const V12 = "2012-10-17" as const;

describe("matchAction", () => {
  it.each([
    ["*", "secretsmanager:GetSecretValue", true],
    ["secretsmanager:*", "secretsmanager:GetSecretValue", true],
    ["SECRETSMANAGER:get*", "secretsmanager:GetSecretValue", true],
    ["secretsmanager:Get*Value", "secretsmanager:GetSecretValue", true],
    ["secretsmanager:Get?", "secretsmanager:GetX", true],
    ["secretsmanager:Get?", "secretsmanager:Get", false],
    ["secrets*:Get*", "secretsmanager:GetSecretValue", true],
    ["s3:*", "secretsmanager:GetSecretValue", false],
    ["secretsmanager:GetSecretValue", "secretsmanager:GetSecretValues", false],
    ["secretsmanager:Get.ecretValue", "secretsmanager:GetSecretValue", false],
  ])("%s vs %s → %s", (pattern, action, expected) => {
    expect(matchAction(pattern, action)).toBe(expected);
  });
});

describe("matchArn", () => {
  const secret = "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/myapp/db-AbCdEf";
  it.each([
    ["*", secret, true],
    ["*", "*", true],
    ["arn:aws:secretsmanager:*:*:secret:*", "*", false],
    ["arn:aws:secretsmanager:*:*:secret:prod/*", secret, true],
    ["arn:aws:secretsmanager:*:*:*", secret, true],
    ["arn:aws:secretsmanager:*:*:secret:prod/myapp/db-??????", secret, true],
    ["arn:*:secretsmanager:us-*:111122223333:secret:*", secret, true],
    ["arn:aws:*:111122223333:secret:*", secret, false],
    ["arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/myapp/db-AbCdEf", secret, true],
    ["arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/myapp/db", secret, false],
    ["arn:aws:secretsmanager:*", secret, false],
    ["arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b:c", true],
    ["arn:aws:s3:::bucket/*", "arn:aws:s3:::other/a", false],
    ["arn:aws:s3:::b(1)+.x/*", "arn:aws:s3:::b(1)+.x/y", true],
    ["arn:aws:s3:::b(1)+.x/*", "arn:aws:s3:::b11+.x/y", false],
    ["arn:aws:secretsmanager:*:*:secret:prod*", "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod\nx", true],
  ])("%s vs %j → %s", (pattern, value, expected) => {
    expect(matchArn(pattern, value, V12, none)).toBe(expected);
  });
  it("substitutes variables, per request", () => {
    const p = "arn:aws:secretsmanager:*:*:secret:home/${aws:username}/*";
    expect(matchArn(p, "arn:aws:secretsmanager:r:1:secret:home/alice/x", V12, ctx({ "aws:username": "alice" }))).toBe(true);
    expect(matchArn(p, "arn:aws:secretsmanager:r:1:secret:home/alice/x", V12, ctx({ "aws:username": "bob" }))).toBe(false);
    expect(matchArn(p, "arn:aws:secretsmanager:r:1:secret:home/alice/x", V12, none)).toBeUndefined();
    expect(matchArn(p, "arn:aws:secretsmanager:r:1:secret:home/${aws:username}/x", "2008-10-17", none)).toBe(true);
  });
  it("treats substituted text literally, including regex characters", () => {
    const p = "arn:aws:s3:::b/${aws:username}";
    expect(matchArn(p, "arn:aws:s3:::b/a.c", V12, ctx({ "aws:username": "a.c" }))).toBe(true);
    expect(matchArn(p, "arn:aws:s3:::b/abc", V12, ctx({ "aws:username": "a.c" }))).toBe(false);
  });
});

describe("templates", () => {
  it.each([
    ["plain", {}, "plain"],
    ["${aws:username}", { "aws:username": "alice" }, "alice"],
    ["${ aws:username }", { "aws:username": "alice" }, "alice"],
    ["${aws:username, 'dflt'}", {}, "dflt"],
    ["${aws:username,'dflt'}", {}, "dflt"],
    ["${aws:username, 'it''s'}", {}, "it's"],
    ["${aws:username, 'a}b'}", {}, "a}b"],
    ["${aws:username, ''}", {}, ""],
    ["a${*}b${?}c${$}", {}, "a*b?c$"],
    ["x-${aws:PrincipalTag/team}-y", { "aws:principaltag/team": "blue" }, "x-blue-y"],
    ["$notavar {x}", {}, "$notavar {x}"],
    ["a*b?", {}, "a*b?"],
    ["${aws:username, '${aws:userid}'}", {}, "${aws:userid}"],
  ])("resolves %j", (text, values, expected) => {
    expect(resolveText(compileTemplate(text, true), ctx(values))).toBe(expected);
  });
  it.each([
    ["${aws:username}", {}],
    ["${}", {}],
    ["${aws:user name}", { "aws:user name": "x" }],
    ["${aws:username", { "aws:username": "x" }],
    ["${aws:username, dflt}", {}],
    ["${aws:username, 'unterminated}", {}],
    ["${aws:TagKeys}", { "aws:TagKeys": ["a"] }],
  ])("does not resolve %j", (text, values) => {
    expect(resolveText(compileTemplate(text, true), ctx(values))).toBeUndefined();
  });
  it("leaves ${...} alone without substitution (2008-10-17)", () => {
    expect(resolveText(compileTemplate("${aws:username}", false), none)).toBe("${aws:username}");
  });
  it("matchLike: literal escapes are not wildcards, wildcards are", () => {
    expect(matchLike("a${*}", "a*", V12, none)).toBe(true);
    expect(matchLike("a${*}", "ab", V12, none)).toBe(false);
    expect(matchLike("a*", "ab", V12, none)).toBe(true);
    expect(matchLike("a*", "a\nb", V12, none)).toBe(true);
    expect(matchLike("", "", V12, none)).toBe(true);
    expect(matchLike("", "x", V12, none)).toBe(false);
  });
});

describe("BoundedCache", () => {
  it("never holds more than its limit and forgets the oldest entry first", () => {
    const cache = new BoundedCache<number, number>(3);
    let made = 0;
    const get = (k: number) => cache.get(k, (x) => (made++, x * 2));
    expect([get(1), get(2), get(3), get(4)]).toEqual([2, 4, 6, 8]);
    expect(cache.size).toBe(3);
    get(2);
    expect(made).toBe(4);
    get(1); // evicted, rebuilt
    expect(made).toBe(5);
  });
});

describe("splitArn", () => {
  it("splits into six parts, the sixth keeping its colons", () => {
    expect(splitArn("arn:aws:secretsmanager:us-east-1:1:secret:a:b")).toEqual(["arn", "aws", "secretsmanager", "us-east-1", "1", "secret:a:b"]);
    expect(splitArn("arn:aws:s3:::bucket")).toEqual(["arn", "aws", "s3", "", "", "bucket"]);
    expect(splitArn("not:an:arn:at:all:x")).toBeUndefined();
    expect(splitArn("arn:aws:s3")).toBeUndefined();
  });
});

/**
 * The regular-expression matcher this module used before it was replaced by a linear one; it is
 * the specification the new matcher must agree with (on inputs small enough not to backtrack).
 */
function referenceMatch(pattern: string, value: string, arn: boolean): boolean {
  if (arn && pattern === "*") return true;
  const tokens = pattern.split(/([*?])/).filter((t) => t !== "");
  if (tokens.length === 0) return value === "";
  if (tokens.length === 1 && tokens[0] === "*") return true;
  const colons = pattern.split(":").length - 1;
  if (!tokens.some((t) => t === "*" || t === "?")) return value === pattern;
  if (arn && colons < 5) return false;
  let source = "^";
  let seen = 0;
  for (const t of tokens) {
    if (t === "*" || t === "?") {
      const inSegment = arn && seen < 5;
      source += t === "*" ? (inSegment ? "[^:]*" : "[^]*") : inSegment ? "[^:]" : "[^]";
    } else {
      source += t.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
      seen += t.split(":").length - 1;
    }
  }
  return new RegExp(`${source}$`).test(value);
}

describe("wildcard matching is linear and exact", () => {
  // A small deterministic PRNG, so a failure reproduces.
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const pick = (alphabet: string, max: number): string => {
    let s = "";
    for (let i = rand(max + 1); i > 0; i--) s += alphabet[rand(alphabet.length)];
    return s;
  };

  it("agrees with the regular-expression semantics on 40,000 random patterns and values", () => {
    for (let i = 0; i < 20_000; i++) {
      const pattern = pick("ab*?", 8);
      const value = pick("ab", 8);
      expect([pattern, value, matchLike(pattern, value, "2008-10-17", none)]).toEqual([pattern, value, referenceMatch(pattern, value, false)]);
    }
    for (let i = 0; i < 20_000; i++) {
      // ARN-shaped: six or more colon-separated parts, wildcards in any of them.
      const pattern = Array.from({ length: 6 + rand(2) }, () => pick("ab:*?", 3)).join(":");
      const value = Array.from({ length: 6 + rand(2) }, () => pick("ab:", 3)).join(":");
      expect([pattern, value, matchArn(pattern, value, "2008-10-17", none)]).toEqual([pattern, value, referenceMatch(pattern, value, true)]);
    }
  });

  it("keeps the ARN segment rule: wildcards in the first five parts do not cross a colon", () => {
    expect(matchArn("arn:aws:*:r:1:secret:x", "arn:aws:a:b:r:1:secret:x", V12, none)).toBe(false);
    expect(matchArn("arn:aws:s?:r:1:x", "arn:aws:s::r:1:x", V12, none)).toBe(false);
    expect(matchArn("arn:aws:s:r:1:*x", "arn:aws:s:r:1:a:b:x", V12, none)).toBe(true);
    expect(matchArn("arn:aws:s:r:*:a?b", "arn:aws:s:r:1:a:b", V12, none)).toBe(true);
    expect(matchArn("arn:*:*:*:*:*a*a*", "arn:aws:s:r:1:a:a", V12, none)).toBe(true);
    expect(matchArn("arn:a**:s:r:1:x", "arn:abc:s:r:1:x", V12, none)).toBe(true);
  });

  // Hang detectors, not benchmarks: the old regex took seconds to hours on these.
  it.each([
    ["*a*a*a*a*a*b", "a".repeat(512)],
    ["a*b*c*d*e*", "a".repeat(200)],
    ["*" + "a*".repeat(5000) + "b", "a".repeat(512)],
    ["*" + "a*".repeat(5000), "a".repeat(4000)],
    ["*" + "?*".repeat(3000) + "b", "a".repeat(512)],
    ["*" + "a?".repeat(200) + "b*", "a".repeat(2048)],
  ])("answers at once for %#", (pattern, value) => {
    const started = performance.now();
    expect(matchLike(pattern, value, V12, none)).toBe(referenceSmallOrFalse(pattern, value));
    expect(matchArn(`arn:aws:secretsmanager:*:*:secret:${pattern}`, `arn:aws:secretsmanager:r:1:secret:${value}`, V12, none)).toBe(
      referenceSmallOrFalse(pattern, value),
    );
    expect(matchAction(`secretsmanager:${pattern}`, `secretsmanager:${value}`)).toBe(referenceSmallOrFalse(pattern, value));
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

/** The expected answer for the pathological cases above, worked out by hand. */
function referenceSmallOrFalse(pattern: string, value: string): boolean {
  // Only the all-"a*" pattern can match an all-"a" value, and only if the value is long enough.
  return !pattern.includes("b") && !pattern.includes("?") && value.length >= (pattern.match(/a/g) ?? []).length;
}
