import type { IamPolicyReads, PrincipalRecord } from "../../storage/store.ts";
import { awsManagedPolicy } from "./aws-managed-policies.ts";

/**
 * What policies a user or role is subject to, as text: its inline policies, the default versions
 * of the managed policies attached to it, and (users) the inline and attached policies of every
 * group it is in; and its permissions boundary's default version. Shared by the authorizer and
 * STS (session PolicyArns).
 */
export type PolicyReads = Pick<IamPolicyReads, "getManagedPolicy" | "getGroup">;

/** The default version's document of an AWS managed or customer managed policy, or undefined. */
export async function managedPolicyDocument(store: Pick<IamPolicyReads, "getManagedPolicy">, arn: string): Promise<string | undefined> {
  const aws = awsManagedPolicy(arn);
  if (aws) return aws.document;
  const policy = await store.getManagedPolicy(arn);
  return policy?.versions.find((v) => v.versionId === policy.defaultVersionId)?.document;
}

export interface EffectivePolicies {
  identity: string[];
  /** The boundary's document, when the principal has one ("" when its policy is gone: then it allows nothing). */
  boundary?: string;
}

export async function effectivePolicies(
  store: PolicyReads,
  holder: Pick<PrincipalRecord, "inlinePolicies" | "attachedPolicyArns" | "groupArns" | "permissionsBoundary">,
): Promise<EffectivePolicies> {
  const identity = Object.values(holder.inlinePolicies ?? {});
  const attached = [...(holder.attachedPolicyArns ?? [])];
  for (const groupArn of holder.groupArns ?? []) {
    const group = await store.getGroup(groupArn);
    if (!group) continue;
    identity.push(...Object.values(group.inlinePolicies));
    attached.push(...group.attachedPolicyArns);
  }
  for (const arn of new Set(attached)) {
    const document = await managedPolicyDocument(store, arn);
    if (document !== undefined) identity.push(document);
  }
  const result: EffectivePolicies = { identity };
  if (holder.permissionsBoundary !== undefined) {
    // A boundary whose policy is gone allows nothing (a policy in use as a boundary cannot be deleted).
    result.boundary = (await managedPolicyDocument(store, holder.permissionsBoundary)) ?? "";
  }
  return result;
}
