import { evaluate, accessDeniedMessage } from "../../policy/policy-evaluate.ts";
import { parsePolicy } from "../../policy/policy-parse.ts";
import type { Policy, RequestContext } from "../../policy/policy-types.ts";
import type { IamPolicyReads, IdentityReads } from "../../storage/store.ts";
import { CofferError } from "../../shared/errors.ts";
import type { AuthorizationRequest, Authorizer } from "./identity-types.ts";
import { effectivePolicies } from "./managed-policy-documents.ts";

const PARSED_CACHE_MAX = 1000;

/**
 * Authorises with IAM's rules (src/policy): the caller's identity policies
 * (a user's or role's inline policies, the managed policies attached to it and,
 * for a user, its groups' policies; an assumed role's narrowed by the session's
 * session policies; either limited by its permissions boundary), the resource's policy, and
 * the global condition keys of the request. Denials read as AWS writes them.
 */
export function createPolicyAuthorizer({
  store,
  clock,
}: {
  store: Pick<IdentityReads, "getPrincipal"> & Pick<IamPolicyReads, "getManagedPolicy" | "getGroup">;
  clock: { now(): number };
}): Authorizer {
  // Per kind, by text: policy texts come from cached (frozen) records, so the same string object
  // is looked up each time and its hash is computed once, not a new key string built per request.
  type Kind = "identity" | "resource" | "trust" | "key";
  const parsed: Record<Kind, Map<string, Policy>> = { identity: new Map(), resource: new Map(), trust: new Map(), key: new Map() };
  // A principal record's identity policies and boundary, parsed, for as long as that record object
  // lives. Records come from the store's read cache, which every committed write (a policy version,
  // an attachment, a group's policy) empties, and which another node's write empties through
  // sync(): a changed policy is seen by the next request, on every node.
  const identityOf = new WeakMap<object, { identity: Policy[]; boundary?: Policy[] }>();

  function policyOf(text: string, kind: Kind): Policy {
    const cache = parsed[kind];
    let policy = cache.get(text);
    if (!policy) {
      policy = parsePolicy(text, kind);
      if (cache.size >= PARSED_CACHE_MAX) cache.delete(cache.keys().next().value!);
      cache.set(text, policy);
    }
    return policy;
  }

  async function identityPoliciesOf(holder: Parameters<typeof effectivePolicies>[1] | undefined) {
    if (!holder) return { identity: [] };
    let policies = identityOf.get(holder);
    if (!policies) {
      const texts = await effectivePolicies(store, holder);
      policies = { identity: texts.identity.map((t) => policyOf(t, "identity")) };
      if (texts.boundary !== undefined) policies.boundary = texts.boundary === "" ? [] : [policyOf(texts.boundary, "identity")];
      identityOf.set(holder, policies);
    }
    return policies;
  }

  return {
    async authorize(req: AuthorizationRequest) {
      const { principal } = req;
      let holder =
        principal.kind === "user"
          ? await store.getPrincipal(principal.arn)
          : principal.kind === "assumed-role" && principal.roleArn
            ? await store.getPrincipal(principal.roleArn)
            : undefined;
      // A session belongs to the role it was issued for, not to a later role of the same name.
      if (principal.kind === "assumed-role" && principal.roleId !== undefined && holder?.id !== principal.roleId) holder = undefined;
      const { identity: identityPolicies, boundary } = await identityPoliciesOf(holder);
      const sessionPolicies = principal.sessionPolicies?.map((t) => policyOf(t, "identity"));
      const now = clock.now();
      const context: RequestContext["context"] = {
        "aws:CurrentTime": new Date(now).toISOString(),
        "aws:EpochTime": String(Math.floor(now / 1000)),
        "aws:PrincipalArn": principal.roleArn ?? principal.arn,
        "aws:PrincipalAccount": principal.accountId,
        "aws:PrincipalType": principal.kind === "root" ? "Account" : principal.kind === "user" ? "User" : "AssumedRole",
        "aws:SourceIp": principal.sourceIp,
        "aws:SecureTransport": principal.secureTransport === undefined ? undefined : String(principal.secureTransport),
        "aws:SourceIdentity": principal.sourceIdentity,
      };
      if (principal.kind === "user") {
        context["aws:username"] = principal.arn.split("/").pop();
        context["aws:userid"] = holder?.id;
      }
      if (principal.kind === "assumed-role") context["aws:userid"] = `${holder?.id}:${principal.sessionName}`;
      // A session tag overrides the role's tag of the same key (keys compare case-insensitively), as on AWS.
      const principalTags = new Map<string, { key: string; value: string }>();
      for (const t of [...(holder?.tags ?? []), ...(principal.sessionTags ?? [])]) principalTags.set(t.key.toLowerCase(), t);
      for (const t of principalTags.values()) context[`aws:PrincipalTag/${t.key}`] = t.value;
      Object.assign(context, req.context);

      const mode = req.mode ?? "default";
      const resourceKind = mode === "default" ? "resource" : mode;
      const request: RequestContext = {
        principal: {
          arn: principal.arn,
          accountId: principal.accountId,
          roleArn: principal.roleArn,
          isRoot: principal.kind === "root",
        },
        action: req.action,
        resource: req.resource,
        resourceAccount: req.resourceAccount ?? (req.resource === "*" ? undefined : req.resource.split(":")[4] || undefined),
        context,
      };
      const decision = evaluate(
        {
          identityPolicies,
          ...(sessionPolicies ? { sessionPolicies } : {}),
          ...(boundary ? { permissionsBoundary: boundary } : {}),
          resourcePolicy: req.resourcePolicy === undefined ? undefined : policyOf(req.resourcePolicy, resourceKind),
          mode,
        },
        request,
      );
      if (decision.effect !== "Allow") throw new CofferError("AccessDenied", accessDeniedMessage(request, decision));
    },
  };
}
