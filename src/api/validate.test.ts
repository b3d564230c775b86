import { describe, expect, it } from "vitest";
import { CofferError } from "../shared/errors.ts";
import type { Shape, StringShape } from "../shared/shape-types.ts";
import { compilePattern, validateInput } from "./validate.ts";
import { shapes as cloudtrail } from "./cloudtrail/generated/shapes.ts";
import { shapes as iam } from "./iam/generated/shapes.ts";
import { shapes as kms } from "./kms/generated/shapes.ts";
import { shapes as sm } from "./secretsmanager/generated/shapes.ts";
import { shapes as ssm } from "./ssm/generated/shapes.ts";
import { shapes as sts } from "./sts/generated/shapes.ts";
import {
  UnsupportedPatternError,
  compileTranslated,
  generateAll,
  javaRegexToJs,
  staleFiles,
} from "../../tools/codegen/codegen.ts";

const ALL: Record<string, Record<string, Shape>> = { secretsmanager: sm, ssm, kms, sts, iam, cloudtrail };

function errorOf(fn: () => void): CofferError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CofferError) return err;
    throw err;
  }
  throw new Error("expected a CofferError, nothing was thrown");
}

const b64 = (n: number) => Buffer.alloc(n, 7).toString("base64");
const err1 = (v: string) => `1 validation error detected: ${v}`;

type Case = [
  name: string,
  shapes: Record<string, Shape>,
  shape: string,
  input: unknown,
  code: "Validation" | "Serialization",
  message: string,
];

const cases: Case[] = [
  // --- required
  ["CreateSecret without Name", sm, "CreateSecretRequest", {}, "Validation",
    err1("Value null at 'name' failed to satisfy constraint: Member must not be null")],
  ["CreateSecret with Name: null", sm, "CreateSecretRequest", { Name: null }, "Validation",
    err1("Value null at 'name' failed to satisfy constraint: Member must not be null")],
  ["GetSecretValue without SecretId", sm, "GetSecretValueRequest", { VersionStage: "AWSCURRENT" }, "Validation",
    err1("Value null at 'secretId' failed to satisfy constraint: Member must not be null")],
  // --- string length
  ["Name too long (513)", sm, "CreateSecretRequest", { Name: "a".repeat(513) }, "Validation",
    err1(`Value '${"a".repeat(513)}' at 'name' failed to satisfy constraint: Member must have length less than or equal to 512`)],
  ["Name empty", sm, "CreateSecretRequest", { Name: "" }, "Validation",
    err1("Value '' at 'name' failed to satisfy constraint: Member must have length greater than or equal to 1")],
  ["Name of 257 astral chars counts 514 UTF-16 units", sm, "CreateSecretRequest", { Name: "😀".repeat(257) }, "Validation",
    err1(`Value '${"😀".repeat(257)}' at 'name' failed to satisfy constraint: Member must have length less than or equal to 512`)],
  // --- list elements: 1-based .N.member paths
  ["bad Tags element", sm, "CreateSecretRequest",
    { Name: "n", Tags: [{ Key: "ok", Value: "v" }, { Key: "", Value: "x" }] }, "Validation",
    err1("Value '' at 'tags.2.member.key' failed to satisfy constraint: Member must have length greater than or equal to 1")],
  ["Tag value too long", sm, "TagResourceRequest",
    { SecretId: "s", Tags: [{ Key: "k", Value: "v".repeat(257) }] }, "Validation",
    err1(`Value '${"v".repeat(257)}' at 'tags.1.member.value' failed to satisfy constraint: Member must have length less than or equal to 256`)],
  ["null structure element in a list", sm, "CreateSecretRequest", { Name: "n", Tags: [null] }, "Validation",
    err1("Value null at 'tags.1.member' failed to satisfy constraint: Member must not be null")],
  ["empty AddReplicaRegions (list min 1)", sm, "CreateSecretRequest", { Name: "n", AddReplicaRegions: [] }, "Validation",
    err1("Value '[]' at 'addReplicaRegions' failed to satisfy constraint: Member must have length greater than or equal to 1")],
  // --- scalar lists: AWS reports element constraints once, on the list
  ["filter value breaks the pattern", sm, "ListSecretsRequest",
    { Filters: [{ Key: "name", Values: ["ok", "bad#value"] }] }, "Validation",
    err1("Value '[ok, bad#value]' at 'filters.1.member.values' failed to satisfy constraint: Member must satisfy constraint: " +
      "[Member must satisfy regular expression pattern: ^\\!?[a-zA-Z0-9 :_@\\/\\+\\=\\.\\-\\!]*$]")],
  ["SecretIdList too long", sm, "BatchGetSecretValueRequest", { SecretIdList: Array.from({ length: 21 }, (_, i) => `s${i}`) },
    "Validation",
    err1(`Value '[${Array.from({ length: 21 }, (_, i) => `s${i}`).join(", ")}]' at 'secretIdList' failed to satisfy constraint: Member must have length less than or equal to 20`)],
  // --- numbers
  ["MaxResults 0", sm, "ListSecretsRequest", { MaxResults: 0 }, "Validation",
    err1("Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1")],
  ["MaxResults 101", sm, "ListSecretsRequest", { MaxResults: 101 }, "Validation",
    err1("Value '101' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100")],
  // --- enums
  ["SortOrder up", sm, "ListSecretsRequest", { SortOrder: "up" }, "Validation",
    err1("Value 'up' at 'sortOrder' failed to satisfy constraint: Member must satisfy enum value set: [asc, desc]")],
  ["filter key not in the enum", sm, "ListSecretsRequest", { Filters: [{ Key: "colour", Values: ["x"] }] }, "Validation",
    err1("Value 'colour' at 'filters.1.member.key' failed to satisfy constraint: Member must satisfy enum value set: " +
      "[description, name, tag-key, tag-value, primary-region, owning-service, all]")],
  // --- blobs: bounds apply to decoded bytes
  ["SecretBinary of 65,537 bytes", sm, "CreateSecretRequest", { Name: "n", SecretBinary: b64(65537) }, "Validation",
    err1("Value at 'secretBinary' failed to satisfy constraint: Member must have length less than or equal to 65536")],
  ["SecretBinary empty", sm, "CreateSecretRequest", { Name: "n", SecretBinary: "" }, "Validation",
    err1("Value at 'secretBinary' failed to satisfy constraint: Member must have length greater than or equal to 1")],
  ["SecretBinary not base64", sm, "CreateSecretRequest", { Name: "n", SecretBinary: "not base64!" }, "Serialization",
    "Invalid base64 value at 'secretBinary'"],
  ["SecretBinary with a bad length", sm, "CreateSecretRequest", { Name: "n", SecretBinary: "QUJDR" }, "Serialization",
    "Invalid base64 value at 'secretBinary'"],
  // --- wrong JSON types
  ["Name as a number", sm, "CreateSecretRequest", { Name: 123 }, "Serialization",
    "NUMBER_VALUE can not be converted to a String at 'name'"],
  ["Name as an object", sm, "CreateSecretRequest", { Name: { a: 1 } }, "Serialization",
    "Start of structure or map found where not expected at 'name'."],
  ["Name as a list", sm, "CreateSecretRequest", { Name: ["a"] }, "Serialization",
    "Start of list found where not expected at 'name'."],
  ["MaxResults as a string", sm, "ListSecretsRequest", { MaxResults: "10" }, "Serialization",
    "STRING_VALUE can not be converted to an Integer at 'maxResults'"],
  ["MaxResults with a fraction", sm, "ListSecretsRequest", { MaxResults: 1.5 }, "Serialization",
    "NUMBER_VALUE with a fraction can not be converted to an Integer at 'maxResults'"],
  ["boolean as a string", sm, "ListSecretsRequest", { IncludePlannedDeletion: "true" }, "Serialization",
    "STRING_VALUE can not be converted to a Boolean at 'includePlannedDeletion'"],
  ["Tags as an object", sm, "CreateSecretRequest", { Name: "n", Tags: { Key: "k" } }, "Serialization",
    "Start of structure or map found where not expected at 'tags'."],
  ["Tags as a string", sm, "CreateSecretRequest", { Name: "n", Tags: "k=v" }, "Serialization",
    "STRING_VALUE can not be converted to a List at 'tags'"],
  ["Tags element as a string", sm, "CreateSecretRequest", { Name: "n", Tags: ["k=v"] }, "Serialization",
    "STRING_VALUE can not be converted to a Structure at 'tags.1.member'"],
  ["timestamp as a string", sm, "RotateSecretRequest", { SecretId: "s", RotationRules: { AutomaticallyAfterDays: "1" } },
    "Serialization", "STRING_VALUE can not be converted to a Long at 'rotationRules.automaticallyAfterDays'"],
  ["top level is a list", sm, "ListSecretsRequest", [], "Serialization", "Start of list found where not expected."],
  ["top level is a string", sm, "ListSecretsRequest", "x", "Serialization", "STRING_VALUE can not be converted to a Structure"],
  ["top level is null", sm, "ListSecretsRequest", null, "Serialization", "null can not be converted to a Structure"],
  ["a type error wins over constraint errors", sm, "CreateSecretRequest", { Name: "", Tags: "x" }, "Serialization",
    "STRING_VALUE can not be converted to a List at 'tags'"],
  // --- several at once, in model member order
  ["four errors counted", sm, "CreateSecretRequest",
    { Tags: [{ Key: "" }], SecretString: "", Description: "d".repeat(2049), Name: "" }, "Validation",
    "4 validation errors detected: " + [
      "Value '' at 'name' failed to satisfy constraint: Member must have length greater than or equal to 1",
      `Value '${"d".repeat(2049)}' at 'description' failed to satisfy constraint: Member must have length less than or equal to 2048`,
      "Value at 'secretString' failed to satisfy constraint: Member must have length greater than or equal to 1",
      "Value '' at 'tags.1.member.key' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ].join("; ")],
  ["length and enum on one request", sm, "ListSecretsRequest", { MaxResults: 0, SortOrder: "up" }, "Validation",
    "2 validation errors detected: " +
      "Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1; " +
      "Value 'up' at 'sortOrder' failed to satisfy constraint: Member must satisfy enum value set: [asc, desc]"],
  // --- SSM
  ["PutParameter without Name and Value", ssm, "PutParameterRequest", {}, "Validation",
    "2 validation errors detected: " +
      "Value null at 'name' failed to satisfy constraint: Member must not be null; " +
      "Value null at 'value' failed to satisfy constraint: Member must not be null"],
  ["PutParameter without Value", ssm, "PutParameterRequest", { Name: "/app/db" }, "Validation",
    err1("Value null at 'value' failed to satisfy constraint: Member must not be null")],
  ["PutParameter bad Type", ssm, "PutParameterRequest", { Name: "/p", Value: "v", Type: "Plain" }, "Validation",
    err1("Value 'Plain' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [String, StringList, SecureString]")],
  ["PutParameter tag without Value", ssm, "PutParameterRequest", { Name: "/p", Value: "v", Tags: [{ Key: "k" }] }, "Validation",
    err1("Value null at 'tags.1.member.value' failed to satisfy constraint: Member must not be null")],
  ["PutParameter tag key breaks the \\p{...} pattern", ssm, "PutParameterRequest",
    { Name: "/p", Value: "v", Tags: [{ Key: "bad#key", Value: "v" }] }, "Validation",
    err1("Value 'bad#key' at 'tags.1.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: " +
      "^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$")],
  // --- maps
  ["map key too short", ssm, "StartAutomationExecutionRequest", { DocumentName: "doc", Parameters: { "": ["x"] } }, "Validation",
    err1("Value '{=[x]}' at 'parameters' failed to satisfy constraint: Map keys must satisfy constraint: " +
      "[Member must have length greater than or equal to 1]")],
  ["map value element too short", ssm, "StartAutomationExecutionRequest", { DocumentName: "doc", Parameters: { k: [""] } },
    "Validation",
    err1("Value '[]' at 'parameters.k' failed to satisfy constraint: Member must satisfy constraint: " +
      "[Member must have length greater than or equal to 1]")],
  // --- whole-value pattern match (Java Matcher#matches), IAM
  ["role name with a space", iam, "CreateRoleRequest", { RoleName: "my role", AssumeRolePolicyDocument: "{}" }, "Validation",
    err1("Value 'my role' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+")],
];

describe("validateInput", () => {
  it.each(cases)("%s", (_name, shapes, shape, input, code, message) => {
    const err = errorOf(() => validateInput(shapes, shape, input));
    expect(err.code).toBe(code);
    expect(err.message).toBe(message);
  });

  it.each([
    ["minimal CreateSecret", sm, "CreateSecretRequest", { Name: "prod/db" }],
    ["full CreateSecret", sm, "CreateSecretRequest", {
      Name: "prod/db",
      ClientRequestToken: "0123456789abcdef0123456789abcdef",
      Description: "db",
      SecretString: "x".repeat(65536),
      Tags: [{ Key: "team", Value: "" }],
      ForceOverwriteReplicaSecret: false,
    }],
    ["SecretBinary of exactly 65,536 bytes (87,384 base64 chars)", sm, "CreateSecretRequest",
      { Name: "n", SecretBinary: b64(65536) }],
    ["SecretBinary as bytes", sm, "CreateSecretRequest", { Name: "n", SecretBinary: new Uint8Array([1, 2]) }],
    ["unpadded base64", sm, "CreateSecretRequest", { Name: "n", SecretBinary: "QUJDRA" }],
    ["unknown members are ignored", sm, "CreateSecretRequest", { Name: "n", Colour: { any: ["thing"] } }],
    ["null optional members are absent", sm, "ListSecretsRequest", { MaxResults: null, SortOrder: null }],
    ["boundary MaxResults", sm, "ListSecretsRequest", { MaxResults: 100, SortOrder: "desc", Filters: [{ Key: "name", Values: ["!prod"] }] }],
    ["512 UTF-16 units of astral chars", sm, "CreateSecretRequest", { Name: "😀".repeat(256) }],
    ["unicode tag key (\\p{L})", ssm, "PutParameterRequest", { Name: "/p", Value: "v", Tags: [{ Key: "ключ", Value: "värde" }] }],
    ["timestamps as epoch seconds or Date", cloudtrail, "LookupEventsRequest", { StartTime: 1700000000.5, EndTime: new Date() }],
    ["IAM role", iam, "CreateRoleRequest", { RoleName: "app-role@x", AssumeRolePolicyDocument: "{\"Version\":\"2012-10-17\"}" }],
  ] as const)("accepts %s", (_name, shapes, shape, input) => {
    expect(() => validateInput(shapes, shape, input)).not.toThrow();
  });

  it("refuses hostile nesting of recursive shapes instead of overflowing the stack", () => {
    let agg: Record<string, unknown> = { AggregatorType: "count" };
    for (let i = 0; i < 5000; i++) agg = { AggregatorType: "count", Aggregators: [agg] };
    const err = errorOf(() => validateInput(ssm, "GetOpsSummaryRequest", { Aggregators: [agg] }));
    expect(err.code).toBe("Serialization");
    expect(err.message).toMatch(/^Input nested too deeply at 'aggregators\.1\.member(\.aggregators\.1\.member)+'$/);
  });

  it("rejects an unknown input shape as an internal error", () => {
    expect(errorOf(() => validateInput(sm, "NoSuchRequest", {})).code).toBe("Internal");
  });
});

describe("sensitive values never reach an error message", () => {
  const CANARY = "SUPERSECRET-canary-7f3a";
  const secret = (n: number) => CANARY.repeat(Math.ceil(n / CANARY.length)).slice(0, Math.max(n, CANARY.length));
  const planted: [string, Record<string, Shape>, string, unknown][] = [
    ["SecretString too long", sm, "CreateSecretRequest", { Name: "n", SecretString: secret(65537) }],
    ["SecretString beside other errors", sm, "CreateSecretRequest", { Name: "", SecretString: secret(70000), Tags: [{ Key: "" }] }],
    ["PutSecretValue SecretString", sm, "PutSecretValueRequest", { SecretId: "s", SecretString: secret(65537) }],
    ["SecretString of the wrong type", sm, "CreateSecretRequest", { Name: "n", SecretString: [CANARY] }],
    ["SecretString as a number-ish object", sm, "CreateSecretRequest", { Name: "n", SecretString: { v: CANARY } }],
    ["SecretBinary too long", sm, "CreateSecretRequest", { Name: "n", SecretBinary: Buffer.from(secret(70000)).toString("base64") }],
    ["SecretBinary not base64", sm, "CreateSecretRequest", { Name: "n", SecretBinary: `${CANARY}!` }],
    ["IAM new password breaks its pattern", iam, "ChangePasswordRequest", { OldPassword: `${CANARY}\u0100`, NewPassword: secret(200) }],
    ["STS SAML assertion too short", sts, "AssumeRoleWithSAMLRequest",
      { RoleArn: "arn:aws:iam::123456789012:role/r", PrincipalArn: "arn:aws:iam::123456789012:saml-provider/p", SAMLAssertion: "CAN" }],
    ["KMS plaintext too long", kms, "EncryptRequest", { KeyId: "k", Plaintext: Buffer.from(secret(5000)).toString("base64") }],
    ["SSM sensitive map: secret keys and values", ssm, "RegisterTaskWithMaintenanceWindowRequest", {
      WindowId: "mw-0123456789abcdef0",
      TaskArn: "arn",
      TaskType: "RUN_COMMAND",
      TaskParameters: { [secret(300)]: { Values: [secret(300), ""] }, [CANARY]: { Values: [CANARY.repeat(20)] } },
    }],
    ["SSM sensitive map value of the wrong type", ssm, "RegisterTaskWithMaintenanceWindowRequest",
      { WindowId: "mw-0123456789abcdef0", TaskArn: "arn", TaskType: "RUN_COMMAND", TaskParameters: { [CANARY]: CANARY } }],
  ];

  it.each(planted)("%s", (_name, shapes, shape, input) => {
    const err = errorOf(() => validateInput(shapes, shape, input));
    expect(["Validation", "Serialization"]).toContain(err.code);
    expect(err.message).not.toContain(CANARY);
    expect(err.message).not.toContain("SUPERSECRET");
    expect(err.message).not.toContain(Buffer.from(CANARY).toString("base64").slice(0, 12));
  });

  it("still says where and why", () => {
    const err = errorOf(() => validateInput(sm, "CreateSecretRequest", { Name: "n", SecretString: secret(65537) }));
    expect(err.message).toBe(
      err1("Value at 'secretString' failed to satisfy constraint: Member must have length less than or equal to 65536"),
    );
    const map = errorOf(() =>
      validateInput(ssm, "RegisterTaskWithMaintenanceWindowRequest", {
        WindowId: "mw-0123456789abcdef0",
        TaskArn: "arn",
        TaskType: "RUN_COMMAND",
        TaskParameters: { [CANARY]: { Values: [""] } },
      }),
    );
    expect(map.message).toBe(
      err1("Value at 'taskParameters.member.values' failed to satisfy constraint: Member must satisfy constraint: " +
        "[Member must have length greater than or equal to 1]"),
    );
  });
});

describe("model patterns", () => {
  const withPatterns = Object.entries(ALL).flatMap(([service, shapes]) =>
    Object.entries(shapes)
      .filter((e): e is [string, StringShape] => e[1].type === "string" && e[1].pattern !== undefined)
      .map(([name, shape]) => ({ id: `${service}.${name}`, shape })),
  );

  it("every pattern in all six models compiles and is enforced", () => {
    expect(withPatterns.length).toBeGreaterThan(200);
    const unenforced = withPatterns.filter(({ shape }) => shape.patternUnsupported || !compilePattern(shape)).map((p) => p.id);
    expect(unenforced).toEqual([]);
  });

  it("caches compiled patterns", () => {
    const shape = sm.FilterValueStringType as StringShape;
    expect(compilePattern(shape)).toBe(compilePattern(shape));
  });

  it.each([
    // [java, matches, does not match]
    ["[\\w+=,.@-]+", ["a.b@c-d"], ["my role", ""]],
    ["^\\!?[a-zA-Z0-9 :_@\\/\\+\\=\\.\\-\\!]*$", ["!prod/x", "a=b"], ["a#b"]],
    ["(?i)all|[0-9]{12}", ["ALL", "123456789012"], ["alls"]],
    ["(?s).*", ["a\nb"], []],
    ["[\\s\\S]*\\S[\\s\\S]*", ["\u00a0", " x\n", "😀"], ["   ", "\t\n"]],
    ["^(?!\\s*$).+", ["\u00a0", "x "], ["  "]],
    ["[\\u0009\\u000A\\u000D\\u0020-\\u007E\\u0085\\u00A0-\\uD7FF\\uE000-\\uFFFD\\u10000-\\u10FFFF]+", ["arn:😀"], ["\u0001"]],
    ["[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\t]*", ["{\"a\":\"😀\"}"], ["\u0001"]],
    ["^arn:aws[a-z0-9-]*:iam::\\d{12}:role\\/[\\w-\\/.@+=,]{1,1017}$", ["arn:aws:iam::123456789012:role/a-b/c"], ["arn:aws:iam::1:role/x"]],
    ["\\Aab\\z", ["ab"], ["abc"]],
    ["a*+b", ["aab"], ["aa"]],
    ["\\Q.*\\E", [".*"], ["ab"]],
    ["[\\p{Alpha}-]+", ["ab-c"], ["a1"]],
  ] as const)("translates %s", (java, good, bad) => {
    const re = compileTranslated(javaRegexToJs(java));
    for (const s of good) expect(re.test(s), `${JSON.stringify(s)} should match`).toBe(true);
    for (const s of bad) expect(re.test(s), `${JSON.stringify(s)} should not match`).toBe(false);
  });

  it.each(["[a-z&&[^q]]", "(?>a)", "a(?i)b", "\\G", "\\p{javaLowerCase}"])("refuses %s", (java) => {
    expect(() => javaRegexToJs(java)).toThrow(UnsupportedPatternError);
  });
});

describe("codegen", () => {
  it("generated files are up to date (npm run codegen -- --check)", () => {
    const { files } = generateAll();
    expect(files).toHaveLength(18);
    expect(staleFiles(files)).toEqual([]);
  });

  it("generated files carry the header and no documentation prose", () => {
    for (const f of generateAll().files) {
      expect(f.content.startsWith("// Generated by tools/codegen/codegen.ts from ")).toBe(true);
      expect(f.content).not.toMatch(/documentation|<p>/);
    }
  });
});

describe("text that is not Unicode", () => {
  it("a lone surrogate in a string member is a SerializationException naming the member, not the value", () => {
    let err: unknown;
    try {
      validateInput(sm, "CreateSecretRequest", { Name: "a", SecretString: "x\ud800y" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CofferError);
    expect((err as CofferError).code).toBe("Serialization");
    expect((err as CofferError).message).toContain("secretString");
    expect(() => validateInput(sm, "CreateSecretRequest", { Name: "a", SecretString: "emoji \ud83d\ude00 ok" })).not.toThrow();
  });
});
