import type { GroupRecord, IamPolicyStore, IamPolicyTx, PrincipalRecord } from "../../storage/store.ts";
import { CofferError } from "../../shared/errors.ts";
import { iamArn } from "../../shared/arn.ts";
import type { Authorizer, Principal } from "./identity-types.ts";
import { checkPath, checkPolicyText, paginate, type Page } from "./iam-service.ts";
import { groupArn, newIamId } from "./managed-policies.ts";

/**
 * IAM groups: membership (kept on each user's record, so the authorizer reads a user's groups with
 * the user), group inline policies, and the group itself. Attached managed policies are
 * managed-policies.ts's. Every operation authorises first, on the group's (or user's) ARN.
 */

/** A user may be in at most this many groups (IAM's quota). */
const MAX_GROUPS_PER_USER = 10;
/** All of a group's inline policies together, white space not counted, as IAM counts them. */
const MAX_GROUP_POLICY_CHARS = 5120;

interface Deps {
  store: IamPolicyStore;
  authorizer: Authorizer;
  clock: { now(): number };
}

type Reader = IamPolicyTx | IamPolicyStore;

export function createGroupService({ store, authorizer, clock }: Deps) {
  const authorize = (caller: Principal, action: string, resource: string) => authorizer.authorize({ principal: caller, action, resource });

  const findGroup = async (reader: Reader, accountId: string, name: string) => {
    const lower = name.toLowerCase();
    return (await reader.listGroups(accountId)).find((g) => g.name.toLowerCase() === lower);
  };

  /** The named group, once the caller may do `action` on it; authorised before a missing group is reported. */
  async function authorizedGroup(reader: Reader, caller: Principal, name: string, action: string): Promise<GroupRecord> {
    const found = await findGroup(reader, caller.accountId, name);
    await authorize(caller, action, found?.arn ?? groupArn(caller.accountId, "/", name));
    if (!found) throw new CofferError("NotFound", `The group with name ${name} cannot be found.`);
    return found;
  }

  async function findUser(reader: Reader, accountId: string, name: string): Promise<PrincipalRecord> {
    const user = (await reader.listPrincipals(accountId, "user")).find((u) => u.name === name);
    if (!user) throw new CofferError("NotFound", `The user with name ${name} cannot be found.`);
    return user;
  }

  const membersOf = async (reader: Reader, group: GroupRecord) =>
    (await reader.listPrincipals(group.accountId, "user")).filter((u) => u.groupArns?.includes(group.arn));

  return {
    async create(caller: Principal, input: { name: string; path?: string }): Promise<GroupRecord> {
      const path = input.path ?? "/";
      checkPath(path);
      const arn = groupArn(caller.accountId, path, input.name);
      await authorize(caller, "iam:CreateGroup", arn);
      return store.transaction(async (tx) => {
        if (await findGroup(tx, caller.accountId, input.name)) {
          throw new CofferError("AlreadyExists", `Group with name ${input.name} already exists.`);
        }
        const group: GroupRecord = {
          arn,
          accountId: caller.accountId,
          name: input.name,
          path,
          id: newIamId("AGPA"),
          createdAt: clock.now(),
          inlinePolicies: {},
          attachedPolicyArns: [],
        };
        await tx.putGroup(group);
        return group;
      });
    },

    async get(caller: Principal, name: string, input: { marker?: string; maxItems?: number }): Promise<{ group: GroupRecord; users: Page<PrincipalRecord> }> {
      const group = await authorizedGroup(store, caller, name, "iam:GetGroup");
      return { group, users: paginate(await membersOf(store, group), input.maxItems, input.marker) };
    },

    async list(caller: Principal, input: { pathPrefix?: string; marker?: string; maxItems?: number }): Promise<Page<GroupRecord>> {
      await authorize(caller, "iam:ListGroups", groupArn(caller.accountId, "/", "*"));
      const prefix = input.pathPrefix ?? "/";
      return paginate((await store.listGroups(caller.accountId)).filter((g) => g.path.startsWith(prefix)), input.maxItems, input.marker);
    },

    async remove(caller: Principal, name: string): Promise<void> {
      await store.transaction(async (tx) => {
        const found = await authorizedGroup(tx, caller, name, "iam:DeleteGroup");
        // Read in the transaction after the group's row (locked on PostgreSQL): AddUserToGroup reads it too.
        const group = (await tx.getGroup(found.arn)) ?? found;
        if ((await membersOf(tx, group)).length > 0) throw new CofferError("Conflict", "Cannot delete entity, must remove users from group first.");
        if (Object.keys(group.inlinePolicies).length > 0) throw new CofferError("Conflict", "Cannot delete entity, must delete policies first.");
        if (group.attachedPolicyArns.length > 0) throw new CofferError("Conflict", "Cannot delete entity, must detach all policies first.");
        await tx.deleteGroup(group.arn);
      });
    },

    async addUser(caller: Principal, groupName: string, userName: string): Promise<void> {
      await store.transaction(async (tx) => {
        const found = await authorizedGroup(tx, caller, groupName, "iam:AddUserToGroup");
        const group = (await tx.getGroup(found.arn)) ?? found;
        const user = await findUser(tx, caller.accountId, userName);
        const locked = (await tx.getPrincipal(user.arn)) ?? user;
        const groups = locked.groupArns ?? [];
        if (groups.includes(group.arn)) return;
        if (groups.length >= MAX_GROUPS_PER_USER) throw new CofferError("LimitExceeded", `Cannot exceed quota for GroupsPerUser: ${MAX_GROUPS_PER_USER}`);
        await tx.putPrincipal({ ...locked, groupArns: [...groups, group.arn] });
        // Written back unchanged: a DeleteGroup racing this on another node conflicts and retries, seeing the member.
        await tx.putGroup(group);
      });
    },

    async removeUser(caller: Principal, groupName: string, userName: string): Promise<void> {
      await store.transaction(async (tx) => {
        const group = await authorizedGroup(tx, caller, groupName, "iam:RemoveUserFromGroup");
        const user = await findUser(tx, caller.accountId, userName);
        const locked = (await tx.getPrincipal(user.arn)) ?? user;
        if (!locked.groupArns?.includes(group.arn)) {
          throw new CofferError("NotFound", `The user with name ${userName} cannot be found in group ${group.name}.`);
        }
        await tx.putPrincipal({ ...locked, groupArns: locked.groupArns.filter((a) => a !== group.arn) });
      });
    },

    async listForUser(caller: Principal, userName: string, input: { marker?: string; maxItems?: number }): Promise<Page<GroupRecord>> {
      const user = (await store.listPrincipals(caller.accountId, "user")).find((u) => u.name === userName);
      await authorize(caller, "iam:ListGroupsForUser", user?.arn ?? iamArn(caller.accountId, "user", userName));
      if (!user) throw new CofferError("NotFound", `The user with name ${userName} cannot be found.`);
      const groups = (await store.listGroups(caller.accountId)).filter((g) => user.groupArns?.includes(g.arn));
      return paginate(groups, input.maxItems, input.marker);
    },

    async putPolicy(caller: Principal, groupName: string, policyName: string, document: string): Promise<void> {
      checkPolicyText(document, "identity");
      await store.transaction(async (tx) => {
        const group = await authorizedGroup(tx, caller, groupName, "iam:PutGroupPolicy");
        const inlinePolicies = { ...group.inlinePolicies, [policyName]: document };
        const size = Object.values(inlinePolicies).reduce((n, text) => n + text.replace(/\s/g, "").length, 0);
        if (size > MAX_GROUP_POLICY_CHARS) {
          throw new CofferError("LimitExceeded", `Maximum policy size of ${MAX_GROUP_POLICY_CHARS} bytes exceeded for group ${group.name}`);
        }
        await tx.putGroup({ ...group, inlinePolicies });
      });
    },

    async getPolicy(caller: Principal, groupName: string, policyName: string): Promise<string> {
      const group = await authorizedGroup(store, caller, groupName, "iam:GetGroupPolicy");
      const document = group.inlinePolicies[policyName];
      if (document === undefined) throw new CofferError("NotFound", `The group policy with name ${policyName} cannot be found.`);
      return document;
    },

    async listPolicies(caller: Principal, groupName: string, input: { marker?: string; maxItems?: number }): Promise<Page<string>> {
      const group = await authorizedGroup(store, caller, groupName, "iam:ListGroupPolicies");
      return paginate(Object.keys(group.inlinePolicies).sort(), input.maxItems, input.marker);
    },

    async deletePolicy(caller: Principal, groupName: string, policyName: string): Promise<void> {
      await store.transaction(async (tx) => {
        const group = await authorizedGroup(tx, caller, groupName, "iam:DeleteGroupPolicy");
        if (group.inlinePolicies[policyName] === undefined) {
          throw new CofferError("NotFound", `The group policy with name ${policyName} cannot be found.`);
        }
        const { [policyName]: _gone, ...rest } = group.inlinePolicies;
        await tx.putGroup({ ...group, inlinePolicies: rest });
      });
    },
  };
}

export type GroupService = ReturnType<typeof createGroupService>;
