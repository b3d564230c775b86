import { randomUUID } from "node:crypto";
import type { OperationSpec, ResourceRef, Shapes } from "../shared/shape-types.ts";
import { formatArn, isArn, iamArn, kmsAliasArn, kmsKeyArn, parameterArn, parseArn, secretArn } from "../shared/arn.ts";
import type { Principal } from "../services/identity/identity-types.ts";
import type { CloudTrailEvent, UserIdentity } from "./audit-types.ts";

/** Who an unsigned request turned out to be, once its own proof (a web identity token) verified. */
export interface FederatedCaller {
  /** The account the caller federated into (the role's). */
  accountId: string;
  providerArn: string;
  subject: string;
  audience: string;
  /** Session tags the token carried: CloudTrail records them with the request's parameters. */
  principalTags?: Record<string, string>;
  transitiveTagKeys?: string[];
  /** The token's source identity: recorded with the request's parameters too. */
  sourceIdentity?: string;
}

/** What the server knows about a finished (or refused) request. */
export interface RequestFacts {
  requestId: string;
  time: number;
  /** Set when the request read this node's memory without syncing first: the store epoch it read at (Store.epoch). */
  validAt?: string;
  /** The service's signing name: secretsmanager, kms, iam, sts, cloudtrail (or the target prefix when unknown). */
  service: string;
  operation: string;
  region: string;
  /** The account events go to when the caller is unknown (the server's default account). */
  defaultAccountId: string;
  sourceIp: string;
  userAgent: string;
  principal?: Principal;
  /** An unsigned request (AssumeRoleWithWebIdentity) whose token verified: recorded as a WebIdentityUser. */
  federated?: FederatedCaller;
  /** Access key id named by an unverified signature. */
  claimedAccessKeyId?: string;
  shapes?: Shapes;
  /** The operation's model facts (input and output shapes, readOnly, resources); absent when the request named no known operation. */
  spec?: OperationSpec;
  input?: unknown;
  output?: unknown;
  error?: { code: string; message: string };
}

/** Members never recorded whatever the model says (some models do not mark session tokens sensitive). */
const NEVER_RECORDED = new Set([
  "SecretString",
  "SecretBinary",
  "SecretAccessKey",
  "SessionToken",
  "Password",
  "NewPassword",
  "OldPassword",
  "Plaintext",
  "RandomPassword",
  "PrivateKey",
  "PrivateKeyPlaintext",
]);

/**
 * A copy of `value` without what its shape marks sensitive (secret values,
 * passwords, secret keys, session tokens, plaintexts) and without raw bytes;
 * timestamps as ISO text. Members the shape does not know are dropped too.
 */
export function redact(shapes: Shapes, shapeName: string, value: unknown, depth = 0): unknown {
  const shape = shapes[shapeName];
  if (value === null || value === undefined || !shape || depth > 32) return undefined;
  if (shape.sensitive) return undefined;
  switch (shape.type) {
    case "blob":
      return undefined;
    case "timestamp":
      return value instanceof Date ? value.toISOString() : typeof value === "number" ? new Date(value * 1000).toISOString() : undefined;
    case "structure": {
      const out: Record<string, unknown> = {};
      for (const [name, member] of Object.entries(shape.members)) {
        if (NEVER_RECORDED.has(name)) continue;
        const v = redact(shapes, member.shape, (value as Record<string, unknown>)[name], depth + 1);
        if (v !== undefined) out[lowerFirst(name)] = v;
      }
      return out;
    }
    case "list":
      return Array.isArray(value) ? value.map((v) => redact(shapes, shape.member.shape, v, depth + 1)).filter((v) => v !== undefined) : undefined;
    case "map": {
      if (shapes[shape.value.shape]?.sensitive || shapes[shape.key.shape]?.sensitive) return undefined;
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = redact(shapes, shape.value.shape, v, depth + 1);
      return out;
    }
    default:
      return value;
  }
}

// CloudTrail writes request parameters in lowerCamelCase (secretId, versionStage).
function lowerFirst(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

function userIdentity(facts: RequestFacts): UserIdentity {
  const p = facts.principal;
  const f = facts.federated;
  // As CloudTrail records AssumeRoleWithWebIdentity: the provider, the token's audience and subject.
  if (!p && f) {
    // Verified, but the issuer chose them: bounded like other request-controlled text.
    const subject = bounded(f.subject, FIELD_LIMITS.errorMessage);
    return { type: "WebIdentityUser", principalId: `${f.providerArn}:${bounded(f.audience, FIELD_LIMITS.errorMessage)}:${subject}`, userName: subject, identityProvider: f.providerArn };
  }
  if (!p) return { type: "Unknown", accessKeyId: facts.claimedAccessKeyId };
  if (p.kind === "root") return { type: "Root", principalId: p.accountId, arn: p.arn, accountId: p.accountId, accessKeyId: p.accessKeyId };
  if (p.kind === "user") {
    return { type: "IAMUser", arn: p.arn, accountId: p.accountId, accessKeyId: p.accessKeyId, userName: p.arn.split("/").pop() };
  }
  const roleName = p.roleArn?.split("/").pop() ?? "";
  return {
    type: "AssumedRole",
    principalId: `${roleName}:${p.sessionName}`,
    arn: p.arn,
    accountId: p.accountId,
    accessKeyId: p.accessKeyId,
    sessionContext: {
      sessionIssuer: { type: "Role", arn: p.roleArn ?? "", accountId: p.accountId, userName: roleName },
      // A web identity session: the provider, as CloudTrail names it, and the token's subject and audience.
      ...(p.webIdentity
        ? { webIdFederationData: { federatedProvider: p.webIdentity.providerArn, attributes: { sub: p.webIdentity.subject, aud: p.webIdentity.audience } } }
        : {}),
      attributes: { mfaAuthenticated: "false" },
      // Who is behind the session, kept through role chaining: what the trail is read by.
      ...(p.sourceIdentity !== undefined ? { sourceIdentity: p.sourceIdentity } : {}),
    },
  };
}

/** The name LookupEvents' Username attribute matches: user name, session name, or "root". */
export function usernameOf(identity: UserIdentity): string | undefined {
  if (identity.type === "Root") return "root";
  if (identity.type === "IAMUser") return identity.userName;
  if (identity.type === "AssumedRole") return identity.principalId?.split(":")[1];
  if (identity.type === "WebIdentityUser") return identity.userName;
  return undefined;
}

type Resource = { ARN: string; accountId?: string; type: string };

/** How a bare name of each resource type becomes its ARN (a name that is already an ARN is kept). */
const ARN_OF: Record<string, (name: string, region: string, accountId: string) => string> = {
  "AWS::SecretsManager::Secret": (id, region, account) => secretArn(region, account, id),
  // A name as a caller gave it: with or without its leading slash, a ":<version>" or ":<label>" selector, or a path's trailing slash.
  "AWS::SSM::Parameter": (name, region, account) => parameterArn(region, account, name.split(":")[0].replace(/(.)\/$/, "$1")),
  "AWS::KMS::Key": (id, region, account) => (id.startsWith("alias/") ? kmsAliasArn(region, account, id) : kmsKeyArn(region, account, id)),
  "AWS::IAM::User": (name, _region, account) => iamArn(account, "user", name),
  "AWS::IAM::Role": (name, _region, account) => iamArn(account, "role", name),
  "AWS::IAM::Group": (name, _region, account) => formatArn({ service: "iam", region: "", accountId: account, resource: `group/${name}` }),
};

/** The service an ARN of each type belongs to: an answer's ARN counts only for its own type. */
const SERVICE_OF: Record<string, string> = {
  "AWS::SecretsManager::Secret": "secretsmanager",
  "AWS::SSM::Parameter": "ssm",
  "AWS::KMS::Key": "kms",
  "AWS::IAM::User": "iam",
  "AWS::IAM::Role": "iam",
  "AWS::IAM::OIDCProvider": "iam",
  "AWS::IAM::Policy": "iam",
  "AWS::IAM::Group": "iam",
};

function arnOfInput(text: string, type: string, region: string, accountId: string): string {
  if (type === "AWS::SSM::Parameter") {
    const name = text.trim();
    // A parameter ARN may carry a selector after the name; the resource is the parameter.
    return isArn(name) ? name.split(":").slice(0, 6).join(":") : ARN_OF[type](name, region, accountId);
  }
  return isArn(text) ? text : (ARN_OF[type]?.(text, region, accountId) ?? text);
}

/** The strings at a path of members of `value`, crossing lists. */
function stringsAt(value: unknown, path: readonly string[]): string[] {
  if (Array.isArray(value)) return value.flatMap((v) => stringsAt(v, path));
  if (path.length === 0) return typeof value === "string" && value ? [value] : [];
  if (value === null || typeof value !== "object") return [];
  return stringsAt((value as Record<string, unknown>)[path[0]], path.slice(1));
}

/**
 * The request's parameters as CloudTrail records them, and the resources its
 * input names, in one pass over the input's members.
 */
function readInput(facts: RequestFacts, accountId: string): { parameters: Record<string, unknown> | null; named: Map<ResourceRef, string[]> } {
  const named = new Map<ResourceRef, string[]>();
  const spec = facts.spec;
  const shapes = facts.shapes;
  const input = facts.input;
  const shape = shapes && spec?.input ? shapes[spec.input] : undefined;
  if (!shapes || !shape || input === null || typeof input !== "object") return { parameters: null, named };
  if (shape.type !== "structure") return { parameters: (redact(shapes, spec!.input!, input) as Record<string, unknown>) ?? null, named };
  const byMember = new Map<string, ResourceRef>();
  for (const ref of spec!.resources ?? []) if (ref.from !== "output") byMember.set(ref.member, ref);
  const parameters: Record<string, unknown> = {};
  for (const [name, member] of Object.entries(shape.members)) {
    const value = (input as Record<string, unknown>)[name];
    if (value === undefined || value === null) continue;
    const ref = byMember.get(name);
    if (ref) named.set(ref, stringsAt(value, []).map((text) => arnOfInput(text, ref.type, facts.region, accountId)));
    if (NEVER_RECORDED.has(name) || shape.sensitive) continue;
    const v = redact(shapes, member.shape, value, 1);
    if (v !== undefined) parameters[lowerFirst(name)] = v;
  }
  return { parameters: shape.sensitive ? null : parameters, named };
}

/**
 * The resources a request was about, in the order its operation declares
 * them: ARNs its answer names (each of its own type), and names from its
 * input unless the answer already gives their exact ARN.
 */
function resourcesOf(facts: RequestFacts, named: Map<ResourceRef, string[]>): Resource[] {
  const refs = facts.spec?.resources ?? [];
  const answer = new Map<ResourceRef, string[]>();
  const answered = new Set<string>();
  if (!facts.error && facts.output !== undefined) {
    for (const ref of refs) {
      if (ref.from !== "output") continue;
      const arns = stringsAt(facts.output, ref.member.split(".")).filter((arn) => parseArn(arn)?.service === SERVICE_OF[ref.type]);
      if (arns.length) answered.add(ref.type);
      answer.set(ref, arns);
    }
  }
  const fromAnswer = [...answer.values()].flat();
  const resources = new Map<string, string>();
  for (const ref of refs) {
    if (ref.from === "output") {
      for (const arn of answer.get(ref) ?? []) if (!resources.has(arn)) resources.set(arn, ref.type);
      continue;
    }
    if (ref.fallback && answered.has(ref.type)) continue;
    for (const arn of named.get(ref) ?? []) {
      // A partial secret ARN (no random suffix) is covered by the full one the answer gave.
      if (fromAnswer.some((a) => a === arn || a.startsWith(`${arn}-`))) continue;
      if (!resources.has(arn)) resources.set(arn, ref.type);
    }
  }
  return [...resources].map(([ARN, type]) => {
    const owner = ARN.split(":")[4];
    return owner ? { ARN, accountId: owner, type } : { ARN, type };
  });
}

/**
 * Longest request-controlled text an event keeps, in characters. Anyone who
 * reaches the port can make the server write an event, so what one request
 * can write is bounded; the original size stays in the marker.
 */
export const FIELD_LIMITS = { userAgent: 512, errorMessage: 1024, name: 128, accessKeyId: 128 } as const;

/** `text` cut to `max` characters, ending "...(truncated, N bytes)" with the original UTF-8 size. */
export function bounded(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}...(truncated, ${Buffer.byteLength(text, "utf8")} bytes)`;
}

/** Shapes the CloudTrail record of a request. */
export function buildEvent(facts: RequestFacts): CloudTrailEvent {
  const identity = userIdentity(facts);
  if (identity.accessKeyId !== undefined) identity.accessKeyId = bounded(identity.accessKeyId, FIELD_LIMITS.accessKeyId);
  const accountId = facts.principal?.accountId ?? facts.federated?.accountId ?? facts.defaultAccountId;
  // A request that named no known operation changed nothing, but is filed with the writes, where it is looked for.
  const readOnly = facts.spec?.readOnly ?? false;
  const { parameters, named } = readInput(facts, accountId);
  // Session tags and a source identity a web identity token carried, as CloudTrail records them (already held to STS's limits).
  const { principalTags, transitiveTagKeys, sourceIdentity } = facts.federated ?? {};
  if (parameters && principalTags) Object.assign(parameters, { principalTags }, transitiveTagKeys ? { transitiveTagKeys } : {});
  if (parameters && sourceIdentity !== undefined) parameters.sourceIdentity = sourceIdentity;
  const event: CloudTrailEvent = {
    eventVersion: "1.08",
    userIdentity: identity,
    eventTime: new Date(facts.time).toISOString().replace(/\.\d{3}Z$/, "Z"),
    eventSource: `${bounded(facts.service, FIELD_LIMITS.name)}.amazonaws.com`,
    eventName: bounded(facts.operation, FIELD_LIMITS.name),
    awsRegion: facts.region,
    sourceIPAddress: facts.sourceIp,
    userAgent: bounded(facts.userAgent, FIELD_LIMITS.userAgent),
    requestParameters: parameters,
    // Reads answer with data, which CloudTrail does not record; writes' answers are recorded without secrets.
    responseElements:
      !readOnly && !facts.error && facts.shapes && facts.spec?.output && facts.output !== undefined
        ? ((redact(facts.shapes, facts.spec.output, facts.output) as Record<string, unknown>) ?? null)
        : null,
    requestID: facts.requestId,
    eventID: randomUUID(),
    readOnly,
    eventType: "AwsApiCall",
    managementEvent: true,
    recipientAccountId: accountId,
    eventCategory: "Management",
  };
  if (facts.error) {
    event.errorCode = bounded(facts.error.code, FIELD_LIMITS.name);
    event.errorMessage = bounded(facts.error.message, FIELD_LIMITS.errorMessage);
  }
  const resources = resourcesOf(facts, named);
  if (resources.length) event.resources = resources;
  return event;
}
