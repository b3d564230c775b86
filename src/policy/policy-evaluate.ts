/**
 * Policy evaluation with AWS's rules (see README.md): an explicit Deny anywhere wins; otherwise
 * the mode decides which policies must allow. Pure and synchronous; compiled patterns are cached
 * in policy-match.ts.
 */
import { evaluateConditions } from "./policy-conditions.ts";
import { type ContextMap, matchAction, matchArn, splitArn } from "./policy-match.ts";
import type { Decision, Policy, PolicyRole, PolicyVersion, PrincipalSet, RequestContext, Statement } from "./policy-types.ts";
import { parseArn, rootArn } from "../shared/arn.ts";

export interface EvaluationInput {
  /** The caller's identity policies (inline and attached, all of them). */
  identityPolicies: Policy[];
  /**
   * An assumed-role session's session policies (AssumeRole `Policy`, `PolicyArns`). When given,
   * identity-based permissions are the intersection: the role's policies and these must both
   * allow, and a grant of a resource policy to the role (rather than to the session's own ARN)
   * is limited the same way, as AWS documents.
   */
  sessionPolicies?: Policy[];
  /**
   * The caller's permissions boundary (a user's or, for a session, its role's), when it has one.
   * Like a session policy it only narrows, as AWS documents: identity-based permissions need its
   * Allow too, a resource policy's grant to a role (or "*" for a session) is limited by it, and a
   * grant to the caller's own ARN (a user, a session) is not; an explicit Deny in it always wins.
   */
  permissionsBoundary?: Policy[];
  /** The secret's resource policy, the key policy (mode "key") or the role's trust policy (mode "trust"). */
  resourcePolicy?: Policy;
  mode?: "default" | "key" | "trust";
}

type RequestPrincipal = RequestContext["principal"];

/**
 * How a resource-policy statement's principal covers the caller: "specific" (by its own ARN or
 * a service name), "role" (by its role's ARN or "*": as specific, but a session policy limits it),
 * "account" (only via its account root: a delegation to the account's identity policies), or not
 * at all.
 */
type Grant = "none" | "account" | "role" | "specific";

export function evaluate(input: EvaluationInput, request: RequestContext): Decision {
  const mode = input.mode ?? "default";
  const role: PolicyRole = mode === "default" ? "resource" : mode;
  const ctx = buildContext(request);
  const { principal } = request;

  let identityAllows = false;
  for (const policy of input.identityPolicies) {
    for (const st of policy.statements) {
      if (!appliesTo(st, policy.version, request, ctx, false)) continue;
      if (st.effect === "Deny") return { effect: "Deny", explicit: true, by: "identity" };
      identityAllows = true;
    }
  }

  // A session policy can only narrow: nothing it allows counts unless the role's policies allow it too.
  let sessionAllows = true;
  if (input.sessionPolicies) {
    sessionAllows = false;
    for (const policy of input.sessionPolicies) {
      for (const st of policy.statements) {
        if (!appliesTo(st, policy.version, request, ctx, false)) continue;
        if (st.effect === "Deny") return { effect: "Deny", explicit: true, by: "session" };
        sessionAllows = true;
      }
    }
  }

  let boundaryAllows = true;
  if (input.permissionsBoundary) {
    boundaryAllows = false;
    for (const policy of input.permissionsBoundary) {
      for (const st of policy.statements) {
        if (!appliesTo(st, policy.version, request, ctx, false)) continue;
        if (st.effect === "Deny") return { effect: "Deny", explicit: true, by: "boundary" };
        boundaryAllows = true;
      }
    }
  }

  let grant: Grant = "none";
  const rp = input.resourcePolicy;
  if (rp) {
    const root = accountRoot(principal);
    for (const st of rp.statements) {
      if (!actionMatches(st, request.action) || !resourceMatches(st, rp.version, request.resource, ctx, true)) continue;
      const covered = principalCovers(st, principal, root);
      if (covered === "none") continue;
      if (st.condition && !evaluateConditions(st.condition, rp.version, ctx)) continue;
      if (st.effect === "Deny") return { effect: "Deny", explicit: true, by: role };
      if (rank[covered] > rank[grant]) grant = covered;
    }
  }
  if (grant === "role") grant = sessionAllows && boundaryAllows ? "specific" : "account";

  const resourceAccount =
    request.resourceAccount ?? (request.resource === "*" ? undefined : splitArn(request.resource)?.[4] || undefined);
  const sameAccount = resourceAccount === undefined || resourceAccount === principal.accountId;
  // AWS services have no identity policies: only a resource policy naming them can grant.
  const isService = !principal.arn.startsWith("arn:");
  const identityOk = (principal.isRoot || identityAllows) && sessionAllows && boundaryAllows;
  const allow: Decision = { effect: "Allow" };
  const missing = (m: PolicyRole): Decision => ({
    effect: "Deny",
    explicit: false,
    missing:
      m === "identity" && (principal.isRoot || identityAllows)
        ? !boundaryAllows
          ? "boundary"
          : !sessionAllows
            ? "session"
            : m
        : m,
  });

  if (isService) return grant === "specific" ? allow : missing(role);
  if (mode === "default") {
    if (sameAccount) return identityOk || grant === "specific" ? allow : missing("identity");
    if (grant === "none") return missing("resource");
    return identityOk ? allow : missing("identity");
  }
  // key and trust: the key/trust policy must allow; a grant to the account root, or any
  // cross-account grant, also needs the caller's identity policies.
  if (grant === "none") return missing(role);
  if (grant === "specific" && sameAccount) return allow;
  return identityOk ? allow : missing("identity");
}

/** AWS's AccessDenied wording for a Deny decision (the sentence without a reason for Allow). */
export function accessDeniedMessage(request: RequestContext, decision: Decision): string {
  const on = request.resource === "*" ? "" : ` on resource: ${request.resource}`;
  const head = `User: ${request.principal.arn} is not authorized to perform: ${request.action}${on}`;
  if (decision.effect === "Allow") return head;
  const kind = (r: PolicyRole): string =>
    r === "identity" ? "identity-based policy" : r === "session" ? "session policy" : r === "boundary" ? "permissions boundary" : "resource-based policy";
  if (decision.explicit) return `${head} with an explicit deny in ${decision.by === "identity" ? "an" : "a"} ${kind(decision.by)}`;
  return `${head} because no ${kind(decision.missing)} allows the ${request.action} action`;
}

/** Action, resource and condition of an identity-policy statement (no principal there). */
function appliesTo(st: Statement, version: PolicyVersion, request: RequestContext, ctx: ContextMap, implied: boolean): boolean {
  return (
    actionMatches(st, request.action) &&
    resourceMatches(st, version, request.resource, ctx, implied) &&
    (!st.condition || evaluateConditions(st.condition, version, ctx))
  );
}

function actionMatches(st: Statement, action: string): boolean {
  if (st.action) return st.action.some((p) => matchAction(p, action));
  if (st.notAction) return !st.notAction.some((p) => matchAction(p, action));
  return false;
}

/**
 * `implied`: resource, key and trust policies may omit Resource (the resource they are attached
 * to). A NotResource value whose variable cannot be resolved fails closed: the statement then
 * applies if it is a Deny and not if it is an Allow.
 */
function resourceMatches(st: Statement, version: PolicyVersion, resource: string, ctx: ContextMap, implied: boolean): boolean {
  if (st.resource) return st.resource.some((p) => matchArn(p, resource, version, ctx) === true);
  if (st.notResource) {
    let excluded = false;
    for (const p of st.notResource) {
      const m = matchArn(p, resource, version, ctx);
      if (m === undefined && st.effect === "Allow") return false;
      if (m === true) excluded = true;
    }
    return !excluded;
  }
  return implied;
}

function accountRoot(p: RequestPrincipal): string {
  return rootArn(p.accountId, parseArn(p.arn)?.partition ?? "aws");
}

function principalCovers(st: Statement, p: RequestPrincipal, root: string): Grant {
  if (st.principal) return principalSetCovers(st.principal, p, root);
  // NotPrincipal (Deny only): a principal escapes only if its own ARN (or its role's ARN) and
  // its account are both listed, as AWS evaluates the account and then the principal.
  if (st.notPrincipal && st.effect === "Deny") {
    const set = st.notPrincipal;
    if (set === "*" || set.AWS?.includes("*")) return "none";
    const listed = (v: string): boolean => listedIn(set, v);
    const self = listed(p.arn) || (p.roleArn !== undefined && listed(p.roleArn));
    const account = p.isRoot || listed(root) || listed(p.accountId);
    return self && account ? "none" : "specific";
  }
  return "none";
}

function listedIn(set: PrincipalSet, v: string): boolean {
  return !!(set.AWS?.includes(v) || set.Service?.includes(v) || set.Federated?.includes(v) || set.CanonicalUser?.includes(v));
}

const rank: Record<Grant, number> = { none: 0, account: 1, role: 2, specific: 3 };

function principalSetCovers(set: PrincipalSet | "*", p: RequestPrincipal, root: string): Grant {
  // For a session, "*" and its role's ARN are grants to the role; only its own ARN names the session.
  const viaRole: Grant = p.roleArn ? "role" : "specific";
  if (set === "*") return viaRole;
  let result: Grant = "none";
  if (set.AWS) {
    for (const v of set.AWS) {
      if (v === p.arn) return "specific";
      if (v === "*" || v === p.roleArn) result = viaRole;
      else if ((v === root || v === p.accountId) && result === "none") result = "account";
    }
  }
  if (set.Service?.includes(p.arn) || set.Federated?.includes(p.arn) || set.CanonicalUser?.includes(p.arn)) return "specific";
  return result;
}

/** Lower-cased condition keys, plus the principal keys AWS always supplies. */
function buildContext(request: RequestContext): Map<string, string | string[]> {
  const ctx = new Map<string, string | string[]>();
  for (const key in request.context) {
    const v = request.context[key];
    if (v !== undefined) ctx.set(key.toLowerCase(), v);
  }
  const p = request.principal;
  if (!p.arn.startsWith("arn:")) {
    if (!ctx.has("aws:principalservicename")) ctx.set("aws:principalservicename", p.arn);
    return ctx;
  }
  if (!ctx.has("aws:principalarn")) ctx.set("aws:principalarn", p.roleArn ?? p.arn);
  if (!ctx.has("aws:principalaccount")) ctx.set("aws:principalaccount", p.accountId);
  const resource = p.arn.split(":").slice(5).join(":");
  if (!ctx.has("aws:principaltype")) {
    const type = p.isRoot
      ? "Account"
      : resource.startsWith("user/")
        ? "User"
        : resource.startsWith("assumed-role/")
          ? "AssumedRole"
          : resource.startsWith("federated-user/")
            ? "FederatedUser"
            : undefined;
    if (type) ctx.set("aws:principaltype", type);
  }
  if (!ctx.has("aws:username") && resource.startsWith("user/")) ctx.set("aws:username", resource.slice(resource.lastIndexOf("/") + 1));
  return ctx;
}
