import { describe, expect, it } from "vitest";
import { CONDITION_OPERATORS, checkConditionValue, evaluateConditions, parseDate, parseOperator } from "./policy-conditions.ts";
import type { ConditionBlock } from "./policy-types.ts";

const ctxOf = (o: Record<string, string | string[]>): Map<string, string | string[]> =>
  new Map(Object.entries(o).map(([k, v]) => [k.toLowerCase(), v]));

describe("parseOperator", () => {
  it("knows the 27 base operators of the IAM reference", () => {
    expect(CONDITION_OPERATORS).toHaveLength(27);
    for (const name of CONDITION_OPERATORS) expect(parseOperator(name)?.name).toBe(name);
  });
  it.each([
    ["StringNotLike", { name: "StringNotLike", negated: true, ifExists: false, set: undefined }],
    ["StringEqualsIfExists", { name: "StringEquals", negated: false, ifExists: true, set: undefined }],
    ["ForAnyValue:StringLike", { name: "StringLike", negated: false, ifExists: false, set: "any" }],
    ["ForAllValues:ArnNotLikeIfExists", { name: "ArnNotLike", negated: true, ifExists: true, set: "all" }],
    ["NotIpAddress", { name: "NotIpAddress", negated: true, ifExists: false, set: undefined }],
    ["numericnotequals", { name: "NumericNotEquals", negated: true, ifExists: false, set: undefined }],
    ["DateNotEquals", { name: "DateNotEquals", negated: true, ifExists: false, set: undefined }],
  ])("parses %s", (text, expected) => {
    const op = parseOperator(text);
    expect({ name: op?.name, negated: op?.negated, ifExists: op?.ifExists, set: op?.set }).toEqual(expected);
  });
  it.each(["StringEqual", "NullIfExists", "ForAnyValue:", "IfExists", "ForAnyValues:StringEquals", "StringEqualsIfExistsIfExists"])("rejects %s", (text) => {
    expect(parseOperator(text)).toBeUndefined();
  });
});

describe("parseDate", () => {
  it.each([
    ["2024-06-01T00:00:00Z", Date.UTC(2024, 5, 1)],
    ["2024-06-01", Date.UTC(2024, 5, 1)],
    ["2024-06-01T00:00", Date.UTC(2024, 5, 1)],
    ["2024-06-01T02:00:00+02:00", Date.UTC(2024, 5, 1)],
    ["2024-06-01T02:00:00+0200", Date.UTC(2024, 5, 1)],
    ["2024-05-31T19:00:00-05:00", Date.UTC(2024, 6 - 1, 1)],
    ["2024-06-01T00:00:00.250Z", Date.UTC(2024, 5, 1) + 250],
    ["1717200000", Date.UTC(2024, 5, 1)],
    ["0", 0],
  ])("parses %s", (text, ms) => {
    expect(parseDate(text)).toBe(ms);
  });
  it.each(["", "yesterday", "2024-13-01", "2024-02-30", "2024/06/01", "June 1 2024", "2024-06-01T25:00:00Z"])("rejects %j", (text) => {
    expect(parseDate(text)).toBeUndefined();
  });
  it("accepts leap days only in leap years", () => {
    expect(parseDate("2024-02-29")).toBe(Date.UTC(2024, 1, 29));
    expect(parseDate("2023-02-29")).toBeUndefined();
  });
});

describe("checkConditionValue", () => {
  const op = (n: string) => parseOperator(n)!;
  it.each([
    ["IpAddress", "10.0.0.0/8", true],
    ["IpAddress", "2001:db8::/129", false],
    ["IpAddress", "2001:db8::/32", true],
    ["IpAddress", "10.0.0.1", true],
    ["IpAddress", "10.0.0.0/x", false],
    ["NumericEquals", "-1.5", true],
    ["NumericEquals", "1e3", false],
    ["DateEquals", "1717200000", true],
    ["Bool", "FALSE", true],
    ["Null", "true", true],
    ["BinaryEquals", "QQ==", true],
    ["BinaryEquals", "", false],
    ["StringLike", "anything at all *", true],
    ["ArnLike", "not even an arn", true],
  ])("%s %j valid: %s", (name, value, ok) => {
    expect(checkConditionValue(op(name), value) === undefined).toBe(ok);
  });
});

describe("evaluateConditions", () => {
  const v = "2012-10-17" as const;
  it("is true for an empty block", () => {
    expect(evaluateConditions({}, v, ctxOf({}))).toBe(true);
  });
  it("is false for an operator it does not know (unvalidated input fails closed)", () => {
    expect(evaluateConditions({ Bogus: { "aws:username": ["x"] } }, v, ctxOf({ "aws:username": "x" }))).toBe(false);
  });
  it("is false when the policy number is not a number", () => {
    expect(evaluateConditions({ NumericEquals: { "custom:n": ["x"] } }, v, ctxOf({ "custom:n": "1" }))).toBe(false);
  });
  it("ANDs operators, ANDs keys and ORs values", () => {
    const block: ConditionBlock = {
      StringEquals: { "custom:a": ["1", "2"], "custom:b": ["x"] },
      NumericGreaterThan: { "custom:n": ["5"] },
    };
    expect(evaluateConditions(block, v, ctxOf({ "custom:a": "2", "custom:b": "x", "custom:n": "6" }))).toBe(true);
    expect(evaluateConditions(block, v, ctxOf({ "custom:a": "3", "custom:b": "x", "custom:n": "6" }))).toBe(false);
    expect(evaluateConditions(block, v, ctxOf({ "custom:a": "2", "custom:b": "y", "custom:n": "6" }))).toBe(false);
    expect(evaluateConditions(block, v, ctxOf({ "custom:a": "2", "custom:b": "x", "custom:n": "5" }))).toBe(false);
  });
  it("does not substitute variables in 2008-10-17 policies", () => {
    const block: ConditionBlock = { StringEquals: { "custom:a": ["${aws:username}"] } };
    const ctx = ctxOf({ "custom:a": "alice", "aws:username": "alice" });
    expect(evaluateConditions(block, "2012-10-17", ctx)).toBe(true);
    expect(evaluateConditions(block, "2008-10-17", ctx)).toBe(false);
    expect(evaluateConditions(block, "2008-10-17", ctxOf({ "custom:a": "${aws:username}" }))).toBe(true);
  });
  it("matches IPv6 addresses in compressed and full forms", () => {
    const block: ConditionBlock = { IpAddress: { "aws:SourceIp": ["2001:0db8:0000::/48"] } };
    expect(evaluateConditions(block, v, ctxOf({ "aws:SourceIp": "2001:db8:0:ffff::1" }))).toBe(true);
    expect(evaluateConditions(block, v, ctxOf({ "aws:SourceIp": "2001:db8:1::1" }))).toBe(false);
  });
  it("NotIpAddress with an IPv4 and an IPv6 range is true only outside both", () => {
    const block: ConditionBlock = { NotIpAddress: { "aws:SourceIp": ["192.0.2.0/24", "2001:db8::/32"] } };
    expect(evaluateConditions(block, v, ctxOf({ "aws:SourceIp": "192.0.2.1" }))).toBe(false);
    expect(evaluateConditions(block, v, ctxOf({ "aws:SourceIp": "2001:db8::5" }))).toBe(false);
    expect(evaluateConditions(block, v, ctxOf({ "aws:SourceIp": "198.51.100.1" }))).toBe(true);
  });
  it("ForAllValues:StringLike fails if any value misses every pattern", () => {
    const block: ConditionBlock = { "ForAllValues:StringLike": { "aws:TagKeys": ["app-*", "env"] } };
    expect(evaluateConditions(block, v, ctxOf({ "aws:TagKeys": ["app-x", "env"] }))).toBe(true);
    expect(evaluateConditions(block, v, ctxOf({ "aws:TagKeys": ["app-x", "owner"] }))).toBe(false);
  });
});
