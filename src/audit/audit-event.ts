import { randomUUID } from "node:crypto";
import type { Shapes } from "../shared/shape-types.ts";
import type { Principal } from "../services/identity/identity-types.ts";
import type { CloudTrailEvent, UserIdentity } from "./audit-types.ts";

/** What the server knows about a finished (or refused) request. */
export interface RequestFacts {
  requestId: string;
  time: number;
  /** The service's signing name: secretsmanager, kms, iam, sts, cloudtrail (or the target prefix when unknown). */
  service: string;
  operation: string;
  region: string;
  /** The account events go to when the caller is unknown (the server's default account). */
  defaultAccountId: string;
  sourceIp: string;
  userAgent: string;
  principal?: Principal;
  /** Access key id named by an unverified signature. */
  claimedAccessKeyId?: string;
  shapes?: Shapes;
  inputShape?: string;
  outputShape?: string;
  input?: unknown;
  output?: unknown;
  error?: { code: string; message: string };
}

const READ_ONLY = /^(Get|List|Describe|Lookup|BatchGet|Validate)/;
const READ_ONLY_CRYPTO = new Set(["Encrypt", "Decrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncrypt"]);

/** Whether an operation only reads (CloudTrail's readOnly); the others write an intent record first. */
export function isReadOnly(operation: string): boolean {
  return READ_ONLY.test(operation) || READ_ONLY_CRYPTO.has(operation);
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
      attributes: { mfaAuthenticated: "false" },
    },
  };
}

/** The name LookupEvents' Username attribute matches: user name, session name, or "root". */
export function usernameOf(identity: UserIdentity): string | undefined {
  if (identity.type === "Root") return "root";
  if (identity.type === "IAMUser") return identity.userName;
  if (identity.type === "AssumedRole") return identity.principalId?.split(":")[1];
  return undefined;
}

const RESOURCE_TYPES: Record<string, string> = {
  secretsmanager: "AWS::SecretsManager::Secret",
  kms: "AWS::KMS::Key",
  ssm: "AWS::SSM::Parameter",
};

/** A parameter's ARN from a name as a caller gave it (with or without a leading slash, ":<version>" or ":<label>", or an ARN). */
function parameterArnOf(name: string, region: string, accountId: string): string {
  const text = name.trim();
  if (text.startsWith("arn:")) return text.split(":").slice(0, 6).join(":");
  const bare = text.split(":")[0];
  return `arn:aws:ssm:${region}:${accountId}:parameter/${bare.startsWith("/") ? bare.slice(1) : bare}`;
}

/** The resources a request was about, from its input and output. */
function resourcesOf(facts: RequestFacts, accountId: string): { ARN: string; accountId?: string; type: string }[] {
  const input = (facts.input ?? {}) as Record<string, unknown>;
  const output = (facts.output ?? {}) as Record<string, unknown>;
  const arns = new Set<string>();
  const add = (v: unknown) => typeof v === "string" && v && arns.add(v);
  const region = facts.region;
  switch (facts.service) {
    case "secretsmanager": {
      add(output.ARN);
      for (const v of (output.SecretValues as { ARN?: string }[] | undefined) ?? []) add(v.ARN);
      if (arns.size === 0 && typeof input.SecretId === "string") {
        add(input.SecretId.startsWith("arn:") ? input.SecretId : `arn:aws:secretsmanager:${region}:${accountId}:secret:${input.SecretId}`);
      }
      for (const id of (input.SecretIdList as string[] | undefined) ?? []) {
        if (![...arns].some((a) => a === id || a.includes(`:secret:${id}-`))) add(id.startsWith("arn:") ? id : `arn:aws:secretsmanager:${region}:${accountId}:secret:${id}`);
      }
      break;
    }
    case "ssm": {
      const names = [input.Name, input.ResourceId, ...((input.Names as unknown[] | undefined) ?? [])];
      for (const n of names) if (typeof n === "string" && n) add(parameterArnOf(n, region, accountId));
      if (typeof input.Path === "string" && input.Path) add(parameterArnOf(input.Path.replace(/(.)\/$/, "$1"), region, accountId));
      // A read through /aws/reference/secretsmanager/ answers with the secret's ARN: the secret was read too.
      const answered = [output.Parameter, ...((output.Parameters as unknown[] | undefined) ?? [])] as ({ ARN?: unknown } | undefined)[];
      for (const p of answered) if (typeof p?.ARN === "string" && p.ARN.includes(":secretsmanager:")) add(p.ARN);
      break;
    }
    case "kms":
      add((output.KeyMetadata as { Arn?: string } | undefined)?.Arn ?? output.KeyId ?? input.KeyId);
      break;
    case "iam":
      if (typeof input.UserName === "string") arns.add(`arn:aws:iam::${accountId}:user/${input.UserName}`);
      if (typeof input.RoleName === "string") arns.add(`arn:aws:iam::${accountId}:role/${input.RoleName}`);
      break;
    case "sts":
      add(input.RoleArn);
      break;
  }
  return [...arns].map((ARN) => {
    const owner = ARN.split(":")[4];
    const type =
      RESOURCE_TYPES[ARN.split(":")[2]] ?? (ARN.includes(":role/") ? "AWS::IAM::Role" : ARN.includes(":user/") ? "AWS::IAM::User" : "AWS::Resource");
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
  const accountId = facts.principal?.accountId ?? facts.defaultAccountId;
  const readOnly = isReadOnly(facts.operation);
  const event: CloudTrailEvent = {
    eventVersion: "1.08",
    userIdentity: identity,
    eventTime: new Date(facts.time).toISOString().replace(/\.\d{3}Z$/, "Z"),
    eventSource: `${bounded(facts.service, FIELD_LIMITS.name)}.amazonaws.com`,
    eventName: bounded(facts.operation, FIELD_LIMITS.name),
    awsRegion: facts.region,
    sourceIPAddress: facts.sourceIp,
    userAgent: bounded(facts.userAgent, FIELD_LIMITS.userAgent),
    requestParameters:
      facts.shapes && facts.inputShape && facts.input !== undefined
        ? ((redact(facts.shapes, facts.inputShape, facts.input) as Record<string, unknown>) ?? null)
        : null,
    // Reads answer with data, which CloudTrail does not record; writes' answers are recorded without secrets.
    responseElements:
      !readOnly && !facts.error && facts.shapes && facts.outputShape && facts.output !== undefined
        ? ((redact(facts.shapes, facts.outputShape, facts.output) as Record<string, unknown>) ?? null)
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
  const resources = resourcesOf(facts, accountId);
  if (resources.length) event.resources = resources;
  return event;
}
