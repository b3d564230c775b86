import type { Handler } from "../api-service.ts";
import type { GroupService } from "../../services/identity/iam-groups.ts";
import type { EntityKind, ManagedPolicyService, PolicyView } from "../../services/identity/managed-policies.ts";
import type { GroupRecord, PrincipalRecord, Tag } from "../../storage/store.ts";
import type * as T from "./generated/types.ts";

/**
 * IAM managed policies, their versions and attachments, permissions boundaries and groups over the
 * Query protocol, in AWS's shapes. Policy documents go out URL-encoded, as IAM sends them.
 */

const tagsIn = (tags: T.Tag[] | undefined): Tag[] | undefined => tags?.map((t) => ({ key: t.Key, value: t.Value }));
const tagsOut = (tags: Tag[]): T.Tag[] | undefined => (tags.length ? tags.map((t) => ({ Key: t.key, Value: t.value })) : undefined);

/** As GetPolicy and CreatePolicy show a policy; ListPolicies leaves out the description and tags, as AWS does. */
function policyOut(p: PolicyView, full = true): T.Policy {
  return {
    PolicyName: p.name,
    PolicyId: p.id,
    Arn: p.arn,
    Path: p.path,
    DefaultVersionId: p.defaultVersionId,
    AttachmentCount: p.attachmentCount,
    PermissionsBoundaryUsageCount: p.boundaryUsageCount,
    IsAttachable: true,
    Description: full ? p.description : undefined,
    CreateDate: new Date(p.createdAt),
    UpdateDate: new Date(p.updatedAt),
    Tags: full ? tagsOut(p.tags) : undefined,
  };
}

function groupOut(g: GroupRecord): T.Group {
  return { Path: g.path, GroupName: g.name, GroupId: g.id, Arn: g.arn, CreateDate: new Date(g.createdAt) };
}

function userOut(u: PrincipalRecord): T.User {
  return { Path: u.path, UserName: u.name, UserId: u.id, Arn: u.arn, CreateDate: new Date(u.createdAt) };
}

/** The boundary as GetUser and GetRole show it. */
export function boundaryOut(record: PrincipalRecord): T.AttachedPermissionsBoundary | undefined {
  return record.permissionsBoundary === undefined
    ? undefined
    : { PermissionsBoundaryType: "PermissionsBoundaryPolicy", PermissionsBoundaryArn: record.permissionsBoundary };
}

const page = <T>(p: { items: T[]; marker?: string }) => ({ IsTruncated: p.marker !== undefined, Marker: p.marker });

export function managedPolicyHandlers(policies: ManagedPolicyService, groups: GroupService): Record<string, Handler> {
  const attachment = (kind: EntityKind, field: "UserName" | "RoleName" | "GroupName") => ({
    attach: (async (p, i: Record<string, string>) => {
      await policies.attach(p, kind, i[field], i.PolicyArn);
    }) as Handler,
    detach: (async (p, i: Record<string, string>) => {
      await policies.detach(p, kind, i[field], i.PolicyArn);
    }) as Handler,
    list: (async (p, i: { PathPrefix?: string; Marker?: string; MaxItems?: number } & Record<string, unknown>) => {
      const result = await policies.listAttached(p, kind, i[field] as string, { pathPrefix: i.PathPrefix, marker: i.Marker, maxItems: i.MaxItems });
      return { AttachedPolicies: result.items.map((a) => ({ PolicyName: a.name, PolicyArn: a.arn })), ...page(result) };
    }) as Handler,
  });
  const user = attachment("user", "UserName");
  const role = attachment("role", "RoleName");
  const group = attachment("group", "GroupName");

  return {
    async CreatePolicy(p, i: T.CreatePolicyRequest): Promise<T.CreatePolicyResponse> {
      const view = await policies.create(p, {
        name: i.PolicyName,
        path: i.Path,
        document: i.PolicyDocument,
        description: i.Description,
        tags: tagsIn(i.Tags),
      });
      return { Policy: policyOut(view) };
    },
    async GetPolicy(p, i: T.GetPolicyRequest): Promise<T.GetPolicyResponse> {
      return { Policy: policyOut(await policies.get(p, i.PolicyArn)) };
    },
    async DeletePolicy(p, i: T.DeletePolicyRequest) {
      await policies.remove(p, i.PolicyArn);
    },
    async ListPolicies(p, i: T.ListPoliciesRequest): Promise<T.ListPoliciesResponse> {
      const result = await policies.list(p, {
        scope: i.Scope,
        onlyAttached: i.OnlyAttached,
        pathPrefix: i.PathPrefix,
        usageFilter: i.PolicyUsageFilter,
        marker: i.Marker,
        maxItems: i.MaxItems,
      });
      return { Policies: result.items.map((v) => policyOut(v, false)), ...page(result) };
    },
    async CreatePolicyVersion(p, i: T.CreatePolicyVersionRequest): Promise<T.CreatePolicyVersionResponse> {
      const v = await policies.createVersion(p, i.PolicyArn, i.PolicyDocument, i.SetAsDefault === true);
      return { PolicyVersion: { VersionId: v.versionId, IsDefaultVersion: v.isDefault, CreateDate: new Date(v.createdAt) } };
    },
    async GetPolicyVersion(p, i: T.GetPolicyVersionRequest): Promise<T.GetPolicyVersionResponse> {
      const v = await policies.getVersion(p, i.PolicyArn, i.VersionId);
      return {
        PolicyVersion: { Document: encodeURIComponent(v.document), VersionId: v.versionId, IsDefaultVersion: v.isDefault, CreateDate: new Date(v.createdAt) },
      };
    },
    async ListPolicyVersions(p, i: T.ListPolicyVersionsRequest): Promise<T.ListPolicyVersionsResponse> {
      const result = await policies.listVersions(p, i.PolicyArn, { marker: i.Marker, maxItems: i.MaxItems });
      return {
        Versions: result.items.map((v) => ({ VersionId: v.versionId, IsDefaultVersion: v.isDefault, CreateDate: new Date(v.createdAt) })),
        ...page(result),
      };
    },
    async DeletePolicyVersion(p, i: T.DeletePolicyVersionRequest) {
      await policies.deleteVersion(p, i.PolicyArn, i.VersionId);
    },
    async SetDefaultPolicyVersion(p, i: T.SetDefaultPolicyVersionRequest) {
      await policies.setDefaultVersion(p, i.PolicyArn, i.VersionId);
    },
    AttachUserPolicy: user.attach,
    DetachUserPolicy: user.detach,
    ListAttachedUserPolicies: user.list,
    AttachRolePolicy: role.attach,
    DetachRolePolicy: role.detach,
    ListAttachedRolePolicies: role.list,
    AttachGroupPolicy: group.attach,
    DetachGroupPolicy: group.detach,
    ListAttachedGroupPolicies: group.list,
    async ListEntitiesForPolicy(p, i: T.ListEntitiesForPolicyRequest): Promise<T.ListEntitiesForPolicyResponse> {
      const result = await policies.listEntities(p, i.PolicyArn, {
        entityFilter: i.EntityFilter,
        pathPrefix: i.PathPrefix,
        usageFilter: i.PolicyUsageFilter,
        marker: i.Marker,
        maxItems: i.MaxItems,
      });
      const of = (kind: EntityKind) => result.items.filter((e) => e.kind === kind);
      return {
        PolicyGroups: of("group").map((e) => ({ GroupName: e.name, GroupId: e.id })),
        PolicyUsers: of("user").map((e) => ({ UserName: e.name, UserId: e.id })),
        PolicyRoles: of("role").map((e) => ({ RoleName: e.name, RoleId: e.id })),
        ...page(result),
      };
    },
    async TagPolicy(p, i: T.TagPolicyRequest) {
      await policies.tag(p, i.PolicyArn, tagsIn(i.Tags) ?? []);
    },
    async UntagPolicy(p, i: T.UntagPolicyRequest) {
      await policies.untag(p, i.PolicyArn, i.TagKeys);
    },
    async ListPolicyTags(p, i: T.ListPolicyTagsRequest): Promise<T.ListPolicyTagsResponse> {
      const result = await policies.listTags(p, i.PolicyArn, { marker: i.Marker, maxItems: i.MaxItems });
      return { Tags: result.items.map((t) => ({ Key: t.key, Value: t.value })), ...page(result) };
    },
    async PutUserPermissionsBoundary(p, i: T.PutUserPermissionsBoundaryRequest) {
      await policies.putBoundary(p, "user", i.UserName, i.PermissionsBoundary);
    },
    async DeleteUserPermissionsBoundary(p, i: T.DeleteUserPermissionsBoundaryRequest) {
      await policies.deleteBoundary(p, "user", i.UserName);
    },
    async PutRolePermissionsBoundary(p, i: T.PutRolePermissionsBoundaryRequest) {
      await policies.putBoundary(p, "role", i.RoleName, i.PermissionsBoundary);
    },
    async DeleteRolePermissionsBoundary(p, i: T.DeleteRolePermissionsBoundaryRequest) {
      await policies.deleteBoundary(p, "role", i.RoleName);
    },

    async CreateGroup(p, i: T.CreateGroupRequest): Promise<T.CreateGroupResponse> {
      return { Group: groupOut(await groups.create(p, { name: i.GroupName, path: i.Path })) };
    },
    async GetGroup(p, i: T.GetGroupRequest): Promise<T.GetGroupResponse> {
      const { group, users } = await groups.get(p, i.GroupName, { marker: i.Marker, maxItems: i.MaxItems });
      return { Group: groupOut(group), Users: users.items.map(userOut), ...page(users) };
    },
    async DeleteGroup(p, i: T.DeleteGroupRequest) {
      await groups.remove(p, i.GroupName);
    },
    async ListGroups(p, i: T.ListGroupsRequest): Promise<T.ListGroupsResponse> {
      const result = await groups.list(p, { pathPrefix: i.PathPrefix, marker: i.Marker, maxItems: i.MaxItems });
      return { Groups: result.items.map(groupOut), ...page(result) };
    },
    async AddUserToGroup(p, i: T.AddUserToGroupRequest) {
      await groups.addUser(p, i.GroupName, i.UserName);
    },
    async RemoveUserFromGroup(p, i: T.RemoveUserFromGroupRequest) {
      await groups.removeUser(p, i.GroupName, i.UserName);
    },
    async ListGroupsForUser(p, i: T.ListGroupsForUserRequest): Promise<T.ListGroupsForUserResponse> {
      const result = await groups.listForUser(p, i.UserName, { marker: i.Marker, maxItems: i.MaxItems });
      return { Groups: result.items.map(groupOut), ...page(result) };
    },
    async PutGroupPolicy(p, i: T.PutGroupPolicyRequest) {
      await groups.putPolicy(p, i.GroupName, i.PolicyName, i.PolicyDocument);
    },
    async GetGroupPolicy(p, i: T.GetGroupPolicyRequest): Promise<T.GetGroupPolicyResponse> {
      const doc = await groups.getPolicy(p, i.GroupName, i.PolicyName);
      return { GroupName: i.GroupName, PolicyName: i.PolicyName, PolicyDocument: encodeURIComponent(doc) };
    },
    async ListGroupPolicies(p, i: T.ListGroupPoliciesRequest): Promise<T.ListGroupPoliciesResponse> {
      const result = await groups.listPolicies(p, i.GroupName, { marker: i.Marker, maxItems: i.MaxItems });
      return { PolicyNames: result.items, ...page(result) };
    },
    async DeleteGroupPolicy(p, i: T.DeleteGroupPolicyRequest) {
      await groups.deletePolicy(p, i.GroupName, i.PolicyName);
    },
  };
}
