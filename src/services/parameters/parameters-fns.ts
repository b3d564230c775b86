import { createContext, runInContext, type Context } from "node:vm";
import type { ParameterRecord } from "../../storage/store.ts";
import { CofferError } from "../../shared/errors.ts";
import {
  ADVANCED_VALUE_LIMIT,
  MAX_ARN_LENGTH,
  MAX_HIERARCHY_LEVELS,
  STANDARD_VALUE_LIMIT,
  type ParameterFilter,
  type ParameterTier,
  type RequestedTier,
} from "./parameters-types.ts";
import { parameterArn } from "../../shared/arn.ts";
import { decodePageToken, encodePageToken } from "../../shared/paging-token.ts";

export { parameterArn };

/** Pure rules of Parameter Store: names, selectors, labels, patterns, tiers, filters, paging. */

const NAME_CHARS = /^[a-zA-Z0-9_.\-/]+$/;
const LABEL_CHARS = /^[a-zA-Z0-9_.-]+$/;
const RESERVED = /^\/?(aws|ssm)/i;

export const messages = {
  notFound: (name: string) => `Parameter ${name} not found.`,
  /** AWS's words for a name it cannot read as a name (observed on PutParameter and GetParameter for "a/b"), "ssm" and all. */
  invalidName:
    'Parameter name: can\'t be prefixed with "ssm" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_',
  /** AWS's words for a bad GetParametersByPath path, literal backslashes included (observed; aws/aws-sdk-js-v3#5928). */
  invalidPath:
    'The parameter doesn\'t meet the parameter name requirements. The parameter name must begin with a forward slash "/". It can\'t be prefixed with \\"aws\\" or \\"ssm\\" (case-insensitive). It must use only letters, numbers, or the following symbols: . (period), - (hyphen), _ (underscore). Special characters are not allowed. All sub-paths, if specified, must use the forward slash symbol "/". Valid example: /get/parameters2-/by1./path0_.',

  versionNotFound: (name: string, version: number | string) =>
    `Systems Manager could not find version ${version} of ${name}. Verify the version and try again.`,
  badToken: "The specified token isn't valid.",
};


/** The version or label a caller selected with `name:<version>` or `name:<label>`. */
export type Selector = { kind: "version"; version: number; text: string } | { kind: "label"; label: string; text: string };

export interface NamedParameter {
  /** The name without the selector (for an ARN: the name it carries, with a leading slash if hierarchical). */
  name: string;
  arn: string;
  selector?: Selector;
}

const ARN_NAME = /^arn:[^:]+:ssm:([^:]*):(\d{12}):parameter\/([^:]+)(?::([^:]*))?$/;

/**
 * Whether a name breaks the rules every name follows, read or write: only
 * [a-zA-Z0-9_.-/], and a hierarchical one starts with "/" and has no empty
 * level ("a/b", "/a//b", "/a/"). Were "a/b" read, it would reach "/a/b":
 * both have the same ARN.
 */
export function isMalformedName(name: string): boolean {
  if (!NAME_CHARS.test(name)) return true;
  return name.includes("/") && (!name.startsWith("/") || name.endsWith("/") || name.includes("//"));
}

/**
 * Reads a name as a caller may give it to a read or delete: a name or a
 * parameter ARN, either optionally followed by ":<version>" or ":<label>".
 * Undefined when it cannot name a parameter (an ARN of something else, an
 * empty selector); a ValidationException when the name itself is malformed,
 * as PutParameter says of it.
 */
export function parseName(input: string, region: string, accountId: string): NamedParameter | undefined {
  const text = input.trim();
  let name: string;
  let arn: string;
  let selector: string | undefined;
  const m = ARN_NAME.exec(text);
  if (m) {
    name = m[3].includes("/") ? `/${m[3]}` : m[3];
    arn = `${text.split(":").slice(0, 6).join(":")}`;
    selector = m[4];
  } else {
    if (text.startsWith("arn:")) return undefined;
    const parts = text.split(":");
    if (parts.length > 2) return undefined;
    [name, selector] = parts;
    arn = parameterArn(region, accountId, name);
  }
  if (!name) return undefined;
  if (isMalformedName(name)) throw new CofferError("Validation", messages.invalidName);
  const named: NamedParameter = { name, arn };
  if (selector !== undefined) {
    if (selector === "") return undefined;
    named.selector = /^\d{1,9}$/.test(selector)
      ? { kind: "version", version: Number(selector), text: `:${selector}` }
      : { kind: "label", label: selector, text: `:${selector}` };
  }
  return named;
}

/** Whether `name` is reserved for AWS ("aws" or "ssm" at the start, with or without a slash). */
export function isReserved(name: string): boolean {
  return RESERVED.test(name);
}

/** The checks a name must pass to be created. */
export function checkNewName(name: string, region: string, accountId: string): void {
  if (isMalformedName(name)) throw new CofferError("Validation", messages.invalidName);
  if (/^\/aws\//i.test(name)) {
    throw new CofferError("AccessDenied", `No access to reserved parameter name: ${name}.`);
  }
  if (isReserved(name)) {
    throw new CofferError("Validation", 'Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive).');
  }
  if (parameterArn(region, accountId, name).length > MAX_ARN_LENGTH) {
    throw new CofferError(
      "Validation",
      `Parameter name: can't be longer than ${MAX_ARN_LENGTH} characters, including the ARN prefix (${parameterArn(region, accountId, "")}).`,
    );
  }
  if (levels(name) > MAX_HIERARCHY_LEVELS) {
    throw new CofferError(
      "HierarchyLevelLimitExceeded",
      `A hierarchy can have a maximum of ${MAX_HIERARCHY_LEVELS} levels; ${name.slice(0, 200)} has ${levels(name)}.`,
    );
  }
}

/** "/a/b/c" is three levels; "a" is one. */
export function levels(name: string): number {
  return name.startsWith("/") ? name.split("/").length - 1 : 1;
}

/**
 * A path as GetParametersByPath and the Path filter take it, in the form the
 * store lists by: "/" or "/a/b/" (with one trailing slash).
 */
export function normalizePath(path: string): string {
  const p = path.trim();
  if (!p.startsWith("/") || p.includes("//") || !NAME_CHARS.test(p)) throw new CofferError("Validation", messages.invalidPath);
  if (p === "/") return p;
  if (levels(p.replace(/\/$/, "")) > MAX_HIERARCHY_LEVELS) {
    throw new CofferError("HierarchyLevelLimitExceeded", `A hierarchy can have a maximum of ${MAX_HIERARCHY_LEVELS} levels.`);
  }
  return p.endsWith("/") ? p : `${p}/`;
}

/** A label may be attached to a version: 1-100 of [a-zA-Z0-9_.-], not starting with a digit, "aws" or "ssm". */
export function isValidLabel(label: string): boolean {
  return label.length >= 1 && label.length <= 100 && LABEL_CHARS.test(label) && !/^[0-9]/.test(label) && !/^(aws|ssm)/i.test(label);
}

/**
 * Compiles a parameter's AllowedPattern. A value passes when the pattern
 * finds a match in it, so a pattern meant for the whole value carries its
 * own ^ and $ (as AWS's examples do: ^\d+$).
 */
export function compileAllowedPattern(pattern: string): RegExp {
  try {
    return new RegExp(pattern);
  } catch {
    throw new CofferError("InvalidAllowedPattern", `The allowed pattern ${pattern} is not a valid regular expression.`);
  }
}

/** How long one AllowedPattern test may run: a caller's pattern must not stall the server (catastrophic backtracking). */
export const PATTERN_TIMEOUT_MS = 100;
let patternContext: Context | undefined;

/** `pattern` tested on `value` in a VM context whose timeout interrupts a runaway match. */
function testWithTimeout(pattern: string, value: string): boolean {
  patternContext ??= createContext({ pattern: "", value: "" });
  patternContext.pattern = pattern;
  patternContext.value = value;
  try {
    return runInContext("new RegExp(pattern).test(value)", patternContext, { timeout: PATTERN_TIMEOUT_MS }) === true;
  } catch {
    throw new CofferError(
      "InvalidAllowedPattern",
      `The allowed pattern ${pattern} took longer than ${PATTERN_TIMEOUT_MS} ms to test a value (nested repetition backtracks); simplify it.`,
    );
  } finally {
    patternContext.value = "";
  }
}

export function checkAllowedPattern(pattern: string | undefined, value: string): void {
  if (pattern === undefined) return;
  compileAllowedPattern(pattern);
  if (!testWithTimeout(pattern, value)) {
    // The value is never quoted back: it may be a SecureString.
    throw new CofferError("PatternMismatch", `Parameter value, cannot be validated against allowedPattern: ${pattern}`);
  }
}

/**
 * The tier a new version gets. Intelligent-Tiering picks Advanced only when
 * needed (a value over 4 KB, policies, or a parameter that is Advanced
 * already); Standard to Advanced is allowed, never back.
 */
export function chooseTier(
  requested: RequestedTier | undefined,
  existing: ParameterTier | undefined,
  valueBytes: number,
  hasPolicies: boolean,
): ParameterTier {
  let tier: ParameterTier;
  if (requested === "Intelligent-Tiering") {
    tier = existing === "Advanced" || valueBytes > STANDARD_VALUE_LIMIT || hasPolicies ? "Advanced" : "Standard";
  } else {
    tier = requested ?? existing ?? "Standard";
  }
  if (existing === "Advanced" && tier === "Standard") {
    throw new CofferError(
      "Validation",
      "This parameter uses the advanced-parameter tier. You can't downgrade a parameter from the advanced-parameter tier to the standard-parameter tier. If necessary, you can delete the advanced parameter and recreate it as a standard parameter.",
    );
  }
  if (tier === "Standard" && valueBytes > STANDARD_VALUE_LIMIT) {
    throw new CofferError(
      "Validation",
      `Standard tier parameters support a maximum parameter value of ${STANDARD_VALUE_LIMIT} characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier.`,
    );
  }
  if (valueBytes > ADVANCED_VALUE_LIMIT) {
    throw new CofferError("Validation", `Advanced tier parameters support a maximum parameter value of ${ADVANCED_VALUE_LIMIT} characters.`);
  }
  if (tier === "Standard" && hasPolicies) {
    throw new CofferError(
      "Validation",
      "Parameter policies are supported only for parameters in the advanced-parameter tier: use Tier Advanced or Intelligent-Tiering.",
    );
  }
  return tier;
}

/** Paging tokens: opaque to callers, checked when they come back. */
export const encodeToken = encodePageToken;

export function decodeToken<T extends string | number>(token: string | undefined, kind: "string" | "number"): T | undefined {
  if (token === undefined) return undefined;
  const p = kind === "number" ? decodePageToken(token, "number") : decodePageToken(token, "string");
  if (p === undefined) throw new CofferError("InvalidNextToken", messages.badToken);
  return p as T;
}

// --- filters -----------------------------------------------------------------

export interface CheckedFilter {
  key: string;
  option: string;
  values: string[];
}

const TYPES = ["String", "StringList", "SecureString"];
const TIERS = ["Standard", "Advanced", "Intelligent-Tiering"];

const OPTIONS: Record<string, string[]> = {
  Name: ["Equals", "BeginsWith", "Contains"],
  Type: ["Equals", "BeginsWith"],
  KeyId: ["Equals", "BeginsWith"],
  Label: ["Equals"],
  Path: ["Recursive", "OneLevel"],
  Tier: ["Equals"],
  DataType: ["Equals"],
  tag: ["Equals", "BeginsWith"],
};

/**
 * Checks ParameterFilters for DescribeParameters (keys tag:<k>, Name, Type,
 * KeyId, Path, Tier, DataType) or GetParametersByPath (Type, KeyId, Label),
 * with AWS's errors, and fills in default options.
 */
export function checkFilters(filters: ParameterFilter[] | undefined, operation: "describe" | "byPath"): CheckedFilter[] {
  const allowed = operation === "byPath" ? ["Type", "KeyId", "Label"] : ["Name", "Type", "KeyId", "Path", "Tier", "DataType"];
  const seen = new Set<string>();
  return (filters ?? []).map((f) => {
    const isTag = f.key.startsWith("tag:") && f.key.length > 4;
    if (!(isTag && operation === "describe") && !allowed.includes(f.key)) {
      throw new CofferError(
        "InvalidFilterKey",
        `The following filter key is not valid: ${f.key}. Valid filter keys include: [${operation === "describe" ? "tag:<key>, " : ""}${allowed.join(", ")}].`,
      );
    }
    if (seen.has(f.key)) {
      throw new CofferError(
        "InvalidFilterKey",
        `The following filter is duplicated in the request: ${f.key}. A request can contain only one occurrence of a specific filter.`,
      );
    }
    seen.add(f.key);
    const values = f.values ?? [];
    if (values.length === 0) {
      throw new CofferError("InvalidFilterValue", `The following filter values are missing : null for filter key ${f.key}.`);
    }
    const optionsFor = OPTIONS[isTag ? "tag" : f.key];
    const option = f.option ?? (f.key === "Path" ? "OneLevel" : "Equals");
    if (!optionsFor.includes(option)) {
      throw new CofferError(
        "InvalidFilterOption",
        `The following filter option is not valid: ${option}. Valid options include: [${optionsFor.join(", ")}].`,
      );
    }
    const allowedValues = f.key === "Type" && option === "Equals" ? TYPES : f.key === "Tier" ? TIERS : undefined;
    for (const v of values) {
      if (allowedValues && !allowedValues.includes(v)) {
        throw new CofferError(
          "InvalidFilterValue",
          `The following filter value is not valid: ${v}. Valid values include: [${allowedValues.join(", ")}].`,
        );
      }
      if (f.key === "Path") {
        if (isReserved(v)) {
          throw new CofferError("Validation", 'Filters for common parameters can\'t be prefixed with "aws" or "ssm" (case-insensitive).');
        }
        normalizePath(v);
      }
    }
    return { key: f.key, option, values };
  });
}

function compare(option: string, actual: string | undefined, values: string[]): boolean {
  if (actual === undefined) return false;
  if (option === "BeginsWith") return values.some((v) => actual.startsWith(v));
  if (option === "Contains") return values.some((v) => actual.includes(v));
  return values.includes(actual);
}

const withSlash = (name: string) => (name.startsWith("/") ? name : `/${name}`);

/** Whether a parameter passes one checked filter (Label is the caller's to apply: it needs the versions). */
export function matchesFilter(p: ParameterRecord, f: CheckedFilter): boolean {
  if (f.key.startsWith("tag:")) {
    const tag = p.tags.find((t) => t.key === f.key.slice(4));
    return compare(f.option, tag?.value, f.values);
  }
  switch (f.key) {
    case "Name":
      return f.option === "Contains" ? compare(f.option, p.name, f.values) : compare(f.option, withSlash(p.name), f.values.map(withSlash));
    case "Type":
      return compare(f.option, p.type, f.values);
    case "KeyId":
      return compare(f.option, p.keyId, f.values);
    case "Tier":
      return f.values.includes(p.tier);
    case "DataType":
      return f.values.includes(p.dataType);
    case "Path": {
      const name = withSlash(p.name);
      return f.values.some((v) => {
        const path = normalizePath(v);
        if (!name.startsWith(path)) return false;
        return f.option === "Recursive" || !name.slice(path.length).includes("/");
      });
    }
    default:
      return true;
  }
}
