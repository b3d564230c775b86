import { parsePolicy } from "../../policy/policy-parse.ts";
import { PolicyError } from "../../policy/policy-types.ts";
import type { IamPolicyReads, IdentityReads, PrincipalRecord, SessionInfo, Tag } from "../../storage/store.ts";
import { managedPolicyDocument } from "./managed-policy-documents.ts";
import { CofferError } from "../../shared/errors.ts";
import type { IdentityService } from "./identity-service.ts";
import type { Authorizer, Principal } from "./identity-types.ts";
import { assumedRoleArn } from "../../shared/arn.ts";

/** Role chaining (a session assuming a role) is capped at one hour, as on AWS. */
const CHAINED_MAX_SECONDS = 3600;
/**
 * The "packed" budgets behind PackedPolicySize: AWS compresses session policies and tags into the
 * token and publishes no formula, so Coffer counts plaintext: the session policy without white
 * space plus the managed policy ARNs against AWS's documented 2,048 characters, and the session
 * tags' keys and values (UTF-8 bytes) against its own budget.
 */
const PACKED_POLICY_CHARS = 2048;
const PACKED_TAG_BYTES = 8192;

export interface AssumeRoleInput {
  roleArn: string;
  roleSessionName: string;
  durationSeconds?: number;
  tags?: Tag[];
  transitiveTagKeys?: string[];
  externalId?: string;
  /** An inline session policy (JSON text). */
  policy?: string;
  /** Managed policies to use as session policies. */
  policyArns?: string[];
  /** Who is behind the session (2–64 characters of [\w+=,.@-], checked by the model). */
  sourceIdentity?: string;
}

/**
 * Session tags asked for (AssumeRole's Tags, a web identity token's principal_tags), checked as
 * STS checks them: their lower-cased keys, and the transitive ones.
 */
export function checkSessionTags(requested: Tag[], transitiveTagKeys: string[] | undefined): { keys: Set<string>; transitive: string[] } {
  const keys = new Set<string>();
  for (const t of requested) {
    if (keys.has(t.key.toLowerCase())) {
      throw new CofferError("InvalidParameter", "Duplicate tag keys found. Please note that Tag keys are case insensitive.");
    }
    keys.add(t.key.toLowerCase());
  }
  const transitive = [...new Set(transitiveTagKeys ?? [])];
  if (transitive.some((k) => !keys.has(k.toLowerCase()))) {
    throw new CofferError("InvalidParameter", "The specified transitive tag key must be included in the requested tags.");
  }
  return { keys, transitive };
}

/** The session tags the new session carries: those asked for, and a calling session's transitive ones. */
function sessionTagsFor(caller: Principal, input: AssumeRoleInput): { tags: Tag[]; transitive: string[] } {
  const requested = input.tags ?? [];
  const { keys, transitive } = checkSessionTags(requested, input.transitiveTagKeys);
  // Role chaining: the calling session's transitive tags pass on, and may not be overridden.
  const incomingKeys = new Set((caller.kind === "assumed-role" ? (caller.transitiveTagKeys ?? []) : []).map((k) => k.toLowerCase()));
  const incoming = (caller.sessionTags ?? []).filter((t) => incomingKeys.has(t.key.toLowerCase()));
  if (incoming.some((t) => keys.has(t.key.toLowerCase()))) {
    throw new CofferError(
      "InvalidParameter",
      "One of the specified transitive tag keys can't be set because it conflicts with a transitive tag key from the calling session.",
    );
  }
  return { tags: [...incoming, ...requested], transitive: [...incoming.map((t) => t.key), ...transitive] };
}

/** The request context of a trust check for the session tags asked for: aws:RequestTag/*, aws:TagKeys, sts:TransitiveTagKeys. */
export function requestTagContext(tags: Tag[] | undefined, transitiveTagKeys: string[] | undefined): Record<string, string | string[] | undefined> {
  const context: Record<string, string | string[] | undefined> = { "aws:TagKeys": tags?.map((t) => t.key) };
  if (transitiveTagKeys) context["sts:TransitiveTagKeys"] = transitiveTagKeys;
  for (const t of tags ?? []) context[`aws:RequestTag/${t.key}`] = t.value;
  return context;
}

/** The session policies' documents; a malformed policy or an unknown managed policy is an error, as on AWS. */
export async function sessionPoliciesFor(
  input: Pick<AssumeRoleInput, "policy" | "policyArns">,
  store: Pick<IamPolicyReads, "getManagedPolicy">,
  accountId: string,
): Promise<string[] | undefined> {
  if (input.policy === undefined && input.policyArns === undefined) return undefined;
  // PolicyArns: the AWS managed policies Coffer carries, or customer managed ones of the role's account, by their default version now.
  const documents: string[] = [];
  for (const arn of input.policyArns ?? []) {
    const own = arn.startsWith("arn:aws:iam::aws:") || arn.split(":")[4] === accountId;
    const document = own ? await managedPolicyDocument(store, arn) : undefined;
    if (document === undefined) throw new CofferError("InvalidParameter", `Policy ${arn} does not exist or is not attachable.`);
    documents.push(document);
  }
  if (input.policy === undefined) return documents;
  try {
    parsePolicy(input.policy, "identity");
  } catch (err) {
    if (err instanceof PolicyError) throw new CofferError("MalformedPolicy", err.message);
    throw err;
  }
  return [...documents, input.policy];
}

/** PackedPolicySize: the larger share of either budget, in percent; over 100 is PackedPolicyTooLarge. */
export function packedSize(input: Pick<AssumeRoleInput, "policy" | "policyArns">, tags: Tag[]): number | undefined {
  const policyChars = (input.policy ?? "").replace(/\s/g, "").length + (input.policyArns ?? []).reduce((n, a) => n + a.length, 0);
  const tagBytes = tags.reduce((n, t) => n + Buffer.byteLength(t.key) + Buffer.byteLength(t.value), 0);
  const policyPct = Math.ceil((100 * policyChars) / PACKED_POLICY_CHARS);
  const tagPct = Math.ceil((100 * tagBytes) / PACKED_TAG_BYTES);
  if (policyPct > 100) {
    throw new CofferError("LimitExceeded", `Packed policy consumes ${policyPct}% of allotted space, please use smaller policy.`);
  }
  if (tagPct > 100) throw new CofferError("LimitExceeded", `Packed size of session tags consumes ${tagPct}% of allotted space.`);
  if (input.policy === undefined && input.policyArns === undefined && tags.length === 0) return undefined;
  return Math.max(policyPct, tagPct);
}

/**
 * The source identity a new session carries: the calling session's, which can never change, or the
 * one asked for. A different value than the calling session's is refused.
 */
function chainedSourceIdentity(caller: Pick<Principal, "sourceIdentity">, asked: string | undefined, roleArn: string): string | undefined {
  const held = caller.sourceIdentity;
  if (held !== undefined && asked !== undefined && asked !== held) {
    throw new CofferError(
      "AccessDenied",
      `The source identity of a session cannot be changed: it is ${held}, not ${asked}; leave SourceIdentity out to assume ${roleArn}.`,
    );
  }
  return asked ?? held;
}

export interface AssumedRole {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: number;
  assumedRoleArn: string;
  assumedRoleId: string;
  /** Present when the session has session policies or tags. */
  packedPolicySize?: number;
  sourceIdentity?: string;
}

/**
 * A role session, once the caller is allowed it (AssumeRole, AssumeRoleWithWebIdentity): checks
 * DurationSeconds against `max`, issues the temporary key and shapes the answer.
 */
export async function issueRoleSession(
  identity: Pick<IdentityService, "createSessionKey">,
  role: Pick<PrincipalRecord, "arn" | "id" | "name" | "accountId">,
  input: { roleSessionName: string; durationSeconds?: number; policyArns?: string[] },
  { max, now, packedPolicySize, session }: { max: number; now: number; packedPolicySize?: number; session: Partial<Omit<SessionInfo, "tokenHash">> },
): Promise<AssumedRole> {
  const duration = input.durationSeconds ?? 3600;
  if (duration < 900 || duration > max) {
    throw new CofferError(
      "Validation",
      `The requested DurationSeconds exceeds the MaxSessionDuration set for this role (${max} seconds); it must be between 900 and ${max}.`,
    );
  }
  const expiration = now + duration * 1000;
  const sessionArn = assumedRoleArn(role.accountId, role.name, input.roleSessionName);
  const key = await identity.createSessionKey({
    accountId: role.accountId,
    sessionArn,
    expiresAt: expiration,
    session: {
      roleArn: role.arn,
      roleId: role.id,
      sessionName: input.roleSessionName,
      ...session,
      ...(input.policyArns?.length ? { policyArns: input.policyArns } : {}),
    },
  });
  return {
    accessKeyId: key.accessKeyId,
    secretAccessKey: key.secretAccessKey,
    sessionToken: key.sessionToken,
    expiration,
    assumedRoleArn: sessionArn,
    assumedRoleId: `${role.id}:${input.roleSessionName}`,
    ...(packedPolicySize !== undefined ? { packedPolicySize } : {}),
    ...(session.sourceIdentity !== undefined ? { sourceIdentity: session.sourceIdentity } : {}),
  };
}

interface StsDeps {
  store: Pick<IdentityReads, "getPrincipal"> & Pick<IamPolicyReads, "getManagedPolicy">;
  identity: IdentityService;
  authorizer: Authorizer;
  clock: { now(): number };
}

export function createStsService({ store, identity, authorizer, clock }: StsDeps) {
  return {
    /**
     * Temporary credentials for a role: the role's trust policy must allow the
     * caller (and, when it trusts the caller's whole account, the caller's own
     * policies must allow sts:AssumeRole).
     */
    async assumeRole(caller: Principal, input: AssumeRoleInput): Promise<AssumedRole> {
      const { tags, transitive } = sessionTagsFor(caller, input);
      const packedPolicySize = packedSize(input, tags);
      const sourceIdentity = chainedSourceIdentity(caller, input.sourceIdentity, input.roleArn);
      const role = await store.getPrincipal(input.roleArn);
      // aws:RequestTag/* and aws:TagKeys are the tags passed in this request, for both checks.
      const context: Record<string, string | string[] | undefined> = {
        "sts:ExternalId": input.externalId,
        "sts:RoleSessionName": input.roleSessionName,
        ...requestTagContext(input.tags, input.transitiveTagKeys),
        "sts:SourceIdentity": sourceIdentity,
      };
      const check = async (action: string) => {
        try {
          await authorizer.authorize({
            principal: caller,
            action,
            resource: input.roleArn,
            resourcePolicy: role?.kind === "role" ? role.trustPolicy : undefined,
            mode: "trust",
            context,
          });
        } catch (err) {
          // STS's own wording, without the reason: which policy failed would tell a missing role
          // (no trust policy) from one that exists and trusts the caller's account.
          if (err instanceof CofferError && err.code === "AccessDenied") {
            throw new CofferError("AccessDenied", `User: ${caller.arn} is not authorized to perform: ${action} on resource: ${input.roleArn}`);
          }
          throw err;
        }
      };
      await check("sts:AssumeRole");
      // A session that carries tags (passed now, or passed on from the calling session) needs sts:TagSession too.
      if (tags.length > 0 || transitive.length > 0) await check("sts:TagSession");
      // So does one with a source identity, set now or kept from the calling session.
      if (sourceIdentity !== undefined) await check("sts:SetSourceIdentity");
      // After the trust check: which managed policies exist is not for a caller who may not assume the role.
      const policies = await sessionPoliciesFor(input, store, input.roleArn.split(":")[4] ?? "");
      if (!role || role.kind !== "role") {
        // Only reached by a caller allowed to assume it, so naming the missing role reveals nothing new.
        throw new CofferError("AccessDenied", `Roles may not be assumed: ${input.roleArn} does not exist.`);
      }
      const max = caller.kind === "assumed-role" ? CHAINED_MAX_SECONDS : (role.maxSessionDuration ?? 3600);
      return issueRoleSession(identity, role, input, {
        max,
        now: clock.now(),
        packedPolicySize,
        session: {
          ...(tags.length ? { tags } : {}),
          ...(transitive.length ? { transitiveTagKeys: transitive } : {}),
          ...(policies ? { policies } : {}),
          ...(sourceIdentity !== undefined ? { sourceIdentity } : {}),
        },
      });
    },

    /**
     * Temporary credentials of a role for Coffer's own use (a command rotation
     * function's execution role): no trust check, the operator chose the role.
     */
    async sessionFor(roleArn: string, sessionName: string, seconds: number) {
      const role = await store.getPrincipal(roleArn);
      if (!role || role.kind !== "role") throw new CofferError("InvalidRequest", `The execution role ${roleArn} does not exist.`);
      const sessionArn = assumedRoleArn(role.accountId, role.name, sessionName);
      const key = await identity.createSessionKey({
        accountId: role.accountId,
        sessionArn,
        expiresAt: clock.now() + seconds * 1000,
        session: { roleArn: role.arn, roleId: role.id, sessionName },
      });
      return { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey, sessionToken: key.sessionToken };
    },

    /** Who the caller is; needs no permission, as on AWS. */
    async callerIdentity(caller: Principal): Promise<{ account: string; arn: string; userId: string }> {
      let userId = caller.accountId;
      if (caller.kind === "user") userId = (await store.getPrincipal(caller.arn))?.id ?? caller.accessKeyId;
      if (caller.kind === "assumed-role") {
        const role = caller.roleArn ? await store.getPrincipal(caller.roleArn) : undefined;
        userId = `${role?.id ?? caller.accessKeyId}:${caller.sessionName}`;
      }
      return { account: caller.accountId, arn: caller.arn, userId };
    },
  };
}

export type StsService = ReturnType<typeof createStsService>;
