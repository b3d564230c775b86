import { describe, expect, it } from "vitest";
import { accessDeniedMessage, evaluate } from "./policy-evaluate.ts";
import { parsePolicy } from "./policy-parse.ts";
import type { Decision, PolicyKind, RequestContext } from "./policy-types.ts";

// ---------------------------------------------------------------------------------------------
// Cast and props
// ---------------------------------------------------------------------------------------------
type Who = RequestContext["principal"];
const ACCT = "111122223333";
const OTHER = "444455556666";
const ALICE: Who = { arn: `arn:aws:iam::${ACCT}:user/alice`, accountId: ACCT, isRoot: false };
const DEV: Who = { arn: `arn:aws:iam::${ACCT}:user/engineering/dev`, accountId: ACCT, isRoot: false };
const ROOT: Who = { arn: `arn:aws:iam::${ACCT}:root`, accountId: ACCT, isRoot: true };
const APP: Who = {
  arn: `arn:aws:sts::${ACCT}:assumed-role/app/i-0123`,
  roleArn: `arn:aws:iam::${ACCT}:role/app`,
  accountId: ACCT,
  isRoot: false,
};
const BOB: Who = { arn: `arn:aws:iam::${OTHER}:user/bob`, accountId: OTHER, isRoot: false };
const OTHER_ROOT: Who = { arn: `arn:aws:iam::${OTHER}:root`, accountId: OTHER, isRoot: true };
const XAPP: Who = {
  arn: `arn:aws:sts::${OTHER}:assumed-role/reader/ci`,
  roleArn: `arn:aws:iam::${OTHER}:role/reader`,
  accountId: OTHER,
  isRoot: false,
};
const SM_SERVICE: Who = { arn: "secretsmanager.amazonaws.com", accountId: "", isRoot: false };
const EC2_SERVICE: Who = { arn: "ec2.amazonaws.com", accountId: "", isRoot: false };

const SM = `arn:aws:secretsmanager:us-east-1:${ACCT}:secret`;
const SECRET = `${SM}:prod/myapp/db-AbCdEf`;
const OTHER_SECRET = `${SM}:prod/other/x-123456`;
const FOREIGN_SECRET = `arn:aws:secretsmanager:us-east-1:${OTHER}:secret:shared/db-AbCdEf`;
const KEY = `arn:aws:kms:us-east-1:${ACCT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const ROLE = `arn:aws:iam::${ACCT}:role/app`;
const GET = "secretsmanager:GetSecretValue";

type Stmt = Record<string, unknown>;
type Doc = Record<string, unknown>;
const doc = (...Statement: Stmt[]): Doc => ({ Version: "2012-10-17", Statement });
const A = (Action: string | string[], Resource: string | string[] = "*", Condition?: object): Stmt => ({
  Effect: "Allow",
  Action,
  Resource,
  ...(Condition ? { Condition } : {}),
});
const D = (Action: string | string[], Resource: string | string[] = "*", Condition?: object): Stmt => ({
  Effect: "Deny",
  Action,
  Resource,
  ...(Condition ? { Condition } : {}),
});
/** Resource-policy statements: Resource omitted (the attached resource is implied). */
const RA = (Principal: unknown, Action: string | string[] = GET, Condition?: object): Stmt => ({
  Effect: "Allow",
  Principal,
  Action,
  ...(Condition ? { Condition } : {}),
});
const RD = (Principal: unknown, Action: string | string[] = GET, Condition?: object): Stmt => ({
  Effect: "Deny",
  Principal,
  Action,
  ...(Condition ? { Condition } : {}),
});
const ENABLE_IAM = { Sid: "Enable IAM User Permissions", ...RA({ AWS: `arn:aws:iam::${ACCT}:root` }, "kms:*"), Resource: "*" };

type Expect =
  | "allow"
  | "deny:identity"
  | "deny:resource"
  | "deny:key"
  | "deny:trust"
  | "implicit:identity"
  | "implicit:resource"
  | "implicit:key"
  | "implicit:trust"
  | "deny:session"
  | "implicit:session"
  | "deny:boundary"
  | "implicit:boundary";

interface Row {
  rule: string;
  id?: Doc[];
  rp?: Doc;
  mode?: "default" | "key" | "trust";
  who?: Who;
  action?: string;
  res?: string;
  resourceAccount?: string;
  ctx?: RequestContext["context"];
  expect: Expect;
}

function show(d: Decision): Expect {
  if (d.effect === "Allow") return "allow";
  return (d.explicit ? `deny:${d.by}` : `implicit:${d.missing}`) as Expect;
}

function run(row: Row): Expect {
  const kind: PolicyKind = row.mode === "key" ? "key" : row.mode === "trust" ? "trust" : "resource";
  const decision = evaluate(
    {
      identityPolicies: (row.id ?? []).map((d) => parsePolicy(JSON.stringify(d), "identity")),
      ...(row.rp ? { resourcePolicy: parsePolicy(JSON.stringify(row.rp), kind) } : {}),
      ...(row.mode ? { mode: row.mode } : {}),
    },
    {
      principal: row.who ?? ALICE,
      action: row.action ?? GET,
      resource: row.res ?? SECRET,
      ...(row.resourceAccount ? { resourceAccount: row.resourceAccount } : {}),
      context: row.ctx ?? {},
    },
  );
  return show(decision);
}

/** An identity policy allowing GetSecretValue on everything under one condition block. */
const cond = (rule: string, Condition: object, ctx: RequestContext["context"], ok: boolean): Row => ({
  rule,
  id: [doc(A(GET, "*", Condition))],
  ctx,
  expect: ok ? "allow" : "implicit:identity",
});

// ---------------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------------
const actions: Row[] = [
  { rule: "identity Allow on the exact action and resource allows", id: [doc(A(GET, SECRET))], expect: "allow" },
  { rule: "no applicable policy is an implicit deny", expect: "implicit:identity" },
  { rule: "an empty list of identity policies with an unrelated resource policy still denies", rp: doc(RA({ AWS: BOB.arn })), expect: "implicit:identity" },
  { rule: "action matching is case-insensitive", id: [doc(A("SecretsManager:getsecretVALUE", SECRET))], expect: "allow" },
  { rule: "secretsmanager:Get* matches GetSecretValue", id: [doc(A("secretsmanager:Get*"))], expect: "allow" },
  { rule: "secretsmanager:Get* does not match PutSecretValue", id: [doc(A("secretsmanager:Get*"))], action: "secretsmanager:PutSecretValue", expect: "implicit:identity" },
  { rule: "secretsmanager:* matches every Secrets Manager action", id: [doc(A("secretsmanager:*"))], action: "secretsmanager:DeleteSecret", expect: "allow" },
  { rule: "Action * matches every action of every service", id: [doc(A("*"))], action: "kms:Decrypt", res: KEY, expect: "allow" },
  { rule: "a service wildcard does not match another service", id: [doc(A("kms:*"))], expect: "implicit:identity" },
  { rule: "Action ? matches exactly one character", id: [doc(A("secretsmanager:GetSecretValu?"))], expect: "allow" },
  { rule: "Action ? does not match zero characters", id: [doc(A("secretsmanager:GetSecretValue?"))], expect: "implicit:identity" },
  { rule: "an action without a wildcard does not match a longer action", id: [doc(A("secretsmanager:Get"))], expect: "implicit:identity" },
  { rule: "a wildcard in the middle of an action matches", id: [doc(A("secretsmanager:*Value"))], expect: "allow" },
  { rule: "a list of actions matches if any element matches", id: [doc(A(["secretsmanager:DescribeSecret", GET]))], expect: "allow" },
  { rule: "NotAction allows every action not listed", id: [doc({ Effect: "Allow", NotAction: "secretsmanager:DeleteSecret", Resource: "*" })], expect: "allow" },
  { rule: "NotAction does not allow the listed action", id: [doc({ Effect: "Allow", NotAction: "secretsmanager:DeleteSecret", Resource: "*" })], action: "secretsmanager:DeleteSecret", expect: "implicit:identity" },
  { rule: "NotAction wildcards exclude every matching action", id: [doc({ Effect: "Allow", NotAction: "secretsmanager:Delete*", Resource: "*" })], action: "secretsmanager:DeleteResourcePolicy", expect: "implicit:identity" },
  { rule: "Deny with NotAction denies every action except those listed", id: [doc(A("*"), { Effect: "Deny", NotAction: "secretsmanager:Describe*", Resource: "*" })], expect: "deny:identity" },
  { rule: "Deny with NotAction spares the listed actions", id: [doc(A("*"), { Effect: "Deny", NotAction: "secretsmanager:Describe*", Resource: "*" })], action: "secretsmanager:DescribeSecret", expect: "allow" },
  { rule: "NotAction is case-insensitive too", id: [doc({ Effect: "Allow", NotAction: "SECRETSMANAGER:GETSECRETVALUE", Resource: "*" })], expect: "implicit:identity" },
];

const resources: Row[] = [
  { rule: "Resource * matches any ARN", id: [doc(A(GET, "*"))], expect: "allow" },
  { rule: "resource matching is case-sensitive", id: [doc(A(GET, `${SM}:prod/MyApp/db-AbCdEf`))], expect: "implicit:identity" },
  { rule: "arn:aws:secretsmanager:*:*:secret:prod/myapp/* matches secrets under the prefix", id: [doc(A(GET, "arn:aws:secretsmanager:*:*:secret:prod/myapp/*"))], expect: "allow" },
  { rule: "arn:aws:secretsmanager:*:*:secret:prod/myapp/* does not match prod/other", id: [doc(A(GET, "arn:aws:secretsmanager:*:*:secret:prod/myapp/*"))], res: OTHER_SECRET, expect: "implicit:identity" },
  { rule: "* in the resource part spans slashes", id: [doc(A(GET, `${SM}:prod/*`))], expect: "allow" },
  { rule: "? in a resource matches exactly one character", id: [doc(A(GET, `${SM}:prod/myapp/db-??????`))], expect: "allow" },
  { rule: "? in a resource does not match two characters", id: [doc(A(GET, `${SM}:prod/myapp/db-?????`))], expect: "implicit:identity" },
  { rule: "a wildcard in an ARN segment does not span colons", id: [doc(A(GET, `arn:aws:*:${ACCT}:secret:prod/*`))], expect: "implicit:identity" },
  { rule: "a wildcard in the region segment matches that segment", id: [doc(A(GET, `arn:aws:secretsmanager:us-east-?:${ACCT}:secret:*`))], expect: "allow" },
  { rule: "the account segment must match", id: [doc(A(GET, `arn:aws:secretsmanager:us-east-1:${OTHER}:secret:*`))], expect: "implicit:identity" },
  { rule: "the partition segment must match", id: [doc(A(GET, `arn:aws-cn:secretsmanager:*:*:secret:*`))], expect: "implicit:identity" },
  { rule: "the resource part after the fifth colon may contain colons", id: [doc(A(GET, `${SM}:*`))], res: `${SM}:a:b:c`, expect: "allow" },
  { rule: "an exact ARN without wildcards must match entirely", id: [doc(A(GET, `${SM}:prod/myapp/db`))], expect: "implicit:identity" },
  { rule: "a list of resources matches if any element matches", id: [doc(A(GET, [OTHER_SECRET, SECRET]))], expect: "allow" },
  { rule: "NotResource allows resources not listed", id: [doc({ Effect: "Allow", Action: GET, NotResource: `${SM}:prod/myapp/*` })], res: OTHER_SECRET, expect: "allow" },
  { rule: "NotResource does not allow a listed resource", id: [doc({ Effect: "Allow", Action: GET, NotResource: `${SM}:prod/myapp/*` })], expect: "implicit:identity" },
  { rule: "Deny with NotResource denies everything outside the listed prefix", id: [doc(A(GET), { Effect: "Deny", Action: "*", NotResource: `${SM}:prod/myapp/*` })], res: OTHER_SECRET, expect: "deny:identity" },
  { rule: "Deny with NotResource spares the listed prefix", id: [doc(A(GET), { Effect: "Deny", Action: "*", NotResource: `${SM}:prod/myapp/*` })], expect: "allow" },
  { rule: "an action without a resource type needs Resource *", id: [doc(A("secretsmanager:ListSecrets", `${SM}:*`))], action: "secretsmanager:ListSecrets", res: "*", expect: "implicit:identity" },
  { rule: "an action without a resource type is allowed with Resource *", id: [doc(A("secretsmanager:ListSecrets"))], action: "secretsmanager:ListSecrets", res: "*", expect: "allow" },
];

const precedence: Row[] = [
  { rule: "explicit deny in an identity policy overrides an allow in the same policy", id: [doc(A(GET), D(GET, SECRET))], expect: "deny:identity" },
  { rule: "explicit deny in one identity policy overrides an allow in another", id: [doc(A("*")), doc(D("secretsmanager:Get*"))], expect: "deny:identity" },
  { rule: "explicit deny in identity policy overrides allow in resource policy", id: [doc(D(GET))], rp: doc(RA({ AWS: ALICE.arn })), expect: "deny:identity" },
  { rule: "explicit deny in resource policy overrides allow in identity policy", id: [doc(A(GET))], rp: doc(RD({ AWS: ALICE.arn })), expect: "deny:resource" },
  { rule: "a deny on another action does not affect this action", id: [doc(A(GET), D("secretsmanager:DeleteSecret"))], expect: "allow" },
  { rule: "a deny on another resource does not affect this resource", id: [doc(A(GET), D(GET, OTHER_SECRET))], expect: "allow" },
  { rule: "a deny whose condition is not met does not apply", id: [doc(A(GET), D(GET, "*", { Bool: { "aws:SecureTransport": "false" } }))], ctx: { "aws:SecureTransport": "true" }, expect: "allow" },
  { rule: "a resource-policy deny naming the account root denies every principal of that account", id: [doc(A(GET))], rp: doc(RD({ AWS: ACCT })), expect: "deny:resource" },
  { rule: "a resource-policy deny for Principal * applies to everyone", id: [doc(A(GET))], rp: doc(RD("*")), expect: "deny:resource" },
  { rule: "a resource-policy deny naming another principal does not apply", id: [doc(A(GET))], rp: doc(RD({ AWS: BOB.arn })), expect: "allow" },
  { rule: "a resource-policy deny naming the role applies to its sessions", id: [doc(A(GET))], rp: doc(RD({ AWS: ROLE })), who: APP, expect: "deny:resource" },
  { rule: "a resource-policy deny on another action does not apply", id: [doc(A(GET))], rp: doc(RD("*", "secretsmanager:DeleteSecret")), expect: "allow" },
  { rule: "an explicit deny is reported even when the identity policy has no allow", rp: doc(RD("*")), expect: "deny:resource" },
];

const root: Row[] = [
  { rule: "the account root is allowed everything in its own account without policies", who: ROOT, expect: "allow" },
  { rule: "the account root is allowed actions without a resource type", who: ROOT, action: "secretsmanager:ListSecrets", res: "*", expect: "allow" },
  { rule: "a resource policy can explicitly deny the account root", who: ROOT, rp: doc(RD("*")), expect: "deny:resource" },
  { rule: "a resource policy deny naming the account denies its root", who: ROOT, rp: doc(RD({ AWS: ACCT })), expect: "deny:resource" },
  { rule: "the root of another account is denied without a resource policy", who: OTHER_ROOT, expect: "implicit:resource" },
  { rule: "cross-account root is allowed when the resource policy names its account id", who: OTHER_ROOT, rp: doc(RA({ AWS: OTHER })), expect: "allow" },
  { rule: "cross-account root is allowed when the resource policy names its root ARN", who: OTHER_ROOT, rp: doc(RA({ AWS: `arn:aws:iam::${OTHER}:root` })), expect: "allow" },
  { rule: "cross-account root is not allowed by a resource policy naming a third account", who: OTHER_ROOT, rp: doc(RA({ AWS: "999999999999" })), expect: "implicit:resource" },
];

const sameAccount: Row[] = [
  { rule: "same account: a resource policy naming the user allows without an identity policy", rp: doc(RA({ AWS: ALICE.arn })), expect: "allow" },
  { rule: "same account: an identity policy allows without a resource policy", id: [doc(A(GET, SECRET))], expect: "allow" },
  { rule: "same account: a resource policy naming only the account root does not grant by itself", rp: doc(RA({ AWS: ACCT })), expect: "implicit:identity" },
  { rule: "same account: account-root delegation plus an identity allow allows", id: [doc(A(GET))], rp: doc(RA({ AWS: `arn:aws:iam::${ACCT}:root` })), expect: "allow" },
  { rule: "same account: a resource policy naming the role ARN allows its sessions", who: APP, rp: doc(RA({ AWS: ROLE })), expect: "allow" },
  { rule: "same account: a resource policy naming the session ARN allows that session", who: APP, rp: doc(RA({ AWS: APP.arn })), expect: "allow" },
  { rule: "same account: a resource policy naming another session of the role does not grant", who: APP, rp: doc(RA({ AWS: `arn:aws:sts::${ACCT}:assumed-role/app/other` })), expect: "implicit:identity" },
  { rule: "same account: a resource policy naming another role does not grant", who: APP, rp: doc(RA({ AWS: `arn:aws:iam::${ACCT}:role/admin` })), expect: "implicit:identity" },
  { rule: "same account: Principal * in the resource policy grants", rp: doc(RA("*")), expect: "allow" },
  { rule: "same account: Principal {AWS: *} in the resource policy grants", rp: doc(RA({ AWS: "*" })), expect: "allow" },
  { rule: "same account: a resource-policy allow for another action does not grant", rp: doc(RA({ AWS: ALICE.arn }, "secretsmanager:DescribeSecret")), expect: "implicit:identity" },
  { rule: "same account: a resource-policy allow with an unmet condition does not grant", rp: doc(RA({ AWS: ALICE.arn }, GET, { StringEquals: { "secretsmanager:VersionStage": "AWSCURRENT" } })), ctx: { "secretsmanager:VersionStage": "AWSPENDING" }, expect: "implicit:identity" },
  { rule: "same account: a resource-policy statement for another resource does not grant", rp: doc({ ...RA({ AWS: ALICE.arn }), Resource: OTHER_SECRET }), expect: "implicit:identity" },
  { rule: "same account: a resource-policy statement with Resource * grants", rp: doc({ ...RA({ AWS: ALICE.arn }), Resource: "*" }), expect: "allow" },
  { rule: "same account: a resource policy naming a user of another account does not grant", rp: doc(RA({ AWS: BOB.arn })), expect: "implicit:identity" },
  { rule: "same account: identity allow and resource policy for someone else still allows (union)", id: [doc(A(GET))], rp: doc(RA({ AWS: BOB.arn })), expect: "allow" },
  { rule: "same account: user names are exact, not prefixes", rp: doc(RA({ AWS: `arn:aws:iam::${ACCT}:user/ali` })), expect: "implicit:identity" },
  { rule: "same account: a user with a path is matched by its full ARN", who: DEV, rp: doc(RA({ AWS: DEV.arn })), expect: "allow" },
];

const crossAccount: Row[] = [
  { rule: "cross-account: an identity allow alone is not enough", who: BOB, id: [doc(A(GET))], expect: "implicit:resource" },
  { rule: "cross-account: a resource policy naming the user alone is not enough", who: BOB, rp: doc(RA({ AWS: BOB.arn })), expect: "implicit:identity" },
  { rule: "cross-account: resource policy naming the user and identity allow allows (intersection)", who: BOB, id: [doc(A(GET))], rp: doc(RA({ AWS: BOB.arn })), expect: "allow" },
  { rule: "cross-account: resource policy delegating to the caller's account plus identity allow allows", who: BOB, id: [doc(A(GET, SECRET))], rp: doc(RA({ AWS: OTHER })), expect: "allow" },
  { rule: "cross-account: account delegation without an identity allow denies", who: BOB, rp: doc(RA({ AWS: OTHER })), expect: "implicit:identity" },
  { rule: "cross-account: Principal * plus identity allow allows", who: BOB, id: [doc(A(GET))], rp: doc(RA("*")), expect: "allow" },
  { rule: "cross-account: a resource policy naming a different account does not grant", who: BOB, id: [doc(A(GET))], rp: doc(RA({ AWS: "999999999999" })), expect: "implicit:resource" },
  { rule: "cross-account: a resource policy naming the owner account does not grant foreigners", who: BOB, id: [doc(A(GET))], rp: doc(RA({ AWS: ACCT })), expect: "implicit:resource" },
  { rule: "cross-account: a session is matched by its role ARN", who: XAPP, id: [doc(A(GET))], rp: doc(RA({ AWS: XAPP.roleArn })), expect: "allow" },
  { rule: "cross-account: explicit identity deny wins over a resource allow", who: BOB, id: [doc(A(GET), D(GET))], rp: doc(RA({ AWS: BOB.arn })), expect: "deny:identity" },
  { rule: "cross-account: a resource-policy deny for the caller's account wins", who: BOB, id: [doc(A(GET))], rp: doc(RA({ AWS: BOB.arn }), RD({ AWS: OTHER })), expect: "deny:resource" },
  { rule: "cross-account: when both are missing the resource policy is reported", who: BOB, expect: "implicit:resource" },
  { rule: "the resource account comes from the ARN when not given", who: ALICE, id: [doc(A(GET))], res: FOREIGN_SECRET, expect: "implicit:resource" },
  { rule: "an explicit resourceAccount wins over the ARN", who: ALICE, id: [doc(A(GET))], res: FOREIGN_SECRET, resourceAccount: ACCT, expect: "allow" },
  { rule: "resource * counts as the caller's own account", who: BOB, id: [doc(A("secretsmanager:ListSecrets"))], action: "secretsmanager:ListSecrets", res: "*", expect: "allow" },
  { rule: "cross-account: identity allow must also cover the resource ARN", who: BOB, id: [doc(A(GET, `arn:aws:secretsmanager:*:${OTHER}:secret:*`))], rp: doc(RA({ AWS: BOB.arn })), expect: "implicit:identity" },
];

const keyPolicy = (...st: Stmt[]): Doc => doc(...st);
const keyMode: Row[] = [
  { rule: "key: Enable IAM User Permissions plus identity allow allows", mode: "key", action: "kms:Decrypt", res: KEY, id: [doc(A("kms:Decrypt", KEY))], rp: keyPolicy(ENABLE_IAM), expect: "allow" },
  { rule: "key: Enable IAM User Permissions without identity allow denies", mode: "key", action: "kms:Decrypt", res: KEY, rp: keyPolicy(ENABLE_IAM), expect: "implicit:identity" },
  { rule: "key: identity policies alone never suffice", mode: "key", action: "kms:Decrypt", res: KEY, id: [doc(A("kms:*"))], expect: "implicit:key" },
  { rule: "key: without the root statement an identity allow does not help", mode: "key", action: "kms:Decrypt", res: KEY, id: [doc(A("kms:*"))], rp: keyPolicy({ ...RA({ AWS: BOB.arn }, "kms:*"), Resource: "*" }), expect: "implicit:key" },
  { rule: "key: a key policy naming the user allows without an identity policy", mode: "key", action: "kms:Decrypt", res: KEY, rp: keyPolicy(RA({ AWS: ALICE.arn }, "kms:Decrypt")), expect: "allow" },
  { rule: "key: a key policy naming the role allows its sessions", mode: "key", action: "kms:Decrypt", res: KEY, who: APP, rp: keyPolicy(RA({ AWS: ROLE }, ["kms:Decrypt", "kms:GenerateDataKey*"])), expect: "allow" },
  { rule: "key: GenerateDataKey* matches GenerateDataKeyWithoutPlaintext", mode: "key", action: "kms:GenerateDataKeyWithoutPlaintext", res: KEY, who: APP, rp: keyPolicy(RA({ AWS: ROLE }, "kms:GenerateDataKey*")), expect: "allow" },
  { rule: "key: the account root is allowed through Enable IAM User Permissions", mode: "key", action: "kms:Decrypt", res: KEY, who: ROOT, rp: keyPolicy(ENABLE_IAM), expect: "allow" },
  { rule: "key: the account root is denied when the key policy does not name the account", mode: "key", action: "kms:Decrypt", res: KEY, who: ROOT, rp: keyPolicy(RA({ AWS: ALICE.arn }, "kms:Decrypt")), expect: "implicit:key" },
  { rule: "key: an explicit deny in the key policy wins", mode: "key", action: "kms:Decrypt", res: KEY, id: [doc(A("kms:*"))], rp: keyPolicy(ENABLE_IAM, RD("*", "kms:Decrypt")), expect: "deny:key" },
  { rule: "key: an explicit deny in an identity policy wins", mode: "key", action: "kms:Decrypt", res: KEY, id: [doc(D("kms:Decrypt"))], rp: keyPolicy(RA({ AWS: ALICE.arn }, "kms:*")), expect: "deny:identity" },
  { rule: "key cross-account: key policy naming the other account plus its identity allow allows", mode: "key", action: "kms:Decrypt", res: KEY, who: BOB, id: [doc(A("kms:Decrypt", KEY))], rp: keyPolicy(ENABLE_IAM, RA({ AWS: `arn:aws:iam::${OTHER}:root` }, "kms:Decrypt")), expect: "allow" },
  { rule: "key cross-account: key policy naming the other account without identity allow denies", mode: "key", action: "kms:Decrypt", res: KEY, who: BOB, rp: keyPolicy(RA({ AWS: OTHER }, "kms:Decrypt")), expect: "implicit:identity" },
  { rule: "key cross-account: naming the external user still needs its identity policy", mode: "key", action: "kms:Decrypt", res: KEY, who: BOB, rp: keyPolicy(RA({ AWS: BOB.arn }, "kms:Decrypt")), expect: "implicit:identity" },
  { rule: "key cross-account: naming the external user with its identity allow allows", mode: "key", action: "kms:Decrypt", res: KEY, who: BOB, id: [doc(A("kms:Decrypt"))], rp: keyPolicy(RA({ AWS: BOB.arn }, "kms:Decrypt")), expect: "allow" },
  { rule: "key cross-account: Enable IAM User Permissions of the owner does not admit foreigners", mode: "key", action: "kms:Decrypt", res: KEY, who: BOB, id: [doc(A("kms:*"))], rp: keyPolicy(ENABLE_IAM), expect: "implicit:key" },
  { rule: "key: a key policy allowing only Encrypt does not allow Decrypt", mode: "key", action: "kms:Decrypt", res: KEY, rp: keyPolicy(RA({ AWS: ALICE.arn }, "kms:Encrypt")), expect: "implicit:key" },
  { rule: "key: a key-administrators statement does not allow cryptographic use", mode: "key", action: "kms:Decrypt", res: KEY, rp: keyPolicy(RA({ AWS: ALICE.arn }, ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion"])), expect: "implicit:key" },
  { rule: "key: kms:ViaService condition met allows", mode: "key", action: "kms:Decrypt", res: KEY, rp: keyPolicy(RA({ AWS: ALICE.arn }, "kms:Decrypt", { StringEquals: { "kms:ViaService": "secretsmanager.us-east-1.amazonaws.com" } })), ctx: { "kms:ViaService": "secretsmanager.us-east-1.amazonaws.com" }, expect: "allow" },
  { rule: "key: kms:ViaService missing means the condition fails", mode: "key", action: "kms:Decrypt", res: KEY, rp: keyPolicy(RA({ AWS: ALICE.arn }, "kms:Decrypt", { StringEquals: { "kms:ViaService": "secretsmanager.us-east-1.amazonaws.com" } })), expect: "implicit:key" },
  { rule: "key: a service principal named in the key policy is allowed", mode: "key", action: "kms:Decrypt", res: KEY, who: SM_SERVICE, rp: keyPolicy(RA({ Service: "secretsmanager.amazonaws.com" }, "kms:Decrypt")), expect: "allow" },
];

const trust = (...st: Stmt[]): Doc => doc(...st);
const ASSUME = "sts:AssumeRole";
const trustMode: Row[] = [
  { rule: "trust: naming the user allows AssumeRole in the same account without identity policy", mode: "trust", action: ASSUME, res: ROLE, rp: trust(RA({ AWS: ALICE.arn }, ASSUME)), expect: "allow" },
  { rule: "trust: naming the account root requires an identity allow", mode: "trust", action: ASSUME, res: ROLE, rp: trust(RA({ AWS: ACCT }, ASSUME)), expect: "implicit:identity" },
  { rule: "trust: account root plus identity allow allows", mode: "trust", action: ASSUME, res: ROLE, id: [doc(A(ASSUME, ROLE))], rp: trust(RA({ AWS: `arn:aws:iam::${ACCT}:root` }, ASSUME)), expect: "allow" },
  { rule: "trust: an identity allow without a trust statement denies", mode: "trust", action: ASSUME, res: ROLE, id: [doc(A(ASSUME))], rp: trust(RA({ AWS: BOB.arn }, ASSUME)), expect: "implicit:trust" },
  { rule: "trust: a service principal named in Service may assume the role", mode: "trust", action: ASSUME, res: ROLE, who: EC2_SERVICE, rp: trust(RA({ Service: "ec2.amazonaws.com" }, ASSUME)), expect: "allow" },
  { rule: "trust: another service may not", mode: "trust", action: ASSUME, res: ROLE, who: SM_SERVICE, rp: trust(RA({ Service: "ec2.amazonaws.com" }, ASSUME)), expect: "implicit:trust" },
  { rule: "trust cross-account: trusting the other account plus its identity allow allows", mode: "trust", action: ASSUME, res: ROLE, who: BOB, id: [doc(A(ASSUME, ROLE))], rp: trust(RA({ AWS: OTHER }, ASSUME)), expect: "allow" },
  { rule: "trust cross-account: trusting the other account without identity allow denies", mode: "trust", action: ASSUME, res: ROLE, who: BOB, rp: trust(RA({ AWS: OTHER }, ASSUME)), expect: "implicit:identity" },
  { rule: "trust cross-account: naming the user with its identity allow allows", mode: "trust", action: ASSUME, res: ROLE, who: BOB, id: [doc(A(ASSUME))], rp: trust(RA({ AWS: BOB.arn }, ASSUME)), expect: "allow" },
  { rule: "trust cross-account: naming the user still needs its identity allow", mode: "trust", action: ASSUME, res: ROLE, who: BOB, rp: trust(RA({ AWS: BOB.arn }, ASSUME)), expect: "implicit:identity" },
  { rule: "trust: an explicit deny in the trust policy wins", mode: "trust", action: ASSUME, res: ROLE, rp: trust(RA({ AWS: ALICE.arn }, ASSUME), RD({ AWS: ACCT }, ASSUME)), expect: "deny:trust" },
  { rule: "trust: sts:ExternalId condition met allows", mode: "trust", action: ASSUME, res: ROLE, who: BOB, id: [doc(A(ASSUME))], rp: trust(RA({ AWS: OTHER }, ASSUME, { StringEquals: { "sts:ExternalId": "Unique-123" } })), ctx: { "sts:ExternalId": "Unique-123" }, expect: "allow" },
  { rule: "trust: sts:ExternalId missing fails the condition", mode: "trust", action: ASSUME, res: ROLE, who: BOB, id: [doc(A(ASSUME))], rp: trust(RA({ AWS: OTHER }, ASSUME, { StringEquals: { "sts:ExternalId": "Unique-123" } })), expect: "implicit:trust" },
  { rule: "trust: the account root of a trusted account may assume the role", mode: "trust", action: ASSUME, res: ROLE, who: ROOT, rp: trust(RA({ AWS: ACCT }, ASSUME)), expect: "allow" },
  { rule: "trust: a trust statement for sts:TagSession does not allow AssumeRole", mode: "trust", action: ASSUME, res: ROLE, rp: trust(RA({ AWS: ALICE.arn }, "sts:TagSession")), expect: "implicit:trust" },
  { rule: "trust: a federated principal named in Federated may assume the role", mode: "trust", action: "sts:AssumeRoleWithWebIdentity", res: ROLE, who: { arn: "cognito-identity.amazonaws.com", accountId: "", isRoot: false }, rp: trust(RA({ Federated: "cognito-identity.amazonaws.com" }, "sts:AssumeRoleWithWebIdentity")), expect: "allow" },
];

const allowAll = RA("*", GET);
const notPrincipal: Row[] = [
  { rule: "NotPrincipal Deny denies everyone not listed", rp: doc(allowAll, { Effect: "Deny", NotPrincipal: { AWS: [BOB.arn, OTHER] }, Action: GET }), expect: "deny:resource" },
  { rule: "NotPrincipal Deny spares a principal listed together with its account", rp: doc(allowAll, { Effect: "Deny", NotPrincipal: { AWS: [ALICE.arn, ACCT] }, Action: GET }), expect: "allow" },
  { rule: "NotPrincipal Deny without the account ARN still denies the listed user", rp: doc(allowAll, { Effect: "Deny", NotPrincipal: { AWS: [ALICE.arn] }, Action: GET }), expect: "deny:resource" },
  { rule: "NotPrincipal Deny spares a session whose role and account are listed", who: APP, rp: doc(allowAll, { Effect: "Deny", NotPrincipal: { AWS: [ROLE, `arn:aws:iam::${ACCT}:root`] }, Action: GET }), expect: "allow" },
  { rule: "NotPrincipal Deny spares the account root when its ARN is listed", who: ROOT, rp: doc({ Effect: "Deny", NotPrincipal: { AWS: ACCT }, Action: GET }), expect: "allow" },
  { rule: "NotPrincipal Deny applies only to the listed actions", rp: doc(allowAll, { Effect: "Deny", NotPrincipal: { AWS: BOB.arn }, Action: "secretsmanager:DeleteSecret" }), expect: "allow" },
];

const services: Row[] = [
  { rule: "a service principal is allowed by a resource policy naming it in Service", who: SM_SERVICE, rp: doc(RA({ Service: "secretsmanager.amazonaws.com" })), expect: "allow" },
  { rule: "a service principal without a resource policy is denied", who: SM_SERVICE, id: [doc(A("*"))], expect: "implicit:resource" },
  { rule: "Principal * covers AWS services too", who: SM_SERVICE, rp: doc(RA("*")), expect: "allow" },
];

const conditions: Row[] = [
  // String
  cond("StringEquals matches an equal value", { StringEquals: { "aws:PrincipalTag/team": "blue" } }, { "aws:PrincipalTag/team": "blue" }, true),
  cond("StringEquals does not match another value", { StringEquals: { "aws:PrincipalTag/team": "blue" } }, { "aws:PrincipalTag/team": "red" }, false),
  cond("StringEquals is case-sensitive", { StringEquals: { "aws:PrincipalTag/team": "blue" } }, { "aws:PrincipalTag/team": "Blue" }, false),
  cond("StringEquals with a missing key is false", { StringEquals: { "aws:PrincipalTag/team": "blue" } }, {}, false),
  cond("multiple values for one key are ORed", { StringEquals: { "aws:PrincipalTag/team": ["red", "blue"] } }, { "aws:PrincipalTag/team": "blue" }, true),
  cond("StringEquals treats * literally", { StringEquals: { "aws:PrincipalTag/team": "b*" } }, { "aws:PrincipalTag/team": "blue" }, false),
  cond("StringNotEquals is true for a different value", { StringNotEquals: { "aws:PrincipalTag/team": "blue" } }, { "aws:PrincipalTag/team": "red" }, true),
  cond("StringNotEquals is false for the same value", { StringNotEquals: { "aws:PrincipalTag/team": "blue" } }, { "aws:PrincipalTag/team": "blue" }, false),
  cond("StringNotEquals is true when the key is missing", { StringNotEquals: { "aws:PrincipalTag/team": "blue" } }, {}, true),
  cond("StringNotEquals with several values is true only if the value is none of them (NOR)", { StringNotEquals: { "aws:PrincipalTag/team": ["blue", "red"] } }, { "aws:PrincipalTag/team": "red" }, false),
  cond("StringNotEquals with several values is true for a value outside all of them", { StringNotEquals: { "aws:PrincipalTag/team": ["blue", "red"] } }, { "aws:PrincipalTag/team": "green" }, true),
  cond("StringEqualsIgnoreCase ignores case", { StringEqualsIgnoreCase: { "aws:PrincipalTag/team": "BLUE" } }, { "aws:PrincipalTag/team": "blue" }, true),
  cond("StringEqualsIgnoreCase still compares the text", { StringEqualsIgnoreCase: { "aws:PrincipalTag/team": "BLUE" } }, { "aws:PrincipalTag/team": "red" }, false),
  cond("StringNotEqualsIgnoreCase is false for the same text in another case", { StringNotEqualsIgnoreCase: { "aws:PrincipalTag/team": "BLUE" } }, { "aws:PrincipalTag/team": "blue" }, false),
  cond("StringNotEqualsIgnoreCase is true for different text", { StringNotEqualsIgnoreCase: { "aws:PrincipalTag/team": "BLUE" } }, { "aws:PrincipalTag/team": "red" }, true),
  cond("StringLike * matches any run of characters", { StringLike: { "secretsmanager:Name": "prod/*" } }, { "secretsmanager:Name": "prod/myapp/db" }, true),
  cond("StringLike * matches the empty string", { StringLike: { "secretsmanager:Name": "prod/*" } }, { "secretsmanager:Name": "prod/" }, true),
  cond("StringLike ? matches exactly one character", { StringLike: { "secretsmanager:Name": "db-?" } }, { "secretsmanager:Name": "db-1" }, true),
  cond("StringLike ? does not match two characters", { StringLike: { "secretsmanager:Name": "db-?" } }, { "secretsmanager:Name": "db-12" }, false),
  cond("StringLike is case-sensitive", { StringLike: { "secretsmanager:Name": "prod/*" } }, { "secretsmanager:Name": "PROD/x" }, false),
  cond("StringLike with a missing key is false", { StringLike: { "secretsmanager:Name": "*" } }, {}, false),
  cond("StringNotLike is false for a matching value", { StringNotLike: { "secretsmanager:Name": "prod/*" } }, { "secretsmanager:Name": "prod/x" }, false),
  cond("StringNotLike is true for a non-matching value", { StringNotLike: { "secretsmanager:Name": "prod/*" } }, { "secretsmanager:Name": "dev/x" }, true),
  cond("StringNotLike is true when the key is missing", { StringNotLike: { "secretsmanager:Name": "prod/*" } }, {}, true),
  // Numeric
  cond("NumericEquals compares numbers", { NumericEquals: { "secretsmanager:RecoveryWindowInDays": "30" } }, { "secretsmanager:RecoveryWindowInDays": "30" }, true),
  cond("NumericEquals compares values, not text", { NumericEquals: { "secretsmanager:RecoveryWindowInDays": 1.5 } }, { "secretsmanager:RecoveryWindowInDays": "1.50" }, true),
  cond("NumericEquals is false for another number", { NumericEquals: { "secretsmanager:RecoveryWindowInDays": "30" } }, { "secretsmanager:RecoveryWindowInDays": "31" }, false),
  cond("NumericNotEquals is true for another number", { NumericNotEquals: { "secretsmanager:RecoveryWindowInDays": "30" } }, { "secretsmanager:RecoveryWindowInDays": "7" }, true),
  cond("NumericNotEquals is true when the key is missing", { NumericNotEquals: { "secretsmanager:RecoveryWindowInDays": "30" } }, {}, true),
  cond("NumericLessThan is true for a smaller number", { NumericLessThan: { "secretsmanager:RecoveryWindowInDays": "30" } }, { "secretsmanager:RecoveryWindowInDays": "29" }, true),
  cond("NumericLessThan is false for an equal number", { NumericLessThan: { "secretsmanager:RecoveryWindowInDays": "30" } }, { "secretsmanager:RecoveryWindowInDays": "30" }, false),
  cond("NumericLessThanEquals is true for an equal number", { NumericLessThanEquals: { "secretsmanager:RecoveryWindowInDays": "30" } }, { "secretsmanager:RecoveryWindowInDays": "30" }, true),
  cond("NumericGreaterThan is true for a larger number", { NumericGreaterThan: { "secretsmanager:RecoveryWindowInDays": "7" } }, { "secretsmanager:RecoveryWindowInDays": "8" }, true),
  cond("NumericGreaterThan is false for an equal number", { NumericGreaterThan: { "secretsmanager:RecoveryWindowInDays": "7" } }, { "secretsmanager:RecoveryWindowInDays": "7" }, false),
  cond("NumericGreaterThanEquals is true for an equal number", { NumericGreaterThanEquals: { "secretsmanager:RecoveryWindowInDays": "7" } }, { "secretsmanager:RecoveryWindowInDays": "7" }, true),
  cond("numeric operators are false for a non-numeric request value", { NumericGreaterThan: { "secretsmanager:RecoveryWindowInDays": "7" } }, { "secretsmanager:RecoveryWindowInDays": "many" }, false),
  cond("NumericLessThan with a missing key is false", { NumericLessThan: { "secretsmanager:RecoveryWindowInDays": "7" } }, {}, false),
  // Date
  cond("DateGreaterThan compares ISO 8601 times", { DateGreaterThan: { "aws:CurrentTime": "2024-01-01T00:00:00Z" } }, { "aws:CurrentTime": "2024-06-01T12:00:00Z" }, true),
  cond("DateLessThan is false for a later time", { DateLessThan: { "aws:CurrentTime": "2024-01-01T00:00:00Z" } }, { "aws:CurrentTime": "2024-06-01T12:00:00Z" }, false),
  cond("a date-only policy value means midnight UTC", { DateLessThan: { "aws:CurrentTime": "2024-06-02" } }, { "aws:CurrentTime": "2024-06-01T23:59:59Z" }, true),
  cond("a policy date in epoch seconds compares with an ISO request time", { DateLessThan: { "aws:CurrentTime": "1717200000" } }, { "aws:CurrentTime": "2024-05-31T23:59:59Z" }, true),
  cond("an ISO policy date compares with aws:EpochTime", { DateGreaterThanEquals: { "aws:EpochTime": "2024-06-01T00:00:00Z" } }, { "aws:EpochTime": "1717200000" }, true),
  cond("DateEquals compares instants across time zones", { DateEquals: { "aws:CurrentTime": "2024-06-01T02:00:00+02:00" } }, { "aws:CurrentTime": "2024-06-01T00:00:00Z" }, true),
  cond("DateLessThanEquals is true for the same instant", { DateLessThanEquals: { "aws:CurrentTime": "2024-06-01T00:00:00Z" } }, { "aws:EpochTime": "1717200000", "aws:CurrentTime": "2024-06-01T00:00:00.000Z" }, true),
  cond("DateNotEquals is true for another instant", { DateNotEquals: { "aws:CurrentTime": "2024-06-01T00:00:00Z" } }, { "aws:CurrentTime": "2024-06-01T00:00:01Z" }, true),
  cond("DateNotEquals is true when the key is missing", { DateNotEquals: { "aws:CurrentTime": "2024-06-01T00:00:00Z" } }, {}, true),
  cond("date operators are false for an unparseable request value", { DateGreaterThan: { "aws:CurrentTime": "2024-01-01T00:00:00Z" } }, { "aws:CurrentTime": "yesterday" }, false),
  cond("a time window is two date conditions ANDed", { DateGreaterThan: { "aws:CurrentTime": "2024-01-01T00:00:00Z" }, DateLessThan: { "aws:CurrentTime": "2024-12-31T23:59:59Z" } }, { "aws:CurrentTime": "2025-01-15T00:00:00Z" }, false),
  // Bool
  cond("Bool true matches aws:SecureTransport true", { Bool: { "aws:SecureTransport": "true" } }, { "aws:SecureTransport": "true" }, true),
  cond("Bool true does not match false", { Bool: { "aws:SecureTransport": "true" } }, { "aws:SecureTransport": "false" }, false),
  cond("Bool accepts a JSON boolean in the policy", { Bool: { "aws:SecureTransport": true } }, { "aws:SecureTransport": "true" }, true),
  cond("Bool is case-insensitive", { Bool: { "aws:SecureTransport": "True" } }, { "aws:SecureTransport": "TRUE" }, true),
  cond("Bool with a missing key is false", { Bool: { "aws:SecureTransport": "false" } }, {}, false),
  // Binary
  cond("BinaryEquals compares base64-decoded bytes", { BinaryEquals: { "custom:blob": "QmluYXJ5VmFsdWU=" } }, { "custom:blob": "QmluYXJ5VmFsdWU=" }, true),
  cond("BinaryEquals is false for other bytes", { BinaryEquals: { "custom:blob": "QmluYXJ5VmFsdWU=" } }, { "custom:blob": "b3RoZXI=" }, false),
  // IP
  cond("IpAddress matches an IPv4 address inside the CIDR", { IpAddress: { "aws:SourceIp": "203.0.113.0/24" } }, { "aws:SourceIp": "203.0.113.77" }, true),
  cond("IpAddress does not match outside the CIDR", { IpAddress: { "aws:SourceIp": "203.0.113.0/24" } }, { "aws:SourceIp": "203.0.114.1" }, false),
  cond("IpAddress with a bare address is a /32", { IpAddress: { "aws:SourceIp": "203.0.113.5" } }, { "aws:SourceIp": "203.0.113.6" }, false),
  cond("IpAddress matches IPv6 CIDRs", { IpAddress: { "aws:SourceIp": "2001:db8::/32" } }, { "aws:SourceIp": "2001:db8:1234::1" }, true),
  cond("IpAddress does not match IPv6 outside the CIDR", { IpAddress: { "aws:SourceIp": "2001:db8::/32" } }, { "aws:SourceIp": "2001:db9::1" }, false),
  cond("an IPv4-mapped IPv6 source address matches an IPv4 CIDR", { IpAddress: { "aws:SourceIp": "10.0.0.0/8" } }, { "aws:SourceIp": "::ffff:10.1.2.3" }, true),
  cond("an IPv4 address does not match an IPv6 CIDR", { IpAddress: { "aws:SourceIp": "2001:db8::/32" } }, { "aws:SourceIp": "10.1.2.3" }, false),
  cond("IpAddress with several CIDRs matches any of them", { IpAddress: { "aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"] } }, { "aws:SourceIp": "192.0.2.9" }, true),
  cond("IpAddress with a missing key is false", { IpAddress: { "aws:SourceIp": "0.0.0.0/0" } }, {}, false),
  cond("IpAddress is false for a non-IP request value", { IpAddress: { "aws:SourceIp": "0.0.0.0/0" } }, { "aws:SourceIp": "localhost" }, false),
  cond("NotIpAddress is true outside the CIDR", { NotIpAddress: { "aws:SourceIp": "203.0.113.0/24" } }, { "aws:SourceIp": "198.51.100.1" }, true),
  cond("NotIpAddress is false inside the CIDR", { NotIpAddress: { "aws:SourceIp": "203.0.113.0/24" } }, { "aws:SourceIp": "203.0.113.1" }, false),
  cond("NotIpAddress is true when the key is missing", { NotIpAddress: { "aws:SourceIp": "203.0.113.0/24" } }, {}, true),
  // ARN
  cond("ArnEquals matches the same ARN", { ArnEquals: { "aws:PrincipalArn": ALICE.arn } }, {}, true),
  cond("ArnEquals does not match another ARN", { ArnEquals: { "aws:PrincipalArn": BOB.arn } }, {}, false),
  cond("ArnLike matches with wildcards per segment", { ArnLike: { "aws:SourceArn": "arn:aws:lambda:*:111122223333:function:rotate-*" } }, { "aws:SourceArn": "arn:aws:lambda:us-east-1:111122223333:function:rotate-db" }, true),
  cond("ArnLike wildcards do not span ARN segments", { ArnLike: { "aws:SourceArn": "arn:aws:*:function:*" } }, { "aws:SourceArn": "arn:aws:lambda:us-east-1:111122223333:function:rotate-db" }, false),
  cond("ArnEquals supports wildcards like ArnLike", { ArnEquals: { "aws:PrincipalArn": `arn:aws:iam::${ACCT}:user/*` } }, {}, true),
  cond("ArnLike is false for a value that is not an ARN", { ArnLike: { "aws:SourceArn": "*" } }, { "aws:SourceArn": "not-an-arn" }, false),
  cond("ArnNotLike is false for a matching ARN", { ArnNotLike: { "aws:PrincipalArn": `arn:aws:iam::${ACCT}:user/*` } }, {}, false),
  cond("ArnNotLike is true for a non-matching ARN", { ArnNotLike: { "aws:PrincipalArn": `arn:aws:iam::${ACCT}:role/*` } }, {}, true),
  cond("ArnNotEquals is true when the key is missing", { ArnNotEquals: { "aws:SourceArn": "arn:aws:lambda:us-east-1:111122223333:function:x" } }, {}, true),
  // Null
  cond("Null true is true when the key is missing", { Null: { "aws:RequestTag/owner": "true" } }, {}, true),
  cond("Null true is false when the key is present", { Null: { "aws:RequestTag/owner": "true" } }, { "aws:RequestTag/owner": "me" }, false),
  cond("Null false is true when the key is present", { Null: { "aws:RequestTag/owner": "false" } }, { "aws:RequestTag/owner": "" }, true),
  cond("Null false is false when the key is missing", { Null: { "aws:RequestTag/owner": false } }, {}, false),
  cond("Null treats an empty multi-valued key as missing", { Null: { "aws:TagKeys": "true" } }, { "aws:TagKeys": [] }, true),
  // IfExists
  cond("StringEqualsIfExists is true when the key is missing", { StringEqualsIfExists: { "secretsmanager:VersionStage": "AWSCURRENT" } }, {}, true),
  cond("StringEqualsIfExists compares when the key is present", { StringEqualsIfExists: { "secretsmanager:VersionStage": "AWSCURRENT" } }, { "secretsmanager:VersionStage": "AWSPENDING" }, false),
  cond("StringEqualsIfExists matches an equal present value", { StringEqualsIfExists: { "secretsmanager:VersionStage": "AWSCURRENT" } }, { "secretsmanager:VersionStage": "AWSCURRENT" }, true),
  cond("StringNotEqualsIfExists is false for an equal present value", { StringNotEqualsIfExists: { "secretsmanager:VersionStage": "AWSCURRENT" } }, { "secretsmanager:VersionStage": "AWSCURRENT" }, false),
  cond("NumericLessThanIfExists is true when the key is missing", { NumericLessThanIfExists: { "secretsmanager:RecoveryWindowInDays": "7" } }, {}, true),
  cond("IpAddressIfExists is true when the key is missing", { IpAddressIfExists: { "aws:SourceIp": "10.0.0.0/8" } }, {}, true),
  cond("BoolIfExists compares when present", { BoolIfExists: { "aws:SecureTransport": "true" } }, { "aws:SecureTransport": "false" }, false),
  cond("ArnLikeIfExists is true when the key is missing", { ArnLikeIfExists: { "aws:SourceArn": "arn:aws:lambda:*:*:function:*" } }, {}, true),
  cond("DateLessThanIfExists is true when the key is missing", { DateLessThanIfExists: { "aws:CurrentTime": "2020-01-01T00:00:00Z" } }, {}, true),
  // Set qualifiers
  cond("ForAnyValue:StringEquals is true if one request value is in the set", { "ForAnyValue:StringEquals": { "aws:TagKeys": ["env", "team"] } }, { "aws:TagKeys": ["owner", "env"] }, true),
  cond("ForAnyValue:StringEquals is false if no request value is in the set", { "ForAnyValue:StringEquals": { "aws:TagKeys": ["env", "team"] } }, { "aws:TagKeys": ["owner"] }, false),
  cond("ForAnyValue with a missing key is false", { "ForAnyValue:StringEquals": { "aws:TagKeys": ["env"] } }, {}, false),
  cond("ForAnyValue with an empty request set is false", { "ForAnyValue:StringEquals": { "aws:TagKeys": ["env"] } }, { "aws:TagKeys": [] }, false),
  cond("ForAllValues:StringEquals is true if every request value is in the set", { "ForAllValues:StringEquals": { "aws:TagKeys": ["env", "team"] } }, { "aws:TagKeys": ["team", "env"] }, true),
  cond("ForAllValues:StringEquals is false if one request value is outside the set", { "ForAllValues:StringEquals": { "aws:TagKeys": ["env", "team"] } }, { "aws:TagKeys": ["env", "owner"] }, false),
  cond("ForAllValues with a missing key is true", { "ForAllValues:StringEquals": { "aws:TagKeys": ["env"] } }, {}, true),
  cond("ForAllValues with an empty request set is true", { "ForAllValues:StringEquals": { "aws:TagKeys": ["env"] } }, { "aws:TagKeys": [] }, true),
  cond("ForAllValues:StringLike applies wildcards to every value", { "ForAllValues:StringLike": { "aws:TagKeys": ["app-*"] } }, { "aws:TagKeys": ["app-a", "app-b"] }, true),
  cond("ForAnyValue:StringNotEquals is true if some value is outside the set", { "ForAnyValue:StringNotEquals": { "aws:TagKeys": ["env"] } }, { "aws:TagKeys": ["env", "owner"] }, true),
  cond("ForAnyValue:StringNotEquals is false if every value is in the set", { "ForAnyValue:StringNotEquals": { "aws:TagKeys": ["env", "owner"] } }, { "aws:TagKeys": ["env", "owner"] }, false),
  cond("ForAllValues:StringNotEquals is true if no value is in the set", { "ForAllValues:StringNotEquals": { "aws:TagKeys": ["secret"] } }, { "aws:TagKeys": ["env", "owner"] }, true),
  cond("ForAllValues:StringNotEquals is false if one value is in the set", { "ForAllValues:StringNotEquals": { "aws:TagKeys": ["secret"] } }, { "aws:TagKeys": ["env", "secret"] }, false),
  cond("ForAllValues:StringEqualsIgnoreCase ignores case for every value", { "ForAllValues:StringEqualsIgnoreCase": { "aws:TagKeys": ["Env"] } }, { "aws:TagKeys": ["ENV", "env"] }, true),
  cond("ForAnyValue:StringEqualsIfExists is true when the key is missing", { "ForAnyValue:StringEqualsIfExists": { "aws:TagKeys": ["env"] } }, {}, true),
  cond("ForAnyValue treats a single-valued key as a one-element set", { "ForAnyValue:StringEquals": { "aws:PrincipalTag/team": ["blue"] } }, { "aws:PrincipalTag/team": "blue" }, true),
  cond("a multi-valued key without a qualifier matches if any value matches", { StringEquals: { "aws:TagKeys": "env" } }, { "aws:TagKeys": ["owner", "env"] }, true),
  // Combination
  cond("several keys under one operator are ANDed (all match)", { StringEquals: { "aws:PrincipalTag/team": "blue", "aws:ResourceTag/team": "blue" } }, { "aws:PrincipalTag/team": "blue", "aws:ResourceTag/team": "blue" }, true),
  cond("several keys under one operator are ANDed (one fails)", { StringEquals: { "aws:PrincipalTag/team": "blue", "aws:ResourceTag/team": "blue" } }, { "aws:PrincipalTag/team": "blue", "aws:ResourceTag/team": "red" }, false),
  cond("several operators are ANDed", { StringEquals: { "aws:PrincipalTag/team": "blue" }, Bool: { "aws:SecureTransport": "true" } }, { "aws:PrincipalTag/team": "blue", "aws:SecureTransport": "false" }, false),
  cond("condition keys are case-insensitive", { IpAddress: { "AWS:SOURCEIP": "10.0.0.0/8" } }, { "aws:sourceip": "10.9.9.9" }, true),
  cond("tag condition keys are case-insensitive", { StringEquals: { "aws:principaltag/TEAM": "blue" } }, { "aws:PrincipalTag/team": "blue" }, true),
  cond("an operator written in another case is the same operator", { stringequals: { "aws:PrincipalTag/team": "blue" } }, { "aws:PrincipalTag/team": "blue" }, true),
  cond("aws:PrincipalAccount is derived from the principal", { StringEquals: { "aws:PrincipalAccount": ACCT } }, {}, true),
  cond("aws:PrincipalType is User for IAM users", { StringEquals: { "aws:PrincipalType": "User" } }, {}, true),
  cond("an undefined context value counts as missing", { Null: { "aws:SourceVpc": "true" } }, { "aws:SourceVpc": undefined }, true),
];

const v12 = (...st: Stmt[]): Doc => ({ Version: "2012-10-17", Statement: st });
const home = `${SM}:home/\${aws:username}/*`;
const variables: Row[] = [
  { rule: "${aws:username} in a resource resolves to the caller's user name", id: [v12(A(GET, home))], res: `${SM}:home/alice/db-AbCdEf`, expect: "allow" },
  { rule: "${aws:username} does not let a user reach another user's resources", id: [v12(A(GET, home))], res: `${SM}:home/bob/db-AbCdEf`, expect: "implicit:identity" },
  { rule: "policy variables are not substituted in Version 2008-10-17", id: [{ Version: "2008-10-17", Statement: [A(GET, home)] }], res: `${SM}:home/alice/db-AbCdEf`, expect: "implicit:identity" },
  { rule: "a missing Version means 2008-10-17: variables are literal text", id: [{ Statement: [A(GET, home)] }], res: `${SM}:home/\${aws:username}/x`, expect: "allow" },
  { rule: "an unresolvable variable makes the resource not match (no aws:username for roles)", who: APP, id: [v12(A(GET, home))], res: `${SM}:home/app/x`, expect: "implicit:identity" },
  { rule: "a variable's default is used when the key is missing", who: APP, id: [v12(A(GET, `${SM}:home/\${aws:username, 'shared'}/*`))], res: `${SM}:home/shared/x`, expect: "allow" },
  { rule: "a variable's default is not used when the key is present", id: [v12(A(GET, `${SM}:home/\${aws:username, 'shared'}/*`))], res: `${SM}:home/shared/x`, expect: "implicit:identity" },
  { rule: "a default may contain a quote written as two quotes", who: APP, id: [v12(A(GET, `${SM}:home/\${aws:username, 'o''brien'}/*`))], res: `${SM}:home/o'brien/x`, expect: "allow" },
  { rule: "variable names are case-insensitive", id: [v12(A(GET, `${SM}:home/\${AWS:UserName}/*`))], res: `${SM}:home/alice/x`, expect: "allow" },
  { rule: "${aws:userid} resolves from the context", who: APP, id: [v12(A(GET, `${SM}:home/\${aws:userid}/*`))], ctx: { "aws:userid": "AROAEXAMPLE:i-0123" }, res: `${SM}:home/AROAEXAMPLE:i-0123/x`, expect: "allow" },
  { rule: "${aws:PrincipalAccount} in the account segment", id: [v12(A(GET, "arn:aws:secretsmanager:*:${aws:PrincipalAccount}:secret:*"))], expect: "allow" },
  { rule: "${aws:PrincipalTag/team} in a resource", id: [v12(A(GET, `${SM}:\${aws:PrincipalTag/team}/*`))], ctx: { "aws:PrincipalTag/team": "prod" }, expect: "allow" },
  { rule: "a multi-valued key cannot be used as a variable", id: [v12(A(GET, `${SM}:\${aws:TagKeys}/*`))], ctx: { "aws:TagKeys": ["prod"] }, expect: "implicit:identity" },
  { rule: "a substituted value is literal: * in a tag value is not a wildcard", id: [v12(A(GET, `${SM}:\${aws:PrincipalTag/team}`))], ctx: { "aws:PrincipalTag/team": "*" }, expect: "implicit:identity" },
  cond("a variable in a StringEquals value (ABAC: resource tag equals principal tag)", { StringEquals: { "secretsmanager:ResourceTag/team": "${aws:PrincipalTag/team}" } }, { "secretsmanager:ResourceTag/team": "blue", "aws:PrincipalTag/team": "blue" }, true),
  cond("ABAC fails when the tags differ", { StringEquals: { "secretsmanager:ResourceTag/team": "${aws:PrincipalTag/team}" } }, { "secretsmanager:ResourceTag/team": "blue", "aws:PrincipalTag/team": "red" }, false),
  cond("ABAC fails when the principal tag is missing (unresolved variable)", { StringEquals: { "secretsmanager:ResourceTag/team": "${aws:PrincipalTag/team}" } }, { "secretsmanager:ResourceTag/team": "${aws:PrincipalTag/team}" }, false),
  cond("${*} is a literal asterisk in StringLike", { StringLike: { "custom:k": "a${*}" } }, { "custom:k": "a*" }, true),
  cond("${*} does not act as a wildcard", { StringLike: { "custom:k": "a${*}" } }, { "custom:k": "abc" }, false),
  cond("${?} is a literal question mark", { StringLike: { "custom:k": "why${?}" } }, { "custom:k": "why?" }, true),
  cond("${$} is a literal dollar sign", { StringEquals: { "custom:k": "${$}{x}" } }, { "custom:k": "${x}" }, true),
  cond("a variable in StringLike combines with wildcards", { StringLike: { "secretsmanager:Name": "${aws:username}/*" } }, { "secretsmanager:Name": "alice/db" }, true),
  cond("a variable in ArnLike", { ArnLike: { "aws:SourceArn": "arn:aws:lambda:*:${aws:PrincipalAccount}:function:*" } }, { "aws:SourceArn": `arn:aws:lambda:us-east-1:${ACCT}:function:rotate` }, true),
  { rule: "NotResource with an unresolvable variable never widens an Allow", who: APP, id: [v12({ Effect: "Allow", Action: GET, NotResource: home })], expect: "implicit:identity" },
];

const guides: Row[] = [
  // "Allow a role to read secrets under a path": least privilege by name prefix.
  { rule: "guide: a role allowed GetSecretValue on prod/myapp/* reads prod/myapp/db", who: APP, id: [v12(A(GET, "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/myapp/*"))], expect: "allow" },
  { rule: "guide: the same role is denied prod/other/x", who: APP, id: [v12(A(GET, "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/myapp/*"))], res: OTHER_SECRET, expect: "implicit:identity" },
  { rule: "guide: the same role is denied other actions on its secrets", who: APP, id: [v12(A(GET, "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/myapp/*"))], action: "secretsmanager:PutSecretValue", expect: "implicit:identity" },
  // "Deny access to secrets tagged Environment=Production" for developers.
  ...(() => {
    const policy = v12(A("secretsmanager:*"), D("secretsmanager:*", "*", { StringEquals: { "secretsmanager:ResourceTag/Environment": "Production" } }));
    return [
      { rule: "guide: developers are denied secrets tagged Environment=Production", who: DEV, id: [policy], ctx: { "secretsmanager:ResourceTag/Environment": "Production" }, expect: "deny:identity" as const },
      { rule: "guide: developers may read secrets tagged Environment=Development", who: DEV, id: [policy], ctx: { "secretsmanager:ResourceTag/Environment": "Development" }, expect: "allow" as const },
      { rule: "guide: developers may read untagged secrets (missing key, positive operator)", who: DEV, id: [policy], expect: "allow" as const },
    ];
  })(),
  // "Restrict access to specified IP address ranges" (aws:SourceIp with aws:ViaAWSService).
  ...(() => {
    const policy = v12(
      A(GET),
      D("*", "*", { NotIpAddress: { "aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"] }, Bool: { "aws:ViaAWSService": "false" } }),
    );
    return [
      { rule: "guide: a request from an allowed range succeeds", id: [policy], ctx: { "aws:SourceIp": "192.0.2.10", "aws:ViaAWSService": "false" }, expect: "allow" as const },
      { rule: "guide: a request from outside the ranges is explicitly denied", id: [policy], ctx: { "aws:SourceIp": "198.51.100.7", "aws:ViaAWSService": "false" }, expect: "deny:identity" as const },
      { rule: "guide: a call made by an AWS service on the user's behalf is not denied by IP", id: [policy], ctx: { "aws:SourceIp": "198.51.100.7", "aws:ViaAWSService": "true" }, expect: "allow" as const },
    ];
  })(),
  // "Allow only the AWSCURRENT version to be read".
  ...(() => {
    const policy = v12(A(GET, SECRET, { StringEquals: { "secretsmanager:VersionStage": "AWSCURRENT" } }));
    return [
      { rule: "guide: VersionStage AWSCURRENT may be read", id: [policy], ctx: { "secretsmanager:VersionStage": "AWSCURRENT" }, expect: "allow" as const },
      { rule: "guide: VersionStage AWSPREVIOUS may not be read", id: [policy], ctx: { "secretsmanager:VersionStage": "AWSPREVIOUS" }, expect: "implicit:identity" as const },
      { rule: "guide: a request without VersionStage fails the condition", id: [policy], expect: "implicit:identity" as const },
    ];
  })(),
  // "Require a tag on CreateSecret and limit tag keys".
  ...(() => {
    const policy = v12(
      A("secretsmanager:CreateSecret", "*", {
        StringEquals: { "aws:RequestTag/Owner": "${aws:username}" },
        "ForAllValues:StringEquals": { "aws:TagKeys": ["Owner", "Project"] },
      }),
    );
    const create = "secretsmanager:CreateSecret";
    return [
      { rule: "guide: CreateSecret with Owner=self and allowed tag keys is allowed", id: [policy], action: create, ctx: { "aws:RequestTag/Owner": "alice", "aws:TagKeys": ["Owner", "Project"] }, expect: "allow" as const },
      { rule: "guide: CreateSecret with someone else as Owner is denied", id: [policy], action: create, ctx: { "aws:RequestTag/Owner": "bob", "aws:TagKeys": ["Owner"] }, expect: "implicit:identity" as const },
      { rule: "guide: CreateSecret with an extra tag key is denied", id: [policy], action: create, ctx: { "aws:RequestTag/Owner": "alice", "aws:TagKeys": ["Owner", "CostCenter"] }, expect: "implicit:identity" as const },
    ];
  })(),
  // "Prevent deletion without a recovery window".
  { rule: "guide: DeleteSecret with ForceDeleteWithoutRecovery is denied", id: [v12(A("secretsmanager:*"), D("secretsmanager:DeleteSecret", "*", { Bool: { "secretsmanager:ForceDeleteWithoutRecovery": "true" } }))], action: "secretsmanager:DeleteSecret", ctx: { "secretsmanager:ForceDeleteWithoutRecovery": "true" }, expect: "deny:identity" },
  { rule: "guide: DeleteSecret with a recovery window below 7 days is denied", id: [v12(A("secretsmanager:*"), D("secretsmanager:DeleteSecret", "*", { NumericLessThan: { "secretsmanager:RecoveryWindowInDays": "7" } }))], action: "secretsmanager:DeleteSecret", ctx: { "secretsmanager:RecoveryWindowInDays": "3" }, expect: "deny:identity" },
  { rule: "guide: DeleteSecret with the default 30-day window is allowed", id: [v12(A("secretsmanager:*"), D("secretsmanager:DeleteSecret", "*", { NumericLessThan: { "secretsmanager:RecoveryWindowInDays": "7" } }))], action: "secretsmanager:DeleteSecret", ctx: { "secretsmanager:RecoveryWindowInDays": "30" }, expect: "allow" },
  // "Deny requests not made over TLS".
  { rule: "guide: aws:SecureTransport false is explicitly denied by the resource policy", id: [v12(A(GET))], rp: v12(RD("*", "secretsmanager:*", { Bool: { "aws:SecureTransport": "false" } })), ctx: { "aws:SecureTransport": "false" }, expect: "deny:resource" },
  // "Cross-account access to a secret": resource policy + identity policy in the other account.
  { rule: "guide: cross-account read needs the secret's resource policy and the caller's identity policy", who: XAPP, id: [v12(A(GET, SECRET))], rp: v12(RA({ AWS: `arn:aws:iam::${OTHER}:role/reader` }, GET, { "ForAnyValue:StringEquals": { "secretsmanager:VersionStage": "AWSCURRENT" } })), ctx: { "secretsmanager:VersionStage": "AWSCURRENT" }, expect: "allow" },
  // "Restrict a rotation function": only the rotation Lambda may PutSecretValue.
  { rule: "guide: aws:PrincipalArn ArnNotEquals denies everyone but the rotation role", id: [v12(A("secretsmanager:*"))], rp: v12(RD("*", "secretsmanager:PutSecretValue", { ArnNotEquals: { "aws:PrincipalArn": `arn:aws:iam::${ACCT}:role/rotator` } })), action: "secretsmanager:PutSecretValue", expect: "deny:resource" },
  { rule: "guide: the rotation role itself is not denied", who: { arn: `arn:aws:sts::${ACCT}:assumed-role/rotator/fn`, roleArn: `arn:aws:iam::${ACCT}:role/rotator`, accountId: ACCT, isRoot: false }, id: [v12(A("secretsmanager:*"))], rp: v12(RD("*", "secretsmanager:PutSecretValue", { ArnNotEquals: { "aws:PrincipalArn": `arn:aws:iam::${ACCT}:role/rotator` } })), action: "secretsmanager:PutSecretValue", expect: "allow" },
  // "Limit access to secrets by SecretId"
  cond("guide: secretsmanager:SecretId ArnLike limits which secret a caller names", { ArnLike: { "secretsmanager:SecretId": `${SM}:prod/*` } }, { "secretsmanager:SecretId": SECRET }, true),
];

const table: Row[] = [
  ...actions,
  ...resources,
  ...precedence,
  ...root,
  ...sameAccount,
  ...crossAccount,
  ...keyMode,
  ...trustMode,
  ...notPrincipal,
  ...services,
  ...conditions,
  ...variables,
  ...guides,
];

describe("evaluate: AWS policy evaluation rules", () => {
  it("has at least 150 rows with unique rule names", () => {
    expect(table.length).toBeGreaterThanOrEqual(150);
    expect(new Set(table.map((r) => r.rule)).size).toBe(table.length);
  });
  it.each(table.map((r) => [r.rule, r] as const))("%s", (_rule, row) => {
    expect(run(row)).toBe(row.expect);
  });
});

describe("accessDeniedMessage", () => {
  const req = (over: Partial<RequestContext> = {}): RequestContext => ({
    principal: { arn: `arn:aws:iam::${ACCT}:user/dev`, accountId: ACCT, isRoot: false },
    action: GET,
    resource: SECRET,
    context: {},
    ...over,
  });
  it("names the missing identity-based policy", () => {
    expect(accessDeniedMessage(req(), { effect: "Deny", explicit: false, missing: "identity" })).toBe(
      `User: arn:aws:iam::${ACCT}:user/dev is not authorized to perform: secretsmanager:GetSecretValue on resource: ${SECRET} because no identity-based policy allows the secretsmanager:GetSecretValue action`,
    );
  });
  it("names an explicit deny in an identity-based policy", () => {
    expect(accessDeniedMessage(req(), { effect: "Deny", explicit: true, by: "identity" })).toBe(
      `User: arn:aws:iam::${ACCT}:user/dev is not authorized to perform: secretsmanager:GetSecretValue on resource: ${SECRET} with an explicit deny in an identity-based policy`,
    );
  });
  it("names an explicit deny in a resource-based policy", () => {
    expect(accessDeniedMessage(req(), { effect: "Deny", explicit: true, by: "resource" })).toMatch(/with an explicit deny in a resource-based policy$/);
  });
  it("names a missing resource-based policy for cross-account access", () => {
    expect(accessDeniedMessage(req(), { effect: "Deny", explicit: false, missing: "resource" })).toMatch(
      /because no resource-based policy allows the secretsmanager:GetSecretValue action$/,
    );
  });
  it("words key policies like KMS does (resource-based)", () => {
    const r = req({ action: "kms:Decrypt", resource: KEY });
    expect(accessDeniedMessage(r, { effect: "Deny", explicit: false, missing: "key" })).toBe(
      `User: arn:aws:iam::${ACCT}:user/dev is not authorized to perform: kms:Decrypt on resource: ${KEY} because no resource-based policy allows the kms:Decrypt action`,
    );
    expect(accessDeniedMessage(r, { effect: "Deny", explicit: true, by: "key" })).toMatch(/explicit deny in a resource-based policy$/);
  });
  it("omits the resource for actions without a resource type", () => {
    expect(accessDeniedMessage(req({ action: "secretsmanager:ListSecrets", resource: "*" }), { effect: "Deny", explicit: false, missing: "identity" })).toBe(
      `User: arn:aws:iam::${ACCT}:user/dev is not authorized to perform: secretsmanager:ListSecrets because no identity-based policy allows the secretsmanager:ListSecrets action`,
    );
  });
  it("uses the session ARN for assumed roles", () => {
    expect(accessDeniedMessage(req({ principal: APP }), { effect: "Deny", explicit: false, missing: "identity" })).toMatch(
      /^User: arn:aws:sts::111122223333:assumed-role\/app\/i-0123 is not authorized/,
    );
  });
});

describe("evaluate: behaviour", () => {
  it("does not depend on statement order", () => {
    const a = parsePolicy(JSON.stringify(doc(D(GET), A(GET))), "identity");
    const b = parsePolicy(JSON.stringify(doc(A(GET), D(GET))), "identity");
    const request: RequestContext = { principal: ALICE, action: GET, resource: SECRET, context: {} };
    expect(evaluate({ identityPolicies: [a] }, request)).toEqual(evaluate({ identityPolicies: [b] }, request));
  });
  it("evaluates hand-built policies with variables per request", () => {
    const policy = parsePolicy(JSON.stringify(v12(A(GET, home))), "identity");
    for (const name of ["u1", "u2", "u3"]) {
      const principal: Who = { arn: `arn:aws:iam::${ACCT}:user/${name}`, accountId: ACCT, isRoot: false };
      expect(evaluate({ identityPolicies: [policy] }, { principal, action: GET, resource: `${SM}:home/${name}/x`, context: {} })).toEqual({ effect: "Allow" });
      expect(evaluate({ identityPolicies: [policy] }, { principal, action: GET, resource: `${SM}:home/other/x`, context: {} }).effect).toBe("Deny");
    }
  });
});

describe("evaluate: session policies (AssumeRole Policy / PolicyArns)", () => {
  const p = (d: Doc, kind: PolicyKind = "identity") => parsePolicy(JSON.stringify(d), kind);
  const ask = (input: Parameters<typeof evaluate>[0], resource = SECRET, who: Who = APP) =>
    show(evaluate(input, { principal: who, action: GET, resource, context: {} }));
  const role = [p(doc(A(GET, `${SM}:prod/*`)))];

  it("allows only what both the role's policies and the session policy allow", () => {
    const session = [p(doc(A(GET, SECRET)))];
    expect(ask({ identityPolicies: role, sessionPolicies: session })).toBe("allow");
    expect(ask({ identityPolicies: role, sessionPolicies: session }, OTHER_SECRET)).toBe("implicit:session");
  });
  it("never grants more than the role's policies", () => {
    const session = [p(doc(A("*", "*")))];
    expect(ask({ identityPolicies: [], sessionPolicies: session })).toBe("implicit:identity");
  });
  it("an explicit deny in the session policy wins", () => {
    const session = [p(doc(A(GET), D(GET, SECRET)))];
    expect(ask({ identityPolicies: role, sessionPolicies: session })).toBe("deny:session");
  });
  it("an empty list of session policies allows nothing", () => {
    expect(ask({ identityPolicies: role, sessionPolicies: [] })).toBe("implicit:session");
  });
  it("limits a resource policy that names the role, not one that names the session", () => {
    const session = [p(doc(A(GET, OTHER_SECRET)))];
    const toRole = p(doc(RA({ AWS: APP.roleArn })), "resource");
    const toSession = p(doc(RA({ AWS: APP.arn })), "resource");
    expect(ask({ identityPolicies: [], resourcePolicy: toRole })).toBe("allow");
    expect(ask({ identityPolicies: [], sessionPolicies: session, resourcePolicy: toRole })).toBe("implicit:identity");
    expect(ask({ identityPolicies: [], sessionPolicies: session, resourcePolicy: toSession })).toBe("allow");
  });
  it("words the denials as AWS does", () => {
    const r: RequestContext = { principal: APP, action: GET, resource: SECRET, context: {} };
    expect(accessDeniedMessage(r, { effect: "Deny", explicit: true, by: "session" })).toMatch(/with an explicit deny in a session policy$/);
    expect(accessDeniedMessage(r, { effect: "Deny", explicit: false, missing: "session" })).toMatch(
      /because no session policy allows the secretsmanager:GetSecretValue action$/,
    );
  });
});

describe("evaluate: permissions boundaries (access_policies_boundaries)", () => {
  const p = (d: Doc, kind: PolicyKind = "identity") => parsePolicy(JSON.stringify(d), kind);
  const ask = (input: Parameters<typeof evaluate>[0], who: Who = ALICE, resource = SECRET, mode?: "key") =>
    show(evaluate({ ...input, ...(mode ? { mode } : {}) }, { principal: who, action: mode ? "kms:Decrypt" : GET, resource, context: {} }));
  const all = [p(doc(A("*", "*")))];

  it("identity-based permissions need the boundary's allow too; the boundary alone grants nothing", () => {
    const boundary = [p(doc(A(GET, SECRET)))];
    expect(ask({ identityPolicies: all, permissionsBoundary: boundary })).toBe("allow");
    expect(ask({ identityPolicies: all, permissionsBoundary: boundary }, ALICE, OTHER_SECRET)).toBe("implicit:boundary");
    expect(ask({ identityPolicies: [], permissionsBoundary: boundary })).toBe("implicit:identity");
    expect(ask({ identityPolicies: all, permissionsBoundary: [] })).toBe("implicit:boundary");
  });
  it("an explicit deny in the boundary wins over every allow, a resource policy's too", () => {
    const boundary = [p(doc(A("*", "*"), D(GET, SECRET)))];
    const toAlice = p(doc(RA({ AWS: ALICE.arn })), "resource");
    expect(ask({ identityPolicies: all, permissionsBoundary: boundary, resourcePolicy: toAlice })).toBe("deny:boundary");
  });
  it("does not limit a resource policy naming the user or the session; does limit one naming the role", () => {
    const boundary = [p(doc(A(GET, OTHER_SECRET)))];
    expect(ask({ identityPolicies: [], permissionsBoundary: boundary, resourcePolicy: p(doc(RA({ AWS: ALICE.arn })), "resource") })).toBe("allow");
    expect(ask({ identityPolicies: [], permissionsBoundary: boundary, resourcePolicy: p(doc(RA({ AWS: APP.arn })), "resource") }, APP)).toBe("allow");
    expect(ask({ identityPolicies: [], permissionsBoundary: boundary, resourcePolicy: p(doc(RA({ AWS: ROLE })), "resource") }, APP)).toBe(
      "implicit:identity",
    );
    expect(ask({ identityPolicies: [], resourcePolicy: p(doc(RA({ AWS: ROLE })), "resource") }, APP)).toBe("allow");
  });
  it("a grant to the account root delegates to identity policies, which the boundary limits", () => {
    const toAccount = p(doc(RA({ AWS: `arn:aws:iam::${ACCT}:root` })), "resource");
    const boundary = [p(doc(A(GET, OTHER_SECRET)))];
    expect(ask({ identityPolicies: all, resourcePolicy: toAccount })).toBe("allow");
    expect(ask({ identityPolicies: all, permissionsBoundary: boundary, resourcePolicy: toAccount })).toBe("implicit:boundary");
  });
  it("key policies: the IAM-delegation statement needs the boundary; a grant to the user's own ARN does not", () => {
    const boundary = [p(doc(A(GET)))];
    const delegate = p(doc({ Effect: "Allow", Principal: { AWS: `arn:aws:iam::${ACCT}:root` }, Action: "kms:*", Resource: "*" }), "key");
    const direct = p(doc({ Effect: "Allow", Principal: { AWS: ALICE.arn }, Action: "kms:Decrypt", Resource: "*" }), "key");
    expect(ask({ identityPolicies: all, resourcePolicy: delegate }, ALICE, KEY, "key")).toBe("allow");
    expect(ask({ identityPolicies: all, permissionsBoundary: boundary, resourcePolicy: delegate }, ALICE, KEY, "key")).toBe("implicit:boundary");
    expect(ask({ identityPolicies: [], permissionsBoundary: boundary, resourcePolicy: direct }, ALICE, KEY, "key")).toBe("allow");
  });
  it("words the denials as AWS does", () => {
    const r: RequestContext = { principal: ALICE, action: GET, resource: SECRET, context: {} };
    expect(accessDeniedMessage(r, { effect: "Deny", explicit: true, by: "boundary" })).toMatch(/with an explicit deny in a permissions boundary$/);
    expect(accessDeniedMessage(r, { effect: "Deny", explicit: false, missing: "boundary" })).toMatch(
      /because no permissions boundary allows the secretsmanager:GetSecretValue action$/,
    );
  });
});
