import { randomInt } from "node:crypto";
import type { GroupRecord, IamPolicyStore, IamPolicyTx, ManagedPolicyRecord, PrincipalRecord, Tag } from "../../storage/store.ts";
import { CofferError } from "../../shared/errors.ts";
import { formatArn } from "../../shared/arn.ts";
import type { Authorizer, Principal } from "./identity-types.ts";
import { awsManagedPolicies, awsManagedPolicy, type AwsManagedPolicy } from "./aws-managed-policies.ts";
import { checkPath, checkPolicyText, mergeTags, paginate, type Page } from "./iam-service.ts";

/**
 * IAM managed policies: customer managed policies with up to five versions, the AWS managed
 * policies Coffer carries (aws-managed-policies.ts, read-only), attaching either to users, roles
 * and groups, and permissions boundaries. Every operation authorises first (IAM's action on the
 * policy's or the entity's ARN), so an unauthorised caller learns nothing of what exists.
 * Attachments live on the entity's record, so the authorizer reads them with the entity.
 */

const MAX_VERSIONS = 5;
/** Managed policy documents, white space not counted, as IAM counts them. */
const MAX_DOCUMENT_CHARS = 6144;
/** Managed policies attached to one user, role or group (IAM's default quota). */
const MAX_ATTACHED = 10;
const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

export type EntityKind = "user" | "role" | "group";

/** A policy as the API shows it: a customer managed record or an AWS managed one, with its usage in the caller's account. */
export interface PolicyView {
  arn: string;
  name: string;
  path: string;
  id: string;
  description?: string;
  defaultVersionId: string;
  createdAt: number;
  updatedAt: number;
  attachmentCount: number;
  boundaryUsageCount: number;
  tags: Tag[];
  awsManaged: boolean;
}

export interface PolicyVersionView {
  versionId: string;
  document: string;
  isDefault: boolean;
  createdAt: number;
}

export interface EntityRef {
  kind: EntityKind;
  name: string;
  id: string;
}

interface Deps {
  store: IamPolicyStore;
  authorizer: Authorizer;
  clock: { now(): number };
}

export function policyArn(accountId: string, path: string, name: string): string {
  return formatArn({ service: "iam", region: "", accountId, resource: `policy${path}${name}` });
}

export function groupArn(accountId: string, path: string, name: string): string {
  return formatArn({ service: "iam", region: "", accountId, resource: `group${path}${name}` });
}

export function newIamId(prefix: "ANPA" | "AGPA"): string {
  let id = prefix;
  for (let i = 0; i < 17; i++) id += BASE32[randomInt(BASE32.length)];
  return id;
}

const quotaName: Record<EntityKind, string> = { user: "PoliciesPerUser", role: "PoliciesPerRole", group: "PoliciesPerGroup" };
const actionNoun: Record<EntityKind, string> = { user: "User", role: "Role", group: "Group" };

function notAttachable(arn: string): CofferError {
  return new CofferError("NotFound", `Policy ${arn} does not exist or is not attachable.`);
}

function checkDocument(document: string): void {
  checkPolicyText(document, "identity");
  const size = document.replace(/\s/g, "").length;
  if (size > MAX_DOCUMENT_CHARS) throw new CofferError("LimitExceeded", `Cannot exceed quota for PolicySize: ${MAX_DOCUMENT_CHARS}`);
}

/** Users, roles and groups of an account that use each policy, as an attachment and as a boundary. */
async function usageOf(reader: IamPolicyTx | IamPolicyStore, accountId: string) {
  const users = await reader.listPrincipals(accountId, "user");
  const roles = await reader.listPrincipals(accountId, "role");
  const groups = await reader.listGroups(accountId);
  const attached = new Map<string, { kind: EntityKind; record: PrincipalRecord | GroupRecord }[]>();
  const bounded = new Map<string, { kind: EntityKind; record: PrincipalRecord }[]>();
  const add = <T>(map: Map<string, T[]>, arn: string, entry: T) => map.set(arn, [...(map.get(arn) ?? []), entry]);
  for (const [kind, list] of [["user", users], ["role", roles]] as const) {
    for (const p of list) {
      for (const arn of p.attachedPolicyArns ?? []) add(attached, arn, { kind, record: p });
      if (p.permissionsBoundary) add(bounded, p.permissionsBoundary, { kind, record: p });
    }
  }
  for (const g of groups) for (const arn of g.attachedPolicyArns) add(attached, arn, { kind: "group" as const, record: g });
  return { attached, bounded };
}

function viewOf(p: ManagedPolicyRecord | AwsManagedPolicy, usage: Awaited<ReturnType<typeof usageOf>>): PolicyView {
  const aws = !("versions" in p);
  return {
    arn: p.arn,
    name: p.name,
    path: p.path,
    id: p.id,
    description: p.description,
    defaultVersionId: p.defaultVersionId,
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
    attachmentCount: usage.attached.get(p.arn)?.length ?? 0,
    boundaryUsageCount: usage.bounded.get(p.arn)?.length ?? 0,
    tags: aws ? [] : (p as ManagedPolicyRecord).tags,
    awsManaged: aws,
  };
}

export function createManagedPolicyService({ store, authorizer, clock }: Deps) {
  const authorize = (caller: Principal, action: string, resource: string, context?: Record<string, string>) =>
    authorizer.authorize({
      principal: caller,
      action,
      resource,
      // An AWS managed policy is seen from the caller's account: identity policies decide.
      resourceAccount: resource.startsWith("arn:aws:iam::aws:") ? caller.accountId : undefined,
      ...(context ? { context } : {}),
    });

  /** A customer managed policy of the caller's account, or an AWS managed one, authorised first. */
  async function findPolicy(reader: IamPolicyTx | IamPolicyStore, caller: Principal, arn: string, action: string) {
    await authorize(caller, action, arn);
    const aws = awsManagedPolicy(arn);
    if (aws) return aws;
    const own = arn.split(":")[4] === caller.accountId ? await reader.getManagedPolicy(arn) : undefined;
    if (!own) throw new CofferError("NotFound", `Policy ${arn} was not found.`);
    return own;
  }

  /** The caller's own customer managed policy, for changes: AWS managed policies cannot be changed. */
  async function ownPolicy(tx: IamPolicyTx, caller: Principal, arn: string, action: string): Promise<ManagedPolicyRecord> {
    const found = await findPolicy(tx, caller, arn, action);
    if (!("versions" in found)) {
      throw new CofferError("AccessDenied", `User: ${caller.arn} is not authorized to perform: ${action} on resource: policy ${arn}`);
    }
    return found;
  }

  /** The named user, role or group, once the caller may do `action` on it (authorised before a missing one is reported). */
  async function findEntity(reader: IamPolicyTx | IamPolicyStore, caller: Principal, kind: EntityKind, name: string, action: string, context?: Record<string, string>) {
    const lower = name.toLowerCase();
    const found =
      kind === "group"
        ? (await reader.listGroups(caller.accountId)).find((g) => g.name.toLowerCase() === lower)
        : (await reader.listPrincipals(caller.accountId, kind)).find((p) => p.name === name);
    const path = found?.path ?? "/";
    const arn = kind === "group" ? groupArn(caller.accountId, path, name) : formatArn({ service: "iam", region: "", accountId: caller.accountId, resource: `${kind}${path}${name}` });
    await authorize(caller, action, found?.arn ?? arn, context);
    if (!found) throw new CofferError("NotFound", `The ${kind} with name ${name} cannot be found.`);
    // Read again by ARN: in a transaction that reads (on PostgreSQL, locks) the row this change writes.
    return (kind === "group" ? await reader.getGroup(found.arn) : await reader.getPrincipal(found.arn)) ?? found;
  }

  /**
   * The policy to attach (or use as a boundary): one Coffer carries, or the caller's own. A
   * customer policy's row is written back unchanged: a DeletePolicy racing this on another node
   * then conflicts with it (and is retried, seeing the attachment) instead of reading a snapshot
   * without it.
   */
  async function attachable(tx: IamPolicyTx, caller: Principal, arn: string): Promise<void> {
    if (awsManagedPolicy(arn)) return;
    const policy = arn.split(":")[4] === caller.accountId ? await tx.getManagedPolicy(arn) : undefined;
    if (!policy) throw notAttachable(arn);
    await tx.putManagedPolicy(policy);
  }

  const putEntity = (tx: IamPolicyTx, kind: EntityKind, record: PrincipalRecord | GroupRecord) =>
    kind === "group" ? tx.putGroup(record as GroupRecord) : tx.putPrincipal(record as PrincipalRecord);

  return {
    async create(caller: Principal, input: { name: string; path?: string; document: string; description?: string; tags?: Tag[] }): Promise<PolicyView> {
      const path = input.path ?? "/";
      checkPath(path);
      const arn = policyArn(caller.accountId, path, input.name);
      await authorize(caller, "iam:CreatePolicy", arn);
      checkDocument(input.document);
      const now = clock.now();
      const record: ManagedPolicyRecord = {
        arn,
        accountId: caller.accountId,
        name: input.name,
        path,
        id: newIamId("ANPA"),
        createdAt: now,
        updatedAt: now,
        defaultVersionId: "v1",
        nextVersion: 2,
        versions: [{ versionId: "v1", document: input.document, createdAt: now }],
        tags: mergeTags([], input.tags ?? []),
      };
      if (input.description !== undefined) record.description = input.description;
      await store.transaction(async (tx) => {
        const lower = input.name.toLowerCase();
        if ((await tx.listManagedPolicies(caller.accountId)).some((p) => p.name.toLowerCase() === lower)) {
          throw new CofferError("AlreadyExists", `A policy called ${input.name} already exists. Duplicate names are not allowed.`);
        }
        await tx.putManagedPolicy(record);
      });
      return viewOf(record, { attached: new Map(), bounded: new Map() });
    },

    async get(caller: Principal, arn: string): Promise<PolicyView> {
      const found = await findPolicy(store, caller, arn, "iam:GetPolicy");
      return viewOf(found, await usageOf(store, caller.accountId));
    },

    async remove(caller: Principal, arn: string): Promise<void> {
      await store.transaction(async (tx) => {
        const policy = await ownPolicy(tx, caller, arn, "iam:DeletePolicy");
        const usage = await usageOf(tx, caller.accountId);
        if (usage.attached.get(arn)?.length || usage.bounded.get(arn)?.length) {
          throw new CofferError("Conflict", "Cannot delete a policy attached to entities.");
        }
        if (policy.versions.length > 1) {
          throw new CofferError(
            "Conflict",
            "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.",
          );
        }
        await tx.deleteManagedPolicy(arn);
      });
    },

    async list(
      caller: Principal,
      input: { scope?: string; onlyAttached?: boolean; pathPrefix?: string; usageFilter?: string; marker?: string; maxItems?: number },
    ): Promise<Page<PolicyView>> {
      await authorize(caller, "iam:ListPolicies", "*");
      const scope = input.scope ?? "All";
      const usage = await usageOf(store, caller.accountId);
      const all: PolicyView[] = [
        ...(scope === "Local" ? [] : awsManagedPolicies()).map((p) => viewOf(p, usage)),
        ...(scope === "AWS" ? [] : await store.listManagedPolicies(caller.accountId)).map((p) => viewOf(p, usage)),
      ];
      const prefix = input.pathPrefix ?? "/";
      // OnlyAttached: attached as a permissions policy; with PolicyUsageFilter PermissionsBoundary, used as a boundary.
      const boundaries = input.usageFilter === "PermissionsBoundary";
      const chosen = all.filter(
        (p) =>
          p.path.startsWith(prefix) &&
          (!boundaries || p.boundaryUsageCount > 0) &&
          (!input.onlyAttached || boundaries || p.attachmentCount > 0),
      );
      return paginate(chosen, input.maxItems, input.marker);
    },

    async createVersion(caller: Principal, arn: string, document: string, setAsDefault: boolean): Promise<PolicyVersionView> {
      return store.transaction(async (tx) => {
        const policy = await ownPolicy(tx, caller, arn, "iam:CreatePolicyVersion");
        checkDocument(document);
        if (policy.versions.length >= MAX_VERSIONS) {
          throw new CofferError(
            "LimitExceeded",
            `A managed policy can have up to ${MAX_VERSIONS} versions. Before you create a new version, you must delete an existing version.`,
          );
        }
        const now = clock.now();
        const version = { versionId: `v${policy.nextVersion}`, document, createdAt: now };
        await tx.putManagedPolicy({
          ...policy,
          versions: [version, ...policy.versions],
          nextVersion: policy.nextVersion + 1,
          defaultVersionId: setAsDefault ? version.versionId : policy.defaultVersionId,
          updatedAt: setAsDefault ? now : policy.updatedAt,
        });
        return { ...version, isDefault: setAsDefault };
      });
    },

    async getVersion(caller: Principal, arn: string, versionId: string): Promise<PolicyVersionView> {
      const policy = await findPolicy(store, caller, arn, "iam:GetPolicyVersion");
      const versions = "versions" in policy ? policy.versions : [{ versionId: policy.defaultVersionId, document: policy.document, createdAt: policy.updatedAt }];
      const v = versions.find((x) => x.versionId === versionId);
      if (!v) throw new CofferError("NotFound", `Policy ${arn} version ${versionId} does not exist or is not attachable.`);
      return { ...v, isDefault: v.versionId === policy.defaultVersionId };
    },

    async listVersions(caller: Principal, arn: string, input: { marker?: string; maxItems?: number }): Promise<Page<Omit<PolicyVersionView, "document">>> {
      const policy = await findPolicy(store, caller, arn, "iam:ListPolicyVersions");
      const versions = "versions" in policy ? policy.versions : [{ versionId: policy.defaultVersionId, createdAt: policy.updatedAt }];
      return paginate(
        versions.map((v) => ({ versionId: v.versionId, createdAt: v.createdAt, isDefault: v.versionId === policy.defaultVersionId })),
        input.maxItems,
        input.marker,
      );
    },

    async deleteVersion(caller: Principal, arn: string, versionId: string): Promise<void> {
      await store.transaction(async (tx) => {
        const policy = await ownPolicy(tx, caller, arn, "iam:DeletePolicyVersion");
        if (!policy.versions.some((v) => v.versionId === versionId)) {
          throw new CofferError("NotFound", `Policy ${arn} version ${versionId} does not exist or is not deletable.`);
        }
        if (versionId === policy.defaultVersionId) throw new CofferError("Conflict", "Cannot delete the default version of a policy.");
        await tx.putManagedPolicy({ ...policy, versions: policy.versions.filter((v) => v.versionId !== versionId) });
      });
    },

    async setDefaultVersion(caller: Principal, arn: string, versionId: string): Promise<void> {
      await store.transaction(async (tx) => {
        const policy = await ownPolicy(tx, caller, arn, "iam:SetDefaultPolicyVersion");
        if (!policy.versions.some((v) => v.versionId === versionId)) {
          throw new CofferError("NotFound", `Policy ${arn} version ${versionId} does not exist or is not attachable.`);
        }
        await tx.putManagedPolicy({ ...policy, defaultVersionId: versionId, updatedAt: clock.now() });
      });
    },

    async attach(caller: Principal, kind: EntityKind, name: string, arn: string): Promise<void> {
      await store.transaction(async (tx) => {
        const entity = await findEntity(tx, caller, kind, name, `iam:Attach${actionNoun[kind]}Policy`, { "iam:PolicyARN": arn });
        // Read (and, on PostgreSQL, lock) the policy row, so a DeletePolicy racing this waits and then sees the attachment.
        await attachable(tx, caller, arn);
        const current = entity.attachedPolicyArns ?? [];
        if (current.includes(arn)) return;
        if (current.length >= MAX_ATTACHED) throw new CofferError("LimitExceeded", `Cannot exceed quota for ${quotaName[kind]}: ${MAX_ATTACHED}`);
        await putEntity(tx, kind, { ...entity, attachedPolicyArns: [...current, arn] });
      });
    },

    async detach(caller: Principal, kind: EntityKind, name: string, arn: string): Promise<void> {
      await store.transaction(async (tx) => {
        const entity = await findEntity(tx, caller, kind, name, `iam:Detach${actionNoun[kind]}Policy`, { "iam:PolicyARN": arn });
        const current = entity.attachedPolicyArns ?? [];
        if (!current.includes(arn)) throw new CofferError("NotFound", `Policy ${arn} was not found.`);
        await putEntity(tx, kind, { ...entity, attachedPolicyArns: current.filter((a) => a !== arn) });
      });
    },

    async listAttached(caller: Principal, kind: EntityKind, name: string, input: { pathPrefix?: string; marker?: string; maxItems?: number }) {
      const entity = await findEntity(store, caller, kind, name, `iam:ListAttached${actionNoun[kind]}Policies`);
      const prefix = input.pathPrefix ?? "/";
      const attached = (entity.attachedPolicyArns ?? [])
        .map((arn) => ({ arn, name: arn.slice(arn.lastIndexOf("/") + 1), path: arn.slice(arn.indexOf(":policy/") + 7, arn.lastIndexOf("/") + 1) }))
        .filter((p) => p.path.startsWith(prefix));
      return paginate(attached, input.maxItems, input.marker);
    },

    async listEntities(
      caller: Principal,
      arn: string,
      input: { entityFilter?: string; pathPrefix?: string; usageFilter?: string; marker?: string; maxItems?: number },
    ): Promise<Page<EntityRef>> {
      await findPolicy(store, caller, arn, "iam:ListEntitiesForPolicy");
      const usage = await usageOf(store, caller.accountId);
      const uses = [
        ...(input.usageFilter === "PermissionsBoundary" ? [] : (usage.attached.get(arn) ?? [])),
        ...(input.usageFilter === "PermissionsPolicy" ? [] : (usage.bounded.get(arn) ?? [])),
      ];
      const filter = input.entityFilter;
      const kindOk = (k: EntityKind) => !filter || filter === "LocalManagedPolicy" || filter === "AWSManagedPolicy" || filter.toLowerCase() === k;
      const prefix = input.pathPrefix ?? "/";
      const seen = new Set<string>();
      const order: EntityKind[] = ["group", "user", "role"];
      const refs = uses
        .filter((u) => kindOk(u.kind) && u.record.path.startsWith(prefix) && !seen.has(u.record.arn) && seen.add(u.record.arn))
        .sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind) || (a.record.name < b.record.name ? -1 : 1))
        .map((u) => ({ kind: u.kind, name: u.record.name, id: u.record.id }));
      return paginate(refs, input.maxItems, input.marker);
    },

    async putBoundary(caller: Principal, kind: "user" | "role", name: string, arn: string): Promise<void> {
      await store.transaction(async (tx) => {
        const entity = (await findEntity(tx, caller, kind, name, `iam:Put${actionNoun[kind]}PermissionsBoundary`, {
          "iam:PermissionsBoundary": arn,
        })) as PrincipalRecord;
        await attachable(tx, caller, arn);
        await tx.putPrincipal({ ...entity, permissionsBoundary: arn });
      });
    },

    async deleteBoundary(caller: Principal, kind: "user" | "role", name: string): Promise<void> {
      await store.transaction(async (tx) => {
        const entity = (await findEntity(tx, caller, kind, name, `iam:Delete${actionNoun[kind]}PermissionsBoundary`)) as PrincipalRecord;
        const { permissionsBoundary: _gone, ...rest } = entity;
        await tx.putPrincipal(rest);
      });
    },

    async tag(caller: Principal, arn: string, tags: Tag[]): Promise<void> {
      await store.transaction(async (tx) => {
        const policy = await ownPolicy(tx, caller, arn, "iam:TagPolicy");
        await tx.putManagedPolicy({ ...policy, tags: mergeTags(policy.tags, tags) });
      });
    },

    async untag(caller: Principal, arn: string, keys: string[]): Promise<void> {
      await store.transaction(async (tx) => {
        const policy = await ownPolicy(tx, caller, arn, "iam:UntagPolicy");
        await tx.putManagedPolicy({ ...policy, tags: policy.tags.filter((t) => !keys.includes(t.key)) });
      });
    },

    async listTags(caller: Principal, arn: string, input: { marker?: string; maxItems?: number }): Promise<Page<Tag>> {
      const policy = await findPolicy(store, caller, arn, "iam:ListPolicyTags");
      return paginate("versions" in policy ? policy.tags : [], input.maxItems, input.marker);
    },
  };
}

export type ManagedPolicyService = ReturnType<typeof createManagedPolicyService>;
