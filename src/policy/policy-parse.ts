/**
 * Parse and validate policy documents. `parsePolicy` returns the normalised form or throws a
 * `PolicyError` listing every problem; `validatePolicy` returns the same problems as data.
 * Size limits are the caller's business.
 */
import { checkConditionValue, parseOperator } from "./policy-conditions.ts";
import { hasWildcard } from "./policy-match.ts";
import {
  type ConditionBlock,
  type Policy,
  PolicyError,
  type PolicyKind,
  type PolicyProblem,
  type PolicyVersion,
  type PrincipalSet,
  type Statement,
} from "./policy-types.ts";
import { rootArn } from "../shared/arn.ts";

const TOP_LEVEL = new Set(["Version", "Id", "Statement"]);
const STATEMENT_KEYS = new Set([
  "Sid",
  "Effect",
  "Principal",
  "NotPrincipal",
  "Action",
  "NotAction",
  "Resource",
  "NotResource",
  "Condition",
]);
const PRINCIPAL_TYPES = ["AWS", "Service", "Federated", "CanonicalUser"] as const;
const ACCOUNT_ID = /^\d{12}$/;
const ACTION = /^[A-Za-z0-9*?-]+:[A-Za-z0-9*?_.-]+$/;

export function parsePolicy(text: string, kind: PolicyKind): Policy {
  const { policy, problems } = analyse(text, kind);
  if (problems.length > 0 || !policy) throw new PolicyError(problems);
  return policy;
}

export function validatePolicy(text: string, kind: PolicyKind): PolicyProblem[] {
  return analyse(text, kind).problems;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function analyse(text: string, kind: PolicyKind): { policy?: Policy; problems: PolicyProblem[] } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { problems: [{ message: "Syntax errors in policy." }] };
  }
  if (!isObject(doc)) return { problems: [{ message: "Syntax errors in policy. The policy document must be a JSON object." }] };

  const problems: PolicyProblem[] = [];
  const problem: Report = Object.assign(
    (message: string, path?: string): void => {
      problems.push(path === undefined ? { message } : { message, path });
    },
    { count: () => problems.length },
  );
  for (const key of Object.keys(doc)) if (!TOP_LEVEL.has(key)) problem(`Unknown field ${key}.`, key);

  let version: PolicyVersion = "2008-10-17";
  if (doc.Version !== undefined) {
    if (doc.Version === "2012-10-17" || doc.Version === "2008-10-17") version = doc.Version;
    else problem(`Invalid policy version ${JSON.stringify(doc.Version)}: use "2012-10-17".`, "Version");
  }
  if (doc.Id !== undefined && typeof doc.Id !== "string") problem("Id must be a string.", "Id");

  const raw = doc.Statement;
  const statements: Statement[] = [];
  if (raw === undefined) problem("Missing required field Statement.", "Statement");
  else {
    const list = Array.isArray(raw) ? raw : [raw];
    if (list.length === 0) problem("Policy must contain at least one statement.", "Statement");
    const sids = new Set<string>();
    list.forEach((s, i) => {
      const path = Array.isArray(raw) ? `Statement[${i}]` : "Statement";
      const st = parseStatement(s, path, kind, problem);
      if (!st) return;
      if (st.sid !== undefined && st.sid !== "") {
        if (sids.has(st.sid)) problem(`Statement IDs (SID) in a single policy must be unique: ${st.sid}.`, `${path}.Sid`);
        sids.add(st.sid);
      }
      statements.push(st);
    });
  }
  if (problems.length > 0) return { problems };
  const policy: Policy = { version, statements };
  if (typeof doc.Id === "string") policy.id = doc.Id;
  return { policy, problems };
}

/** Appends one problem; problems are only ever appended, so a length tells whether a part added any. */
type Report = ((message: string, path?: string) => void) & { readonly count: () => number };

function parseStatement(raw: unknown, path: string, kind: PolicyKind, problem: Report): Statement | undefined {
  if (!isObject(raw)) {
    problem("Syntax errors in policy. A statement must be a JSON object.", path);
    return undefined;
  }
  const before = problem.count();
  for (const key of Object.keys(raw)) if (!STATEMENT_KEYS.has(key)) problem(`Unknown field ${key}.`, `${path}.${key}`);

  const st: Partial<Statement> = {};
  if (raw.Sid !== undefined) {
    if (typeof raw.Sid === "string") st.sid = raw.Sid;
    else problem("Sid must be a string.", `${path}.Sid`);
  }

  if (raw.Effect === undefined) problem("Missing required field Effect.", `${path}.Effect`);
  else if (raw.Effect === "Allow" || raw.Effect === "Deny") st.effect = raw.Effect;
  else problem(`Invalid effect: ${String(raw.Effect)}. Effect must be Allow or Deny.`, `${path}.Effect`);

  // Principal
  const hasP = raw.Principal !== undefined;
  const hasNP = raw.NotPrincipal !== undefined;
  if (kind === "identity") {
    if (hasP || hasNP) problem("Policy document should not specify a principal.", `${path}.${hasP ? "Principal" : "NotPrincipal"}`);
  } else if (hasP && hasNP) {
    problem("A statement cannot contain both Principal and NotPrincipal.", path);
  } else if (!hasP && !hasNP) {
    problem("Missing required field Principal.", `${path}.Principal`);
  } else if (hasNP && kind === "trust") {
    problem("NotPrincipal is not supported in trust policies.", `${path}.NotPrincipal`);
  } else if (hasNP && raw.Effect === "Allow") {
    problem("NotPrincipal must be used with \"Effect\": \"Deny\".", `${path}.NotPrincipal`);
  } else if (hasP) {
    const p = parsePrincipal(raw.Principal, `${path}.Principal`, problem);
    if (p) st.principal = p;
  } else {
    const p = parsePrincipal(raw.NotPrincipal, `${path}.NotPrincipal`, problem);
    if (p) st.notPrincipal = p;
  }

  // Action
  if (raw.Action !== undefined && raw.NotAction !== undefined) {
    problem("A statement cannot contain both Action and NotAction.", path);
  } else if (raw.Action === undefined && raw.NotAction === undefined) {
    problem("Policy statement must contain actions.", `${path}.Action`);
  } else {
    const field = raw.Action !== undefined ? "Action" : "NotAction";
    const list = stringList(raw[field], `${path}.${field}`, problem);
    if (list) {
      for (const a of list) {
        if (a !== "*" && !ACTION.test(a)) {
          problem(`Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc. Invalid action: ${a}`, `${path}.${field}`);
        }
      }
      if (field === "Action") st.action = list;
      else st.notAction = list;
    }
  }

  // Resource
  if (raw.Resource !== undefined && raw.NotResource !== undefined) {
    problem("A statement cannot contain both Resource and NotResource.", path);
  } else if (raw.Resource === undefined && raw.NotResource === undefined) {
    if (kind === "identity") problem("Policy statement must contain resources.", `${path}.Resource`);
  } else {
    const field = raw.Resource !== undefined ? "Resource" : "NotResource";
    const list = stringList(raw[field], `${path}.${field}`, problem);
    if (list) {
      for (const r of list) {
        if (r !== "*" && !(r.startsWith("arn:") && r.split(":").length >= 6)) {
          problem(`Resource ${r} must be in ARN format or "*".`, `${path}.${field}`);
        }
      }
      if (field === "Resource") st.resource = list;
      else st.notResource = list;
    }
  }

  if (raw.Condition !== undefined) {
    const c = parseCondition(raw.Condition, `${path}.Condition`, problem);
    if (c) st.condition = c;
  }
  return problem.count() === before ? (st as Statement) : undefined;
}

/** A string or a non-empty array of strings. */
function stringList(value: unknown, path: string, problem: Report): string[] | undefined {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) {
    problem(`${path.slice(path.lastIndexOf(".") + 1)} must not be empty.`, path);
    return undefined;
  }
  if (!list.every((v) => typeof v === "string" && v !== "")) {
    problem(`Syntax errors in policy. ${path.slice(path.lastIndexOf(".") + 1)} must be a string or an array of strings.`, path);
    return undefined;
  }
  return list as string[];
}

function parsePrincipal(raw: unknown, path: string, problem: Report): PrincipalSet | "*" | undefined {
  if (raw === "*") return "*";
  if (!isObject(raw)) {
    problem(`Invalid principal in policy: ${JSON.stringify(raw)}`, path);
    return undefined;
  }
  const set: PrincipalSet = {};
  let ok = true;
  for (const key of Object.keys(raw)) {
    if (!(PRINCIPAL_TYPES as readonly string[]).includes(key)) {
      problem(`Invalid principal in policy: unknown principal type ${JSON.stringify(key)}.`, `${path}.${key}`);
      ok = false;
      continue;
    }
    const type = key as (typeof PRINCIPAL_TYPES)[number];
    const list = stringList(raw[key], `${path}.${key}`, problem);
    if (!list) {
      ok = false;
      continue;
    }
    const values: string[] = [];
    for (const v of list) {
      const norm = normalisePrincipal(type, v);
      if (norm === undefined) {
        problem(`Invalid principal in policy: "${type}":"${v}"`, `${path}.${key}`);
        ok = false;
      } else values.push(norm);
    }
    set[type] = values;
  }
  if (Object.keys(raw).length === 0) {
    problem("Invalid principal in policy: the principal must name at least one principal type.", path);
    ok = false;
  }
  return ok ? set : undefined;
}

/** The normalised principal, or undefined when invalid. Partial wildcards are never allowed. */
function normalisePrincipal(type: (typeof PRINCIPAL_TYPES)[number], v: string): string | undefined {
  if (v === "*") return type === "AWS" ? "*" : undefined;
  if (hasWildcard(v)) return undefined;
  if (type === "AWS") {
    if (ACCOUNT_ID.test(v)) return rootArn(v);
    const parts = v.split(":");
    if (parts.length < 6 || parts[0] !== "arn" || !["iam", "sts"].includes(parts[2]) || !ACCOUNT_ID.test(parts[4])) return undefined;
    return parts[5] ? v : undefined;
  }
  return /\s/.test(v) ? undefined : v;
}

function parseCondition(raw: unknown, path: string, problem: Report): ConditionBlock | undefined {
  if (!isObject(raw)) {
    problem("Syntax errors in policy. Condition must be an object.", path);
    return undefined;
  }
  const block: ConditionBlock = {};
  let ok = true;
  for (const [opName, keys] of Object.entries(raw)) {
    const opPath = `${path}.${opName}`;
    const op = parseOperator(opName);
    if (!op) {
      problem(`Invalid Condition type : ${opName}.`, opPath);
      ok = false;
      continue;
    }
    if (!isObject(keys)) {
      problem(`Syntax errors in policy. The value of condition ${opName} must be an object of keys.`, opPath);
      ok = false;
      continue;
    }
    const out: Record<string, string[]> = {};
    for (const [key, value] of Object.entries(keys)) {
      const keyPath = `${opPath}.${key}`;
      if (!/^[^:\s]+:\S+$/.test(key)) {
        problem(`Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc. Invalid condition key: ${key}`, keyPath);
        ok = false;
        continue;
      }
      const list = Array.isArray(value) ? value : [value];
      if (list.length === 0 || !list.every((v) => ["string", "number", "boolean"].includes(typeof v))) {
        problem(`Syntax errors in policy. Condition values for ${key} must be strings, numbers or booleans.`, keyPath);
        ok = false;
        continue;
      }
      const strings = list.map((v) => String(v));
      for (const s of strings) {
        const why = checkConditionValue(op, s);
        if (why) {
          problem(why, keyPath);
          ok = false;
        }
      }
      out[key] = strings;
    }
    block[opName] = out;
  }
  return ok ? block : undefined;
}


export { isPublicPolicy } from "./policy-public.ts";
