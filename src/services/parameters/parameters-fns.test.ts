import { describe, expect, it } from "vitest";
import type { ParameterRecord } from "../../storage/store.ts";
import { CofferError } from "../../shared/errors.ts";
import {
  checkAllowedPattern,
  checkFilters,
  checkNewName,
  chooseTier,
  compileAllowedPattern,
  decodeToken,
  encodeToken,
  isValidLabel,
  levels,
  matchesFilter,
  normalizePath,
  parameterArn,
  messages,
  parseName,
} from "./parameters-fns.ts";

const REGION = "us-east-1";
const ACCOUNT = "111122223333";

/** The domain code a call throws (or "ok"). */
function codeOf(fn: () => unknown): string {
  try {
    fn();
    return "ok";
  } catch (err) {
    if (err instanceof CofferError) return err.code;
    throw err;
  }
}

describe("names", () => {
  it("maps a name to its ARN without the leading slash", () => {
    expect(parameterArn(REGION, ACCOUNT, "/prod/app/db")).toBe(`arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/prod/app/db`);
    expect(parameterArn(REGION, ACCOUNT, "flat")).toBe(`arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/flat`);
  });

  it("reads names, ARNs and version or label selectors", () => {
    expect(parseName("/prod/app/db", REGION, ACCOUNT)).toEqual({ name: "/prod/app/db", arn: parameterArn(REGION, ACCOUNT, "/prod/app/db") });
    expect(parseName("/prod/app/db:3", REGION, ACCOUNT)?.selector).toEqual({ kind: "version", version: 3, text: ":3" });
    expect(parseName("/prod/app/db:live", REGION, ACCOUNT)?.selector).toEqual({ kind: "label", label: "live", text: ":live" });
    const byArn = parseName(`arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/prod/app/db:2`, REGION, ACCOUNT);
    expect(byArn).toMatchObject({ name: "/prod/app/db", arn: parameterArn(REGION, ACCOUNT, "/prod/app/db") });
    expect(byArn?.selector).toMatchObject({ kind: "version", version: 2 });
    for (const bad of ["a:b:c", "/a/b:", "arn:aws:s3:::bucket", ""]) {
      expect(parseName(bad, REGION, ACCOUNT), bad).toBeUndefined();
    }
    // A malformed name is an error, as on write: "a/b" would otherwise share /a/b's ARN.
    for (const bad of ["bad name", "caf\u00e9", "a/b", "/a//b", "/a/b/", `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/a//b`]) {
      expect(() => parseName(bad, REGION, ACCOUNT), bad).toThrow(expect.objectContaining({ code: "Validation", message: messages.invalidName }));
    }
  });

  it("accepts new names as AWS does and refuses the rest with AWS's error", () => {
    expect(codeOf(() => checkNewName("/prod/app/db", REGION, ACCOUNT))).toBe("ok");
    expect(codeOf(() => checkNewName("flat_name.v-1", REGION, ACCOUNT))).toBe("ok");
    expect(codeOf(() => checkNewName("prod/app", REGION, ACCOUNT))).toBe("Validation"); // hierarchy needs a leading slash
    expect(codeOf(() => checkNewName("/prod//app", REGION, ACCOUNT))).toBe("Validation");
    expect(codeOf(() => checkNewName("/prod/app/", REGION, ACCOUNT))).toBe("Validation");
    expect(codeOf(() => checkNewName("/prod app", REGION, ACCOUNT))).toBe("Validation");
    expect(codeOf(() => checkNewName("awsTest", REGION, ACCOUNT))).toBe("Validation");
    expect(codeOf(() => checkNewName("SSM-test", REGION, ACCOUNT))).toBe("Validation");
    expect(codeOf(() => checkNewName("/ssm/x", REGION, ACCOUNT))).toBe("Validation");
    expect(codeOf(() => checkNewName("/aws/reference/secretsmanager/x", REGION, ACCOUNT))).toBe("AccessDenied");
    const fifteen = "/l".repeat(15);
    expect(levels(fifteen)).toBe(15);
    expect(codeOf(() => checkNewName(fifteen, REGION, ACCOUNT))).toBe("ok");
    expect(codeOf(() => checkNewName(`${fifteen}/l`, REGION, ACCOUNT))).toBe("HierarchyLevelLimitExceeded");
    // 1011 characters at most, counting the ARN prefix.
    const prefix = parameterArn(REGION, ACCOUNT, "").length;
    expect(codeOf(() => checkNewName(`/${"x".repeat(1011 - prefix)}`, REGION, ACCOUNT))).toBe("ok");
    expect(codeOf(() => checkNewName(`/${"x".repeat(1012 - prefix)}`, REGION, ACCOUNT))).toBe("Validation");
  });

  it("normalises paths to one trailing slash", () => {
    expect(normalizePath("/")).toBe("/");
    expect(normalizePath("/prod/app")).toBe("/prod/app/");
    expect(normalizePath("/prod/app/")).toBe("/prod/app/");
    expect(codeOf(() => normalizePath("prod/app"))).toBe("Validation");
    expect(codeOf(() => normalizePath("/prod//app"))).toBe("Validation");
    expect(codeOf(() => normalizePath("/l".repeat(16)))).toBe("HierarchyLevelLimitExceeded");
  });

  it("checks labels", () => {
    expect(isValidLabel("prod")).toBe(true);
    expect(isValidLabel("Release_1.2-rc")).toBe(true);
    for (const bad of ["", "1st", "awsLabel", "ssm", "has space", "a/b", "x".repeat(101)]) expect(isValidLabel(bad), bad).toBe(false);
  });
});

describe("allowed patterns and tiers", () => {
  it("tests the value against the pattern and never quotes the value back", () => {
    expect(codeOf(() => checkAllowedPattern("^\\d+$", "12345"))).toBe("ok");
    expect(codeOf(() => checkAllowedPattern(undefined, "anything"))).toBe("ok");
    try {
      checkAllowedPattern("^\\d+$", "SECRET-abc");
      expect.unreachable();
    } catch (err) {
      expect((err as CofferError).code).toBe("PatternMismatch");
      expect((err as Error).message).not.toContain("SECRET-abc");
    }
    expect(codeOf(() => compileAllowedPattern("(unclosed"))).toBe("InvalidAllowedPattern");
    // A pattern that backtracks catastrophically is stopped, not left to stall the server.
    expect(codeOf(() => checkAllowedPattern("^(a+)+$", `${"a".repeat(40)}!`))).toBe("InvalidAllowedPattern");
  });

  it("chooses tiers as AWS does", () => {
    expect(chooseTier(undefined, undefined, 10, false)).toBe("Standard");
    expect(chooseTier("Intelligent-Tiering", undefined, 10, false)).toBe("Standard");
    expect(chooseTier("Intelligent-Tiering", undefined, 5000, false)).toBe("Advanced");
    expect(chooseTier("Intelligent-Tiering", undefined, 10, true)).toBe("Advanced");
    expect(chooseTier("Intelligent-Tiering", "Advanced", 10, false)).toBe("Advanced");
    expect(chooseTier(undefined, "Advanced", 10, false)).toBe("Advanced");
    expect(chooseTier("Advanced", "Standard", 10, false)).toBe("Advanced");
    expect(codeOf(() => chooseTier("Standard", "Advanced", 10, false))).toBe("Validation"); // no downgrade
    expect(codeOf(() => chooseTier("Standard", undefined, 4097, false))).toBe("Validation");
    expect(chooseTier("Standard", undefined, 4096, false)).toBe("Standard");
    expect(codeOf(() => chooseTier("Advanced", undefined, 8193, false))).toBe("Validation");
    expect(codeOf(() => chooseTier("Standard", undefined, 10, true))).toBe("Validation"); // policies need Advanced
  });
});

describe("paging tokens", () => {
  it("round-trips and refuses what it did not issue", () => {
    expect(decodeToken<string>(encodeToken("/a/b"), "string")).toBe("/a/b");
    expect(decodeToken<number>(encodeToken(7), "number")).toBe(7);
    expect(decodeToken(undefined, "string")).toBeUndefined();
    expect(codeOf(() => decodeToken("not-a-token", "string"))).toBe("InvalidNextToken");
    expect(codeOf(() => decodeToken(encodeToken(7), "string"))).toBe("InvalidNextToken");
  });
});

describe("filters", () => {
  it("allows each operation its own keys, options and values", () => {
    expect(checkFilters([{ key: "Path", values: ["/a"] }], "describe")).toEqual([{ key: "Path", option: "OneLevel", values: ["/a"] }]);
    expect(checkFilters([{ key: "tag:env", values: ["prod"] }], "describe")[0].option).toBe("Equals");
    expect(checkFilters([{ key: "Label", values: ["live"] }], "byPath")[0]).toEqual({ key: "Label", option: "Equals", values: ["live"] });
    expect(codeOf(() => checkFilters([{ key: "Name", values: ["x"] }], "byPath"))).toBe("InvalidFilterKey");
    expect(codeOf(() => checkFilters([{ key: "tag:env", values: ["x"] }], "byPath"))).toBe("InvalidFilterKey");
    expect(codeOf(() => checkFilters([{ key: "Label", values: ["x"] }], "describe"))).toBe("InvalidFilterKey");
    expect(codeOf(() => checkFilters([{ key: "Type", values: ["String"] }, { key: "Type", values: ["SecureString"] }], "describe"))).toBe(
      "InvalidFilterKey",
    );
    expect(codeOf(() => checkFilters([{ key: "Type", values: [] }], "describe"))).toBe("InvalidFilterValue");
    expect(codeOf(() => checkFilters([{ key: "Type", values: ["Number"] }], "describe"))).toBe("InvalidFilterValue");
    expect(codeOf(() => checkFilters([{ key: "Tier", option: "BeginsWith", values: ["Standard"] }], "describe"))).toBe("InvalidFilterOption");
    expect(codeOf(() => checkFilters([{ key: "Label", option: "BeginsWith", values: ["x"] }], "byPath"))).toBe("InvalidFilterOption");
    expect(codeOf(() => checkFilters([{ key: "Path", option: "Equals", values: ["/a"] }], "describe"))).toBe("InvalidFilterOption");
    expect(codeOf(() => checkFilters([{ key: "Path", values: ["/aws/x"] }], "describe"))).toBe("Validation");
  });

  const param = (name: string, over: Partial<ParameterRecord> = {}): ParameterRecord => ({
    arn: parameterArn(REGION, ACCOUNT, name),
    accountId: ACCOUNT,
    name,
    version: 1,
    type: "String",
    tier: "Standard",
    dataType: "text",
    policies: [],
    lastModifiedAt: 0,
    lastModifiedUser: "arn:aws:iam::111122223333:root",
    tags: [{ key: "env", value: "prod" }],
    ...over,
  });
  const matches = (p: ParameterRecord, key: string, values: string[], option?: string) =>
    matchesFilter(p, checkFilters([{ key, option, values }], "describe")[0]);

  it("matches parameters", () => {
    expect(matches(param("/prod/app/db"), "Name", ["/prod/app/db"])).toBe(true);
    expect(matches(param("/prod/app/db"), "Name", ["prod/app/db"])).toBe(true); // the leading slash is optional
    expect(matches(param("/prod/app/db"), "Name", ["/prod/a"], "BeginsWith")).toBe(true);
    expect(matches(param("/prod/app/db"), "Name", ["app"], "Contains")).toBe(true);
    expect(matches(param("/prod/app/db"), "Name", ["/dev"], "BeginsWith")).toBe(false);
    expect(matches(param("/prod/app/db"), "Path", ["/prod"])).toBe(false);
    expect(matches(param("/prod/app/db"), "Path", ["/prod"], "Recursive")).toBe(true);
    expect(matches(param("/prod/app/db"), "Path", ["/prod/app"])).toBe(true);
    expect(matches(param("/prod/app/db"), "tag:env", ["prod"])).toBe(true);
    expect(matches(param("/prod/app/db"), "tag:env", ["pr"], "BeginsWith")).toBe(true);
    expect(matches(param("/prod/app/db"), "tag:team", ["x"])).toBe(false);
    expect(matches(param("/s", { type: "SecureString", keyId: "alias/aws/ssm" }), "KeyId", ["alias/aws/ssm"])).toBe(true);
    expect(matches(param("/s"), "Type", ["SecureString"])).toBe(false);
    expect(matches(param("/s", { tier: "Advanced" }), "Tier", ["Advanced"])).toBe(true);
    expect(matches(param("/s"), "DataType", ["text"])).toBe(true);
  });
});
