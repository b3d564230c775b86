import { randomInt } from "node:crypto";
import { parsePolicy } from "../../policy/policy-parse.ts";
import { PolicyError } from "../../policy/policy-types.ts";
import type { IamPolicyStore, IdentityReads, PrincipalRecord, Tag } from "../../storage/store.ts";
import { managedPolicyDocument } from "./managed-policy-documents.ts";
import { CofferError } from "../../shared/errors.ts";
import type { IdentityService } from "./identity-service.ts";
import type { Authorizer, Principal } from "./identity-types.ts";
import { iamArn, rootArn } from "../../shared/arn.ts";
import { offsetPage } from "../../shared/paging-token.ts";
import { mergeTags as mergeTagsUpTo } from "../../shared/tags.ts";

/**
 * IAM users, roles, their access keys and inline policies, per account. The
 * account root (the administrator key) is not a stored principal: it may do
 * everything in its account unless a policy explicitly denies it.
 */

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const MAX_KEYS_PER_USER = 2;
const MAX_POLICY_CHARS = { user: 2048, role: 10240 };
const MAX_TAGS = 50;

export type PrincipalKind = PrincipalRecord["kind"];

export interface AccessKeyInfo {
  accessKeyId: string;
  userName: string;
  status: "Active" | "Inactive";
  createdAt: number;
}

export interface Page<T> {
  items: T[];
  marker?: string;
}

interface IamDeps {
  /** Identity, and managed policies (a boundary given to CreateUser or CreateRole must exist). */
  store: IamPolicyStore;
  identity: IdentityService;
  authorizer: Authorizer;
  clock: { now(): number };
}

export function principalArn(accountId: string, kind: PrincipalKind, path: string, name: string): string {
  return iamArn(accountId, kind, name, path);
}

function uniqueId(kind: PrincipalKind): string {
  let id = kind === "user" ? "AIDA" : "AROA";
  for (let i = 0; i < 17; i++) id += BASE32[randomInt(BASE32.length)];
  return id;
}

export function checkPath(path: string): void {
  if (!/^\/([\x21-\x7e]*\/)?$/.test(path) || path.length > 512) {
    throw new CofferError("InvalidParameter", "The specified value for path is invalid. It must begin and end with / and contain only printable ASCII characters.");
  }
}

export function checkPolicyText(text: string, kind: "identity" | "trust"): void {
  try {
    parsePolicy(text, kind);
  } catch (err) {
    if (err instanceof PolicyError) throw new CofferError("MalformedPolicy", err.message);
    throw err;
  }
}

/** IAM's tag merge: at most 50 tags on a user, role, policy or provider. */
export const mergeTags = (existing: Tag[], added: Tag[]): Tag[] => mergeTagsUpTo(existing, added, MAX_TAGS, "user, role or policy");

const noun = (kind: PrincipalKind) => (kind === "user" ? "user" : "role");

export function paginate<T>(items: T[], maxItems = 100, marker?: string): Page<T> {
  const page = offsetPage(items, maxItems, marker || undefined);
  if (!page) throw new CofferError("InvalidParameter", "Invalid Marker.");
  return page.next === undefined ? { items: page.items } : { items: page.items, marker: page.next };
}

export function createIamService({ store, identity, authorizer, clock }: IamDeps) {
  /**
   * Every IAM change goes through here: cached credentials on this node are
   * dropped when it ends (committed or not), so a deactivated or deleted key,
   * a deleted role's sessions, a changed user are seen by the next request,
   * not when the cache ages out. (Policies are read through the store's read
   * cache, which every committed write empties.)
   */
  const write: IamPolicyStore["transaction"] = (fn) => store.transaction(fn).finally(() => identity.invalidate());

  async function authorize(caller: Principal, action: string, kind: PrincipalKind, name: string, path = "/", context?: Record<string, string>) {
    await authorizer.authorize({
      principal: caller,
      action,
      resource: principalArn(caller.accountId, kind, path, name),
      ...(context ? { context } : {}),
    });
  }

  async function find(reader: IdentityReads, accountId: string, kind: PrincipalKind, name: string) {
    return (await reader.listPrincipals(accountId, kind)).find((p) => p.name === name);
  }

  const notFound = (kind: PrincipalKind, name: string) => new CofferError("NotFound", `The ${noun(kind)} with name ${name} cannot be found.`);

  /**
   * The named user or role, once the caller may do `action` on it. Authorisation comes first, on
   * the entity's ARN (with the default path when there is none), so an unauthorised caller learns
   * nothing of whether it exists: AccessDenied either way.
   */
  async function authorizedGet(reader: IdentityReads, caller: Principal, kind: PrincipalKind, name: string, action: string) {
    const found = await find(reader, caller.accountId, kind, name);
    await authorize(caller, action, kind, name, found?.path ?? "/");
    if (!found) throw notFound(kind, name);
    return found;
  }

  async function create(
    caller: Principal,
    kind: PrincipalKind,
    input: {
      name: string;
      path?: string;
      tags?: Tag[];
      description?: string;
      trustPolicy?: string;
      maxSessionDuration?: number;
      permissionsBoundary?: string;
    },
  ): Promise<PrincipalRecord> {
    const path = input.path ?? "/";
    checkPath(path);
    const boundary = input.permissionsBoundary;
    await authorize(caller, kind === "user" ? "iam:CreateUser" : "iam:CreateRole", kind, input.name, path, boundary ? { "iam:PermissionsBoundary": boundary } : undefined);
    if (input.trustPolicy !== undefined) checkPolicyText(input.trustPolicy, "trust");
    const maxSessionDuration = input.maxSessionDuration ?? (kind === "role" ? 3600 : undefined);
    if (maxSessionDuration !== undefined && (maxSessionDuration < 3600 || maxSessionDuration > 43200)) {
      throw new CofferError("InvalidParameter", "MaxSessionDuration must be between 3600 and 43200 seconds.");
    }
    return write(async (tx) => {
      const all = await tx.listPrincipals(caller.accountId, kind);
      // IAM names are unique per account regardless of case.
      if (all.some((p) => p.name.toLowerCase() === input.name.toLowerCase())) {
        throw new CofferError("AlreadyExists", `${kind === "user" ? "User" : "Role"} with name ${input.name} already exists.`);
      }
      const record: PrincipalRecord = {
        arn: principalArn(caller.accountId, kind, path, input.name),
        accountId: caller.accountId,
        kind,
        name: input.name,
        path,
        id: uniqueId(kind),
        createdAt: clock.now(),
        inlinePolicies: {},
        tags: mergeTags([], input.tags ?? []),
      };
      if (input.description !== undefined) record.description = input.description;
      if (input.trustPolicy !== undefined) record.trustPolicy = input.trustPolicy;
      if (maxSessionDuration !== undefined) record.maxSessionDuration = maxSessionDuration;
      if (boundary !== undefined) {
        const own = boundary.startsWith("arn:aws:iam::aws:") || boundary.split(":")[4] === caller.accountId;
        if (!own || (await managedPolicyDocument(tx, boundary)) === undefined) {
          throw new CofferError("NotFound", `Policy ${boundary} does not exist or is not attachable.`);
        }
        record.permissionsBoundary = boundary;
      }
      await tx.putPrincipal(record);
      return record;
    });
  }

  const ownerArn = (caller: Principal, owner: PrincipalRecord | undefined) => owner?.arn ?? rootArn(caller.accountId);

  /**
   * The user a key operation is about (the named one, or the caller itself: a user, or root),
   * once the caller may do `action` on it; authorised before a missing user is reported.
   */
  async function keyOwner(reader: IdentityReads, caller: Principal, userName: string | undefined, action: string) {
    if (userName === undefined && caller.kind === "root") {
      await authorizer.authorize({ principal: caller, action, resource: ownerArn(caller, undefined) });
      return undefined;
    }
    if (userName === undefined && caller.kind !== "user") {
      throw new CofferError("InvalidParameter", "Must specify userName when calling with non-User credentials");
    }
    return authorizedGet(reader, caller, "user", userName ?? caller.arn.split("/").pop()!, action);
  }

  return {
    create,

    async get(caller: Principal, kind: PrincipalKind, name: string | undefined): Promise<PrincipalRecord> {
      if (name === undefined) {
        if (kind === "user" && caller.kind === "user") name = caller.arn.split("/").pop()!;
        else throw new CofferError("InvalidParameter", `Must specify ${kind === "user" ? "userName" : "roleName"}.`);
      }
      return authorizedGet(store, caller, kind, name, kind === "user" ? "iam:GetUser" : "iam:GetRole");
    },

    /**
     * ListInstanceProfilesForRole: Coffer runs no EC2 instances, so a role is in no instance
     * profile; the role must still exist and the caller may ask (Terraform asks before DeleteRole).
     */
    async listInstanceProfiles(caller: Principal, roleName: string): Promise<never[]> {
      await authorizedGet(store, caller, "role", roleName, "iam:ListInstanceProfilesForRole");
      return [];
    },

    async list(caller: Principal, kind: PrincipalKind, input: { pathPrefix?: string; marker?: string; maxItems?: number }) {
      await authorizer.authorize({
        principal: caller,
        action: kind === "user" ? "iam:ListUsers" : "iam:ListRoles",
        resource: principalArn(caller.accountId, kind, "/", "*"),
      });
      const all = (await store.listPrincipals(caller.accountId, kind)).filter((p) => p.path.startsWith(input.pathPrefix ?? "/"));
      return paginate(all, input.maxItems, input.marker);
    },

    async remove(caller: Principal, kind: PrincipalKind, name: string): Promise<void> {
      await write(async (tx) => {
        const found = await authorizedGet(tx, caller, kind, name, kind === "user" ? "iam:DeleteUser" : "iam:DeleteRole");
        if (Object.keys(found.inlinePolicies).length > 0) {
          throw new CofferError("Conflict", `Cannot delete entity, must delete policies first.`);
        }
        if (found.attachedPolicyArns?.length) throw new CofferError("Conflict", "Cannot delete entity, must detach all policies first.");
        if (found.groupArns?.length) throw new CofferError("Conflict", "Cannot delete entity, must remove users from group first.");
        if (kind === "user" && (await tx.listAccessKeys(found.arn)).length > 0) {
          throw new CofferError("Conflict", "Cannot delete entity, must delete access keys first.");
        }
        await tx.deletePrincipal(found.arn);
      });
    },

    async updateTrustPolicy(caller: Principal, roleName: string, document: string): Promise<void> {
      checkPolicyText(document, "trust");
      await write(async (tx) => {
        const role = await authorizedGet(tx, caller, "role", roleName, "iam:UpdateAssumeRolePolicy");
        await tx.putPrincipal({ ...role, trustPolicy: document });
      });
    },

    async putPolicy(caller: Principal, kind: PrincipalKind, name: string, policyName: string, document: string) {
      checkPolicyText(document, "identity");
      await write(async (tx) => {
        const found = await authorizedGet(tx, caller, kind, name, kind === "user" ? "iam:PutUserPolicy" : "iam:PutRolePolicy");
        const inlinePolicies = { ...found.inlinePolicies, [policyName]: document };
        // As IAM counts it: all of a principal's inline policies together, white space not counted.
        const size = Object.values(inlinePolicies).reduce((n, text) => n + text.replace(/\s/g, "").length, 0);
        if (size > MAX_POLICY_CHARS[kind]) {
          throw new CofferError("LimitExceeded", `Maximum policy size of ${MAX_POLICY_CHARS[kind]} bytes exceeded for ${noun(kind)} ${name}`);
        }
        await tx.putPrincipal({ ...found, inlinePolicies });
      });
    },

    async getPolicy(caller: Principal, kind: PrincipalKind, name: string, policyName: string): Promise<string> {
      const found = await authorizedGet(store, caller, kind, name, kind === "user" ? "iam:GetUserPolicy" : "iam:GetRolePolicy");
      const document = found.inlinePolicies[policyName];
      if (document === undefined) {
        throw new CofferError("NotFound", `The ${noun(kind)} policy with name ${policyName} cannot be found.`);
      }
      return document;
    },

    async listPolicies(caller: Principal, kind: PrincipalKind, name: string, input: { marker?: string; maxItems?: number }) {
      const found = await authorizedGet(store, caller, kind, name, kind === "user" ? "iam:ListUserPolicies" : "iam:ListRolePolicies");
      return paginate(Object.keys(found.inlinePolicies).sort(), input.maxItems, input.marker);
    },

    async deletePolicy(caller: Principal, kind: PrincipalKind, name: string, policyName: string): Promise<void> {
      await write(async (tx) => {
        const found = await authorizedGet(tx, caller, kind, name, kind === "user" ? "iam:DeleteUserPolicy" : "iam:DeleteRolePolicy");
        if (found.inlinePolicies[policyName] === undefined) {
          throw new CofferError("NotFound", `The ${noun(kind)} policy with name ${policyName} cannot be found.`);
        }
        const { [policyName]: _gone, ...rest } = found.inlinePolicies;
        await tx.putPrincipal({ ...found, inlinePolicies: rest });
      });
    },

    async tag(caller: Principal, kind: PrincipalKind, name: string, tags: Tag[]): Promise<void> {
      await write(async (tx) => {
        const found = await authorizedGet(tx, caller, kind, name, kind === "user" ? "iam:TagUser" : "iam:TagRole");
        await tx.putPrincipal({ ...found, tags: mergeTags(found.tags, tags) });
      });
    },

    async untag(caller: Principal, kind: PrincipalKind, name: string, keys: string[]): Promise<void> {
      await write(async (tx) => {
        const found = await authorizedGet(tx, caller, kind, name, kind === "user" ? "iam:UntagUser" : "iam:UntagRole");
        await tx.putPrincipal({ ...found, tags: found.tags.filter((t) => !keys.includes(t.key)) });
      });
    },

    async createAccessKey(caller: Principal, userName?: string) {
      const owner = await keyOwner(store, caller, userName, "iam:CreateAccessKey");
      const existing = await store.listAccessKeys(ownerArn(caller, owner));
      if (existing.filter((k) => !k.accessKeyId.startsWith("ASIA")).length >= MAX_KEYS_PER_USER) {
        throw new CofferError("LimitExceeded", `Cannot exceed quota for AccessKeysPerUser: ${MAX_KEYS_PER_USER}`);
      }
      const key = await identity.createAccessKey({
        arn: ownerArn(caller, owner),
        accountId: caller.accountId,
        kind: owner ? "user" : "root",
      });
      return { ...key, userName: owner?.name ?? "root", status: "Active" as const, createdAt: clock.now() };
    },

    async listAccessKeys(caller: Principal, userName?: string): Promise<AccessKeyInfo[]> {
      const owner = await keyOwner(store, caller, userName, "iam:ListAccessKeys");
      return (await store.listAccessKeys(ownerArn(caller, owner)))
        .filter((k) => !k.accessKeyId.startsWith("ASIA"))
        .map((k) => ({ accessKeyId: k.accessKeyId, userName: owner?.name ?? "root", status: k.status, createdAt: k.createdAt }));
    },

    async updateAccessKey(caller: Principal, input: { userName?: string; accessKeyId: string; status: "Active" | "Inactive" }) {
      await write(async (tx) => {
        const owner = await keyOwner(tx, caller, input.userName, "iam:UpdateAccessKey");
        const key = await tx.getAccessKey(input.accessKeyId);
        if (!key || key.principalArn !== ownerArn(caller, owner)) {
          throw new CofferError("NotFound", `The Access Key with id ${input.accessKeyId} cannot be found.`);
        }
        await tx.putAccessKey({ ...key, status: input.status });
      });
    },

    async deleteAccessKey(caller: Principal, input: { userName?: string; accessKeyId: string }) {
      await write(async (tx) => {
        const owner = await keyOwner(tx, caller, input.userName, "iam:DeleteAccessKey");
        const key = await tx.getAccessKey(input.accessKeyId);
        if (!key || key.principalArn !== ownerArn(caller, owner)) {
          throw new CofferError("NotFound", `The Access Key with id ${input.accessKeyId} cannot be found.`);
        }
        await tx.deleteAccessKey(input.accessKeyId);
      });
    },
  };
}

export type IamService = ReturnType<typeof createIamService>;
