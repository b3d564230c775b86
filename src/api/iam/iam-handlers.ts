import type { ApiService, Handler } from "../api-service.ts";
import type { IamService, PrincipalKind } from "../../services/identity/iam-service.ts";
import type { PrincipalRecord, Tag } from "../../storage/store.ts";
import { metadata, operations } from "./generated/operations.ts";
import { shapes } from "./generated/shapes.ts";
import type * as T from "./generated/types.ts";
import { iamError } from "./iam-errors.ts";
import { boundaryOut } from "./managed-policy-handlers.ts";

/** The IAM subset over the Query protocol. IAM returns policy documents URL-encoded, as here. */

const tagsIn = (tags: T.Tag[] | undefined): Tag[] | undefined => tags?.map((t) => ({ key: t.Key, value: t.Value }));
const tagsOut = (tags: Tag[]): T.Tag[] | undefined => (tags.length ? tags.map((t) => ({ Key: t.key, Value: t.value })) : undefined);

function userOut(u: PrincipalRecord): T.User {
  return {
    Path: u.path,
    UserName: u.name,
    UserId: u.id,
    Arn: u.arn,
    CreateDate: new Date(u.createdAt),
    PermissionsBoundary: boundaryOut(u),
    Tags: tagsOut(u.tags),
  };
}

function roleOut(r: PrincipalRecord): T.Role {
  return {
    Path: r.path,
    RoleName: r.name,
    RoleId: r.id,
    Arn: r.arn,
    CreateDate: new Date(r.createdAt),
    AssumeRolePolicyDocument: r.trustPolicy === undefined ? undefined : encodeURIComponent(r.trustPolicy),
    Description: r.description,
    MaxSessionDuration: r.maxSessionDuration,
    PermissionsBoundary: boundaryOut(r),
    Tags: tagsOut(r.tags),
  };
}

function inlinePolicyHandlers(iam: IamService, kind: PrincipalKind, nameField: "UserName" | "RoleName") {
  return {
    async put(p: Parameters<Handler>[0], i: { PolicyName: string; PolicyDocument: string } & Record<string, string>) {
      await iam.putPolicy(p, kind, i[nameField], i.PolicyName, i.PolicyDocument);
    },
    async get(p: Parameters<Handler>[0], i: { PolicyName: string } & Record<string, string>) {
      const doc = await iam.getPolicy(p, kind, i[nameField], i.PolicyName);
      return { [nameField]: i[nameField], PolicyName: i.PolicyName, PolicyDocument: encodeURIComponent(doc) };
    },
    async list(p: Parameters<Handler>[0], i: { Marker?: string; MaxItems?: number } & Record<string, unknown>) {
      const page = await iam.listPolicies(p, kind, i[nameField] as string, { marker: i.Marker, maxItems: i.MaxItems });
      return { PolicyNames: page.items, IsTruncated: page.marker !== undefined, Marker: page.marker };
    },
    async remove(p: Parameters<Handler>[0], i: { PolicyName: string } & Record<string, string>) {
      await iam.deletePolicy(p, kind, i[nameField], i.PolicyName);
    },
  };
}

/** `more`: further operations' handlers (managed policies and groups: managed-policy-handlers.ts). */
export function iamApi(iam: IamService, more: Record<string, Handler> = {}): ApiService {
  const userPolicies = inlinePolicyHandlers(iam, "user", "UserName");
  const rolePolicies = inlinePolicyHandlers(iam, "role", "RoleName");
  const handlers: Record<string, Handler> = {
    async CreateUser(p, i: T.CreateUserRequest): Promise<T.CreateUserResponse> {
      const user = await iam.create(p, "user", { name: i.UserName, path: i.Path, tags: tagsIn(i.Tags), permissionsBoundary: i.PermissionsBoundary });
      return { User: userOut(user) };
    },
    async GetUser(p, i: T.GetUserRequest): Promise<T.GetUserResponse> {
      return { User: userOut(await iam.get(p, "user", i.UserName)) };
    },
    async ListUsers(p, i: T.ListUsersRequest): Promise<T.ListUsersResponse> {
      const page = await iam.list(p, "user", { pathPrefix: i.PathPrefix, marker: i.Marker, maxItems: i.MaxItems });
      return { Users: page.items.map(userOut), IsTruncated: page.marker !== undefined, Marker: page.marker };
    },
    async DeleteUser(p, i: T.DeleteUserRequest) {
      await iam.remove(p, "user", i.UserName);
    },
    async CreateRole(p, i: T.CreateRoleRequest): Promise<T.CreateRoleResponse> {
      const role = await iam.create(p, "role", {
        name: i.RoleName,
        path: i.Path,
        tags: tagsIn(i.Tags),
        description: i.Description,
        trustPolicy: i.AssumeRolePolicyDocument,
        maxSessionDuration: i.MaxSessionDuration,
        permissionsBoundary: i.PermissionsBoundary,
      });
      return { Role: roleOut(role) };
    },
    async GetRole(p, i: T.GetRoleRequest): Promise<T.GetRoleResponse> {
      return { Role: roleOut(await iam.get(p, "role", i.RoleName)) };
    },
    async ListRoles(p, i: T.ListRolesRequest): Promise<T.ListRolesResponse> {
      const page = await iam.list(p, "role", { pathPrefix: i.PathPrefix, marker: i.Marker, maxItems: i.MaxItems });
      return { Roles: page.items.map(roleOut), IsTruncated: page.marker !== undefined, Marker: page.marker };
    },
    async ListInstanceProfilesForRole(p, i: T.ListInstanceProfilesForRoleRequest): Promise<T.ListInstanceProfilesForRoleResponse> {
      return { InstanceProfiles: await iam.listInstanceProfiles(p, i.RoleName), IsTruncated: false };
    },
    async DeleteRole(p, i: T.DeleteRoleRequest) {
      await iam.remove(p, "role", i.RoleName);
    },
    async UpdateAssumeRolePolicy(p, i: T.UpdateAssumeRolePolicyRequest) {
      await iam.updateTrustPolicy(p, i.RoleName, i.PolicyDocument);
    },
    async CreateAccessKey(p, i: T.CreateAccessKeyRequest): Promise<T.CreateAccessKeyResponse> {
      const k = await iam.createAccessKey(p, i.UserName);
      return {
        AccessKey: {
          UserName: k.userName,
          AccessKeyId: k.accessKeyId,
          Status: k.status,
          SecretAccessKey: k.secretAccessKey,
          CreateDate: new Date(k.createdAt),
        },
      };
    },
    async ListAccessKeys(p, i: T.ListAccessKeysRequest): Promise<T.ListAccessKeysResponse> {
      const keys = await iam.listAccessKeys(p, i.UserName);
      return {
        AccessKeyMetadata: keys.map((k) => ({
          UserName: k.userName,
          AccessKeyId: k.accessKeyId,
          Status: k.status,
          CreateDate: new Date(k.createdAt),
        })),
        IsTruncated: false,
      };
    },
    async UpdateAccessKey(p, i: T.UpdateAccessKeyRequest) {
      await iam.updateAccessKey(p, { userName: i.UserName, accessKeyId: i.AccessKeyId, status: i.Status as "Active" | "Inactive" });
    },
    async DeleteAccessKey(p, i: T.DeleteAccessKeyRequest) {
      await iam.deleteAccessKey(p, { userName: i.UserName, accessKeyId: i.AccessKeyId });
    },
    PutUserPolicy: userPolicies.put as Handler,
    GetUserPolicy: userPolicies.get as Handler,
    ListUserPolicies: userPolicies.list as Handler,
    DeleteUserPolicy: userPolicies.remove as Handler,
    PutRolePolicy: rolePolicies.put as Handler,
    GetRolePolicy: rolePolicies.get as Handler,
    ListRolePolicies: rolePolicies.list as Handler,
    DeleteRolePolicy: rolePolicies.remove as Handler,
    async TagUser(p, i: T.TagUserRequest) {
      await iam.tag(p, "user", i.UserName, tagsIn(i.Tags) ?? []);
    },
    async UntagUser(p, i: T.UntagUserRequest) {
      await iam.untag(p, "user", i.UserName, i.TagKeys);
    },
    async TagRole(p, i: T.TagRoleRequest) {
      await iam.tag(p, "role", i.RoleName, tagsIn(i.Tags) ?? []);
    },
    async UntagRole(p, i: T.UntagRoleRequest) {
      await iam.untag(p, "role", i.RoleName, i.TagKeys);
    },
  };
  return { metadata, shapes, operations, handlers: { ...handlers, ...more }, errorFor: iamError };
}
