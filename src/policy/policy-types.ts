/**
 * The IAM policy language as data. Everything here is plain JSON-compatible data so a parsed
 * policy can be stored, compared and printed; the evaluator compiles what it needs lazily and
 * caches it (see policy-match.ts).
 */

/** Where a policy document is attached; decides which elements are required or forbidden. */
export type PolicyKind = "identity" | "resource" | "trust" | "key";

export type PolicyVersion = "2012-10-17" | "2008-10-17";

/** A parsed policy. Every "single value or array" element of the JSON form is an array here. */
export interface Policy {
  /** A document without `Version` is "2008-10-17": policy variables are then literal text. */
  version: PolicyVersion;
  id?: string;
  statements: Statement[];
}

export interface Statement {
  sid?: string;
  effect: "Allow" | "Deny";
  principal?: PrincipalSet | "*";
  notPrincipal?: PrincipalSet | "*";
  action?: string[];
  notAction?: string[];
  resource?: string[];
  notResource?: string[];
  condition?: ConditionBlock;
}

/** `{"AWS": "123456789012"}` is normalised to `arn:aws:iam::123456789012:root`. */
export interface PrincipalSet {
  AWS?: string[];
  Service?: string[];
  Federated?: string[];
  CanonicalUser?: string[];
}

/**
 * `{ "ForAnyValue:StringLikeIfExists": { "aws:TagKeys": ["env", "team"] } }`. Operators keep the
 * spelling of the document; values are strings (numbers and booleans are stringified).
 */
export type ConditionBlock = Record<string, Record<string, string[]>>;

export interface PolicyProblem {
  message: string;
  /** Where in the document, e.g. `Statement[0].Action`. */
  path?: string;
}

/** Thrown by `parsePolicy`; lists every problem found, not just the first. */
export class PolicyError extends Error {
  readonly errors: PolicyProblem[];
  constructor(errors: PolicyProblem[]) {
    super(errors.map((e) => (e.path ? `${e.message} (${e.path})` : e.message)).join("; "));
    this.name = "PolicyError";
    this.errors = errors;
  }
}

/** The caller, the action, the resource and the condition keys of one request. */
export interface RequestContext {
  principal: {
    /**
     * e.g. `arn:aws:iam::111122223333:user/alice`; for an assumed role the session ARN
     * `arn:aws:sts::111122223333:assumed-role/role/session` (and `roleArn`); for an AWS service
     * its service name, e.g. `secretsmanager.amazonaws.com`.
     */
    arn: string;
    accountId: string;
    /** For assumed-role sessions: `arn:aws:iam::111122223333:role/role`. */
    roleArn?: string;
    isRoot: boolean;
  };
  /** e.g. `secretsmanager:GetSecretValue` */
  action: string;
  /** The resource ARN, or `*` for actions without a resource type. */
  resource: string;
  /** The account owning the resource; taken from the resource ARN when omitted. */
  resourceAccount?: string;
  /**
   * Condition keys (looked up case-insensitively): aws:SourceIp, aws:CurrentTime (ISO 8601),
   * aws:EpochTime, aws:SecureTransport ("true"/"false"), aws:PrincipalArn, aws:PrincipalAccount,
   * aws:PrincipalTag/<k>, aws:username, aws:userid, aws:RequestTag/<k>, aws:TagKeys (array),
   * aws:ResourceTag/<k>, secretsmanager:ResourceTag/<k>, secretsmanager:SecretId,
   * secretsmanager:VersionStage, ... `undefined` means absent. aws:PrincipalArn,
   * aws:PrincipalAccount, aws:PrincipalType and (for IAM users) aws:username are derived from
   * `principal` when not given.
   */
  context: Record<string, string | string[] | undefined>;
}

/**
 * Which policy denied: the resource policy is "resource", "key" or "trust" by evaluation mode;
 * "session" is an assumed-role session's session policy, "boundary" the caller's permissions boundary.
 */
export type PolicyRole = "identity" | "session" | "boundary" | "resource" | "key" | "trust";

export type Decision =
  | { effect: "Allow" }
  | { effect: "Deny"; explicit: true; by: PolicyRole }
  | { effect: "Deny"; explicit: false; missing: PolicyRole };
