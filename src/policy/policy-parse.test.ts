import { describe, expect, it } from "vitest";
import { isPublicPolicy, parsePolicy, validatePolicy } from "./policy-parse.ts";
import { type Policy, PolicyError, type PolicyKind } from "./policy-types.ts";

const json = (v: unknown): string => JSON.stringify(v);
const ACCT = "111122223333";
const allowAll = { Effect: "Allow", Action: "secretsmanager:*", Resource: "*" };
const resourceStmt = { Effect: "Allow", Principal: { AWS: `arn:aws:iam::${ACCT}:user/alice` }, Action: "secretsmanager:GetSecretValue" };
const stmtDoc = (...Statement: unknown[]): string => json({ Version: "2012-10-17", Statement });

/** The problems reported for a document, as "message @ path". */
function problems(text: string, kind: PolicyKind = "identity"): string[] {
  return validatePolicy(text, kind).map((p) => (p.path ? `${p.message} @ ${p.path}` : p.message));
}

describe("parsePolicy: normalisation", () => {
  it("turns every single value into an array and keeps Sid and Version", () => {
    const p = parsePolicy(json({ Version: "2012-10-17", Id: "x", Statement: { Sid: "A1", ...allowAll } }), "identity");
    expect(p).toEqual({
      version: "2012-10-17",
      id: "x",
      statements: [{ sid: "A1", effect: "Allow", action: ["secretsmanager:*"], resource: ["*"] }],
    });
  });
  it("defaults a missing Version to 2008-10-17", () => {
    expect(parsePolicy(json({ Statement: [allowAll] }), "identity").version).toBe("2008-10-17");
  });
  it("accepts Version 2008-10-17 explicitly", () => {
    expect(parsePolicy(json({ Version: "2008-10-17", Statement: [allowAll] }), "identity").version).toBe("2008-10-17");
  });
  it("normalises an account id principal to the account root ARN", () => {
    const p = parsePolicy(stmtDoc({ ...resourceStmt, Principal: { AWS: ACCT } }), "resource");
    expect(p.statements[0].principal).toEqual({ AWS: [`arn:aws:iam::${ACCT}:root`] });
  });
  it("keeps Principal * as the string *", () => {
    expect(parsePolicy(stmtDoc({ ...resourceStmt, Principal: "*" }), "resource").statements[0].principal).toBe("*");
  });
  it("normalises Service, Federated and AWS lists", () => {
    const p = parsePolicy(
      stmtDoc({ ...resourceStmt, Principal: { Service: "ec2.amazonaws.com", AWS: [ACCT, "arn:aws:iam::444455556666:role/r"], Federated: "cognito-identity.amazonaws.com" } }),
      "trust",
    );
    expect(p.statements[0].principal).toEqual({
      Service: ["ec2.amazonaws.com"],
      AWS: [`arn:aws:iam::${ACCT}:root`, "arn:aws:iam::444455556666:role/r"],
      Federated: ["cognito-identity.amazonaws.com"],
    });
  });
  it("stringifies numeric and boolean condition values and keeps operators as written", () => {
    const p = parsePolicy(
      stmtDoc({ ...allowAll, Condition: { NumericLessThan: { "secretsmanager:RecoveryWindowInDays": 7 }, bool: { "aws:SecureTransport": [true, "false"] } } }),
      "identity",
    );
    expect(p.statements[0].condition).toEqual({
      NumericLessThan: { "secretsmanager:RecoveryWindowInDays": ["7"] },
      bool: { "aws:SecureTransport": ["true", "false"] },
    });
  });
  it("keeps NotAction, NotResource and NotPrincipal", () => {
    const p = parsePolicy(
      stmtDoc({ Effect: "Deny", NotPrincipal: { AWS: ACCT }, NotAction: "secretsmanager:Describe*", NotResource: "arn:aws:secretsmanager:*:*:secret:x" }),
      "resource",
    );
    expect(p.statements[0]).toEqual({
      effect: "Deny",
      notPrincipal: { AWS: [`arn:aws:iam::${ACCT}:root`] },
      notAction: ["secretsmanager:Describe*"],
      notResource: ["arn:aws:secretsmanager:*:*:secret:x"],
    });
  });
  it("accepts resource, key and trust policies without Resource", () => {
    for (const kind of ["resource", "key", "trust"] as const) expect(validatePolicy(stmtDoc(resourceStmt), kind)).toEqual([]);
  });
  it("accepts the AWS default key policy", () => {
    const keyPolicy = {
      Version: "2012-10-17",
      Id: "key-default-1",
      Statement: [{ Sid: "Enable IAM User Permissions", Effect: "Allow", Principal: { AWS: `arn:aws:iam::${ACCT}:root` }, Action: "kms:*", Resource: "*" }],
    };
    expect(validatePolicy(json(keyPolicy), "key")).toEqual([]);
  });
  it("accepts qualifiers, IfExists and any operator case", () => {
    const cond = {
      "ForAnyValue:StringLikeIfExists": { "aws:TagKeys": ["a*"] },
      "ForAllValues:StringEquals": { "aws:TagKeys": ["a"] },
      stringequals: { "aws:username": "x" },
      NumericLessThanEqualsIfExists: { "custom:n": "3" },
      Null: { "aws:SourceVpc": "true" },
    };
    expect(validatePolicy(stmtDoc({ ...allowAll, Condition: cond }), "identity")).toEqual([]);
  });
  it("accepts policy variables in Bool values and in resources", () => {
    expect(
      validatePolicy(stmtDoc({ ...allowAll, Resource: "arn:aws:secretsmanager:*:*:secret:${aws:username}/*", Condition: { Bool: { "custom:b": "${custom:flag}" } } }), "identity"),
    ).toEqual([]);
  });
});

describe("parsePolicy: errors", () => {
  const cases: [rule: string, text: string, kind: PolicyKind, expected: string][] = [
    ["text that is not JSON is a syntax error", "{ not json", "identity", "Syntax errors in policy."],
    ["a JSON array is not a policy", "[]", "identity", "Syntax errors in policy. The policy document must be a JSON object."],
    ["unknown top-level fields are errors", json({ Statement: [allowAll], Foo: 1 }), "identity", "Unknown field Foo. @ Foo"],
    ["an unsupported Version is an error", json({ Version: "2012-10-18", Statement: [allowAll] }), "identity", 'Invalid policy version "2012-10-18": use "2012-10-17". @ Version'],
    ["Statement is required", json({ Version: "2012-10-17" }), "identity", "Missing required field Statement. @ Statement"],
    ["Statement may not be empty", json({ Version: "2012-10-17", Statement: [] }), "identity", "Policy must contain at least one statement. @ Statement"],
    ["a statement must be an object", stmtDoc("Allow"), "identity", "Syntax errors in policy. A statement must be a JSON object. @ Statement[0]"],
    ["Effect is required", stmtDoc({ Action: "s3:*", Resource: "*" }), "identity", "Missing required field Effect. @ Statement[0].Effect"],
    ["Effect is case-sensitive", stmtDoc({ ...allowAll, Effect: "allow" }), "identity", "Invalid effect: allow. Effect must be Allow or Deny. @ Statement[0].Effect"],
    ["a statement needs Action or NotAction", stmtDoc({ Effect: "Allow", Resource: "*" }), "identity", "Policy statement must contain actions. @ Statement[0].Action"],
    ["Action and NotAction are exclusive", stmtDoc({ ...allowAll, NotAction: "s3:*" }), "identity", "A statement cannot contain both Action and NotAction. @ Statement[0]"],
    ["an action needs a service prefix", stmtDoc({ ...allowAll, Action: "GetSecretValue" }), "identity", "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc. Invalid action: GetSecretValue @ Statement[0].Action"],
    ["an action may not contain spaces", stmtDoc({ ...allowAll, Action: "secretsmanager:Get Secret" }), "identity", "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc. Invalid action: secretsmanager:Get Secret @ Statement[0].Action"],
    ["Action must be strings", stmtDoc({ ...allowAll, Action: ["s3:*", 3] }), "identity", "Syntax errors in policy. Action must be a string or an array of strings. @ Statement[0].Action"],
    ["Action may not be an empty list", stmtDoc({ ...allowAll, Action: [] }), "identity", "Action must not be empty. @ Statement[0].Action"],
    ["identity statements need Resource or NotResource", stmtDoc({ Effect: "Allow", Action: "s3:*" }), "identity", "Policy statement must contain resources. @ Statement[0].Resource"],
    ["Resource and NotResource are exclusive", stmtDoc({ ...allowAll, NotResource: "*" }), "identity", "A statement cannot contain both Resource and NotResource. @ Statement[0]"],
    ["a resource must be an ARN or *", stmtDoc({ ...allowAll, Resource: "prod/*" }), "identity", 'Resource prod/* must be in ARN format or "*". @ Statement[0].Resource'],
    ["a resource ARN needs six parts", stmtDoc({ ...allowAll, Resource: "arn:aws:secretsmanager:*" }), "identity", 'Resource arn:aws:secretsmanager:* must be in ARN format or "*". @ Statement[0].Resource'],
    ["identity policies may not name a principal", stmtDoc({ ...allowAll, Principal: "*" }), "identity", "Policy document should not specify a principal. @ Statement[0].Principal"],
    ["identity policies may not use NotPrincipal", stmtDoc({ ...allowAll, NotPrincipal: "*" }), "identity", "Policy document should not specify a principal. @ Statement[0].NotPrincipal"],
    ["resource policies need a principal", stmtDoc(allowAll), "resource", "Missing required field Principal. @ Statement[0].Principal"],
    ["key policies need a principal", stmtDoc(allowAll), "key", "Missing required field Principal. @ Statement[0].Principal"],
    ["trust policies need a principal", stmtDoc(allowAll), "trust", "Missing required field Principal. @ Statement[0].Principal"],
    ["Principal and NotPrincipal are exclusive", stmtDoc({ ...resourceStmt, NotPrincipal: "*" }), "resource", "A statement cannot contain both Principal and NotPrincipal. @ Statement[0]"],
    ["trust policies do not support NotPrincipal", stmtDoc({ Effect: "Deny", NotPrincipal: { AWS: ACCT }, Action: "sts:AssumeRole" }), "trust", "NotPrincipal is not supported in trust policies. @ Statement[0].NotPrincipal"],
    ["NotPrincipal requires Deny", stmtDoc({ Effect: "Allow", NotPrincipal: { AWS: ACCT }, Action: "s3:*" }), "resource", 'NotPrincipal must be used with "Effect": "Deny". @ Statement[0].NotPrincipal'],
    ["a principal must be * or an object", stmtDoc({ ...resourceStmt, Principal: "alice" }), "resource", 'Invalid principal in policy: "alice" @ Statement[0].Principal'],
    ["an AWS principal must be an account id or an IAM/STS ARN", stmtDoc({ ...resourceStmt, Principal: { AWS: "alice" } }), "resource", 'Invalid principal in policy: "AWS":"alice" @ Statement[0].Principal.AWS'],
    ["principal ARNs may not contain wildcards", stmtDoc({ ...resourceStmt, Principal: { AWS: `arn:aws:iam::${ACCT}:user/*` } }), "resource", `Invalid principal in policy: "AWS":"arn:aws:iam::${ACCT}:user/*" @ Statement[0].Principal.AWS`],
    ["principal ARNs must name an IAM or STS entity", stmtDoc({ ...resourceStmt, Principal: { AWS: `arn:aws:s3:::bucket` } }), "resource", 'Invalid principal in policy: "AWS":"arn:aws:s3:::bucket" @ Statement[0].Principal.AWS'],
    ["a Service principal may not be *", stmtDoc({ ...resourceStmt, Principal: { Service: "*" } }), "resource", 'Invalid principal in policy: "Service":"*" @ Statement[0].Principal.Service'],
    ["unknown principal types are errors", stmtDoc({ ...resourceStmt, Principal: { Group: "admins" } }), "resource", 'Invalid principal in policy: unknown principal type "Group". @ Statement[0].Principal.Group'],
    ["an empty principal object is an error", stmtDoc({ ...resourceStmt, Principal: {} }), "resource", "Invalid principal in policy: the principal must name at least one principal type. @ Statement[0].Principal"],
    ["unknown statement fields are errors", stmtDoc({ ...allowAll, Actions: "s3:*" }), "identity", "Unknown field Actions. @ Statement[0].Actions"],
    ["Sid must be a string", stmtDoc({ ...allowAll, Sid: 1 }), "identity", "Sid must be a string. @ Statement[0].Sid"],
    ["Sids must be unique", stmtDoc({ ...allowAll, Sid: "a" }, { ...allowAll, Sid: "a" }), "identity", "Statement IDs (SID) in a single policy must be unique: a. @ Statement[1].Sid"],
    ["unknown condition operators are errors", stmtDoc({ ...allowAll, Condition: { StringEqualz: { "aws:username": "x" } } }), "identity", "Invalid Condition type : StringEqualz. @ Statement[0].Condition.StringEqualz"],
    ["Null has no IfExists form", stmtDoc({ ...allowAll, Condition: { NullIfExists: { "aws:username": "true" } } }), "identity", "Invalid Condition type : NullIfExists. @ Statement[0].Condition.NullIfExists"],
    ["unknown set qualifiers are errors", stmtDoc({ ...allowAll, Condition: { "ForSomeValues:StringEquals": { "aws:TagKeys": "x" } } }), "identity", "Invalid Condition type : ForSomeValues:StringEquals. @ Statement[0].Condition.ForSomeValues:StringEquals"],
    ["Condition must be an object", stmtDoc({ ...allowAll, Condition: "x" }), "identity", "Syntax errors in policy. Condition must be an object. @ Statement[0].Condition"],
    ["an operator maps to an object of keys", stmtDoc({ ...allowAll, Condition: { StringEquals: "x" } }), "identity", "Syntax errors in policy. The value of condition StringEquals must be an object of keys. @ Statement[0].Condition.StringEquals"],
    ["condition keys need a vendor prefix", stmtDoc({ ...allowAll, Condition: { StringEquals: { username: "x" } } }), "identity", "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc. Invalid condition key: username @ Statement[0].Condition.StringEquals.username"],
    ["condition values must be scalars", stmtDoc({ ...allowAll, Condition: { StringEquals: { "aws:username": { a: 1 } } } }), "identity", "Syntax errors in policy. Condition values for aws:username must be strings, numbers or booleans. @ Statement[0].Condition.StringEquals.aws:username"],
    ["condition value lists may not be empty", stmtDoc({ ...allowAll, Condition: { StringEquals: { "aws:username": [] } } }), "identity", "Syntax errors in policy. Condition values for aws:username must be strings, numbers or booleans. @ Statement[0].Condition.StringEquals.aws:username"],
    ["IpAddress values must be IPs or CIDRs", stmtDoc({ ...allowAll, Condition: { IpAddress: { "aws:SourceIp": "10.0.0.0/33" } } }), "identity", 'Invalid IP address or CIDR "10.0.0.0/33" for IpAddress. @ Statement[0].Condition.IpAddress.aws:SourceIp'],
    ["numeric values must be numbers", stmtDoc({ ...allowAll, Condition: { NumericEquals: { "custom:n": "ten" } } }), "identity", 'Invalid number "ten" for NumericEquals. @ Statement[0].Condition.NumericEquals.custom:n'],
    ["date values must be ISO 8601 or epoch seconds", stmtDoc({ ...allowAll, Condition: { DateLessThan: { "aws:CurrentTime": "2024-02-30" } } }), "identity", 'Invalid date "2024-02-30" for DateLessThan: use ISO 8601 or epoch seconds. @ Statement[0].Condition.DateLessThan.aws:CurrentTime'],
    ["Bool values must be true or false", stmtDoc({ ...allowAll, Condition: { Bool: { "aws:SecureTransport": "yes" } } }), "identity", 'Invalid boolean "yes" for Bool. @ Statement[0].Condition.Bool.aws:SecureTransport'],
    ["Null values must be true or false", stmtDoc({ ...allowAll, Condition: { Null: { "aws:SourceVpc": "maybe" } } }), "identity", 'Invalid value "maybe" for Null: use true or false. @ Statement[0].Condition.Null.aws:SourceVpc'],
    ["BinaryEquals values must be base64", stmtDoc({ ...allowAll, Condition: { BinaryEquals: { "custom:b": "not base64!" } } }), "identity", "Invalid base64 value for BinaryEquals. @ Statement[0].Condition.BinaryEquals.custom:b"],
  ];
  it.each(cases)("%s", (_rule, text, kind, expected) => {
    expect(problems(text, kind)).toContain(expected);
    expect(() => parsePolicy(text, kind)).toThrow(PolicyError);
  });

  it("lists every problem, not just the first", () => {
    const text = json({
      Version: "2012-10-17",
      Bogus: true,
      Statement: [{ Effect: "Permit", Action: "x", Resource: "y" }, { Principal: "*", Action: "s3:*", Resource: "*" }],
    });
    expect(problems(text)).toEqual([
      "Unknown field Bogus. @ Bogus",
      "Invalid effect: Permit. Effect must be Allow or Deny. @ Statement[0].Effect",
      "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc. Invalid action: x @ Statement[0].Action",
      'Resource y must be in ARN format or "*". @ Statement[0].Resource',
      "Missing required field Effect. @ Statement[1].Effect",
      "Policy document should not specify a principal. @ Statement[1].Principal",
    ]);
    try {
      parsePolicy(text, "identity");
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(PolicyError);
      expect((err as PolicyError).errors).toEqual(validatePolicy(text, "identity"));
      expect((err as PolicyError).message).toContain("Missing required field Effect.");
    }
  });

  it("returns [] for a valid policy", () => {
    expect(validatePolicy(stmtDoc(allowAll), "identity")).toEqual([]);
  });

  it("uses the bare Statement path when Statement is a single object", () => {
    expect(problems(json({ Statement: { Action: "s3:*", Resource: "*" } }))).toEqual(["Missing required field Effect. @ Statement.Effect"]);
  });
});

describe("isPublicPolicy", () => {
  const pol = (...st: object[]): Policy => parsePolicy(stmtDoc(...st), "resource");
  const anyone = { Effect: "Allow", Principal: "*", Action: "secretsmanager:GetSecretValue" };
  const cases: [rule: string, policy: Policy, expected: boolean][] = [
    ["Principal * without a condition is public", pol(anyone), true],
    ['Principal {"AWS": "*"} is public', pol({ ...anyone, Principal: { AWS: "*" } }), true],
    ["a specific account is not public", pol({ ...anyone, Principal: { AWS: "444455556666" } }), false],
    ["a specific role is not public", pol({ ...anyone, Principal: { AWS: `arn:aws:iam::${ACCT}:role/app` } }), false],
    ["a service principal is not public", pol({ ...anyone, Principal: { Service: "secretsmanager.amazonaws.com" } }), false],
    ["a Deny for * is not public", pol({ ...anyone, Effect: "Deny" }), false],
    ["aws:PrincipalAccount StringEquals pins the statement", pol({ ...anyone, Condition: { StringEquals: { "aws:PrincipalAccount": ACCT } } }), false],
    ["aws:PrincipalOrgID StringEquals pins the statement", pol({ ...anyone, Condition: { StringEquals: { "aws:PrincipalOrgID": "o-abc123" } } }), false],
    ["aws:PrincipalArn ArnEquals pins the statement", pol({ ...anyone, Condition: { ArnEquals: { "aws:PrincipalArn": `arn:aws:iam::${ACCT}:role/app` } } }), false],
    ["aws:SourceAccount StringEquals pins the statement", pol({ ...anyone, Condition: { StringEquals: { "aws:SourceAccount": ACCT } } }), false],
    ["condition key case does not matter for pinning", pol({ ...anyone, Condition: { StringEquals: { "AWS:PRINCIPALACCOUNT": ACCT } } }), false],
    ["a wildcard in the pinning value is public", pol({ ...anyone, Condition: { ArnLike: { "aws:PrincipalArn": "arn:aws:iam::*:role/app" } } }), true],
    ["StringEqualsIfExists does not pin (missing key passes)", pol({ ...anyone, Condition: { StringEqualsIfExists: { "aws:PrincipalAccount": ACCT } } }), true],
    ["StringNotEquals does not pin", pol({ ...anyone, Condition: { StringNotEquals: { "aws:PrincipalAccount": ACCT } } }), true],
    ["ForAnyValue does not pin", pol({ ...anyone, Condition: { "ForAnyValue:StringEquals": { "aws:PrincipalAccount": ACCT } } }), true],
    ["a source IP condition does not pin to principals", pol({ ...anyone, Condition: { IpAddress: { "aws:SourceIp": "10.0.0.0/8" } } }), true],
    ["a policy variable in the pinning value does not pin", pol({ ...anyone, Condition: { StringEquals: { "aws:PrincipalAccount": "${aws:PrincipalAccount}" } } }), true],
    ["one public statement among private ones makes the policy public", pol({ ...anyone, Principal: { AWS: ACCT } }, anyone), true],
    [
      "NotPrincipal with Allow (hand-built) is public",
      { version: "2012-10-17", statements: [{ effect: "Allow", notPrincipal: { AWS: [`arn:aws:iam::${ACCT}:root`] }, action: ["secretsmanager:*"] }] },
      true,
    ],
    ["NotPrincipal with Deny is not public", pol({ Effect: "Deny", NotPrincipal: { AWS: ACCT }, Action: "secretsmanager:*" }), false],
  ];
  it.each(cases)("%s", (_rule, policy, expected) => {
    expect(isPublicPolicy(policy, ACCT)).toBe(expected);
  });
});
