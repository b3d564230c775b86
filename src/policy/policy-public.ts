/**
 * BlockPublicPolicy: does a resource policy grant access to anyone at all? A cheap, syntactic
 * stand-in for AWS's Zelkova check; it errs towards "public".
 */
import { parseOperator } from "./policy-conditions.ts";
import { hasWildcard } from "./policy-match.ts";
import type { ConditionBlock, Policy, Statement } from "./policy-types.ts";

/** Condition keys that, compared exactly, confine a statement to known accounts or principals. */
const PINNING_KEYS = new Set([
  "aws:principalaccount",
  "aws:principalarn",
  "aws:sourceaccount",
  "aws:principalorgid",
  "aws:sourcearn",
  "aws:sourceowner",
]);
const PINNING_OPERATORS = new Set(["StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike"]);

/**
 * True when an Allow statement's Principal is `"*"` or `{"AWS": "*"}` (or it uses NotPrincipal)
 * and no condition pins it to specific accounts or principals (`aws:PrincipalAccount`,
 * `aws:PrincipalArn`, `aws:SourceAccount`, `aws:PrincipalOrgID`, `aws:SourceArn`,
 * `aws:SourceOwner` with an equality or ARN operator, no IfExists, no set qualifier and no
 * wildcard or policy variable in the values). `accountId` is the resource owner's account: a pin to any specific
 * account (own or another) is not public, so it only documents intent at present.
 */
export function isPublicPolicy(policy: Policy, accountId: string): boolean {
  void accountId;
  return policy.statements.some((st) => st.effect === "Allow" && grantsEveryone(st) && !pinned(st.condition));
}

function grantsEveryone(st: Statement): boolean {
  if (st.notPrincipal !== undefined) return true;
  const p = st.principal;
  if (p === undefined) return false;
  if (p === "*") return true;
  return [p.AWS, p.Service, p.Federated, p.CanonicalUser].some((list) => list?.includes("*"));
}

function pinned(block: ConditionBlock | undefined): boolean {
  if (!block) return false;
  for (const opName in block) {
    const op = parseOperator(opName);
    if (!op || op.ifExists || op.set || !PINNING_OPERATORS.has(op.name)) continue;
    for (const key in block[opName]) {
      const values = block[opName][key];
      if (PINNING_KEYS.has(key.toLowerCase()) && values.length > 0 && !values.some((v) => hasWildcard(v) || v.includes("${"))) return true;
    }
  }
  return false;
}
