/**
 * Condition operators. A condition block is true when every operator is true; an operator is
 * true when every key under it is true; a key is true when any of its policy values matches
 * (for negated operators: when none does).
 */
import { BlockList, isIP } from "node:net";
import { BoundedCache, type ContextMap, compileTemplate, matchArn, matchLike, resolveText } from "./policy-match.ts";
import type { ConditionBlock, PolicyVersion } from "./policy-types.ts";

type Family = "string" | "numeric" | "date" | "bool" | "binary" | "ip" | "arn" | "null";

/** `(policyValue, requestValue) => matches`, for the positive form of an operator. */
type Compare = (policyValue: string, requestValue: string, version: PolicyVersion, ctx: ContextMap) => boolean;

interface BaseOperator {
  family: Family;
  negated: boolean;
  compare: Compare;
}

export interface Operator extends BaseOperator {
  /** The canonical name without qualifier or suffix, e.g. "StringNotLike". */
  name: string;
  ifExists: boolean;
  set?: "any" | "all";
}

const stringEquals: Compare = (p, r, v, ctx) => resolveText(compileTemplate(p, v === "2012-10-17"), ctx) === r;
const stringEqualsIgnoreCase: Compare = (p, r, v, ctx) =>
  resolveText(compileTemplate(p, v === "2012-10-17"), ctx)?.toLowerCase() === r.toLowerCase();
const stringLike: Compare = (p, r, v, ctx) => matchLike(p, r, v, ctx);
const arnLike: Compare = (p, r, v, ctx) => r.startsWith("arn:") && matchArn(p, r, v, ctx) === true;

const numeric =
  (test: (a: number, b: number) => boolean): Compare =>
  (p, r) => {
    const a = parseNumber(r);
    const b = parseNumber(p);
    return a !== undefined && b !== undefined && test(a, b);
  };
const date =
  (test: (a: number, b: number) => boolean): Compare =>
  (p, r) => {
    const a = parseDate(r);
    const b = parseDate(p);
    return a !== undefined && b !== undefined && test(a, b);
  };
const bool: Compare = (p, r, v, ctx) => {
  const want = resolveText(compileTemplate(p, v === "2012-10-17"), ctx)?.toLowerCase();
  const got = r.toLowerCase();
  return (got === "true" || got === "false") && want === got;
};
const binary: Compare = (p, r) => isBase64(p) && isBase64(r) && Buffer.from(p, "base64").equals(Buffer.from(r, "base64"));
const ip: Compare = (p, r) => {
  const list = cidrList(p);
  const addr = normalizeIp(r);
  return list !== undefined && addr !== undefined && list.check(addr.address, addr.family);
};
const never: Compare = () => false;

const eq = (a: number, b: number): boolean => a === b;
const lt = (a: number, b: number): boolean => a < b;
const le = (a: number, b: number): boolean => a <= b;
const gt = (a: number, b: number): boolean => a > b;
const ge = (a: number, b: number): boolean => a >= b;

const BASE: Record<string, BaseOperator> = {
  StringEquals: { family: "string", negated: false, compare: stringEquals },
  StringNotEquals: { family: "string", negated: true, compare: stringEquals },
  StringEqualsIgnoreCase: { family: "string", negated: false, compare: stringEqualsIgnoreCase },
  StringNotEqualsIgnoreCase: { family: "string", negated: true, compare: stringEqualsIgnoreCase },
  StringLike: { family: "string", negated: false, compare: stringLike },
  StringNotLike: { family: "string", negated: true, compare: stringLike },
  NumericEquals: { family: "numeric", negated: false, compare: numeric(eq) },
  NumericNotEquals: { family: "numeric", negated: true, compare: numeric(eq) },
  NumericLessThan: { family: "numeric", negated: false, compare: numeric(lt) },
  NumericLessThanEquals: { family: "numeric", negated: false, compare: numeric(le) },
  NumericGreaterThan: { family: "numeric", negated: false, compare: numeric(gt) },
  NumericGreaterThanEquals: { family: "numeric", negated: false, compare: numeric(ge) },
  DateEquals: { family: "date", negated: false, compare: date(eq) },
  DateNotEquals: { family: "date", negated: true, compare: date(eq) },
  DateLessThan: { family: "date", negated: false, compare: date(lt) },
  DateLessThanEquals: { family: "date", negated: false, compare: date(le) },
  DateGreaterThan: { family: "date", negated: false, compare: date(gt) },
  DateGreaterThanEquals: { family: "date", negated: false, compare: date(ge) },
  Bool: { family: "bool", negated: false, compare: bool },
  BinaryEquals: { family: "binary", negated: false, compare: binary },
  IpAddress: { family: "ip", negated: false, compare: ip },
  NotIpAddress: { family: "ip", negated: true, compare: ip },
  ArnEquals: { family: "arn", negated: false, compare: arnLike },
  ArnLike: { family: "arn", negated: false, compare: arnLike },
  ArnNotEquals: { family: "arn", negated: true, compare: arnLike },
  ArnNotLike: { family: "arn", negated: true, compare: arnLike },
  Null: { family: "null", negated: false, compare: never },
};

/** Every base operator name, as AWS spells it. */
export const CONDITION_OPERATORS: readonly string[] = Object.keys(BASE);

const BASE_BY_LOWER = new Map(Object.entries(BASE).map(([name, op]) => [name.toLowerCase(), { name, ...op }]));
const operators = new BoundedCache<string, Operator | null>(1024);

/**
 * Parse `[ForAnyValue:|ForAllValues:]<Operator>[IfExists]`, matched case-insensitively.
 * Returns undefined for an unknown operator (and for `NullIfExists`, which AWS does not have).
 */
export function parseOperator(text: string): Operator | undefined {
  return (
    operators.get(text, () => {
      let rest = text.toLowerCase();
      let set: Operator["set"];
      if (rest.startsWith("foranyvalue:")) {
        set = "any";
        rest = rest.slice("foranyvalue:".length);
      } else if (rest.startsWith("forallvalues:")) {
        set = "all";
        rest = rest.slice("forallvalues:".length);
      }
      let base = BASE_BY_LOWER.get(rest);
      let ifExists = false;
      if (!base && rest.endsWith("ifexists")) {
        base = BASE_BY_LOWER.get(rest.slice(0, -"ifexists".length));
        ifExists = true;
        if (base?.family === "null") return null;
      }
      if (!base) return null;
      return set ? { ...base, ifExists, set } : { ...base, ifExists };
    }) ?? undefined
  );
}

/** Why a policy value cannot be used with this operator, or undefined if it can. */
export function checkConditionValue(op: Operator, value: string): string | undefined {
  switch (op.family) {
    case "numeric":
      return parseNumber(value) === undefined ? `Invalid number "${value}" for ${op.name}.` : undefined;
    case "date":
      return parseDate(value) === undefined ? `Invalid date "${value}" for ${op.name}: use ISO 8601 or epoch seconds.` : undefined;
    case "bool":
      return /^(true|false)$/i.test(value) || value.includes("${") ? undefined : `Invalid boolean "${value}" for Bool.`;
    case "null":
      return /^(true|false)$/i.test(value) ? undefined : `Invalid value "${value}" for Null: use true or false.`;
    case "binary":
      return isBase64(value) ? undefined : `Invalid base64 value for BinaryEquals.`;
    case "ip":
      return cidrList(value) === undefined ? `Invalid IP address or CIDR "${value}" for ${op.name}.` : undefined;
    default:
      return undefined;
  }
}

/** Evaluate a whole condition block (all operators AND, all keys AND). */
export function evaluateConditions(block: ConditionBlock, version: PolicyVersion, ctx: ContextMap): boolean {
  for (const opName in block) {
    const op = parseOperator(opName);
    if (!op) return false; // unvalidated documents: an unknown operator never matches
    const keys = block[opName];
    for (const key in keys) {
      if (!evaluateKey(op, keys[key], ctx.get(key.toLowerCase()), version, ctx)) return false;
    }
  }
  return true;
}

function evaluateKey(
  op: Operator,
  policyValues: readonly string[],
  requestValue: string | string[] | undefined,
  version: PolicyVersion,
  ctx: ContextMap,
): boolean {
  const values = requestValue === undefined ? [] : typeof requestValue === "string" ? [requestValue] : requestValue;
  if (op.family === "null") {
    const absent = values.length === 0;
    return policyValues.some((p) => (p.toLowerCase() === "true") === absent);
  }
  if (values.length === 0) {
    if (op.ifExists) return true;
    if (op.set === "all") return true;
    if (op.set === "any") return false;
    return op.negated;
  }
  const matchesAny = (r: string): boolean => policyValues.some((p) => op.compare(p, r, version, ctx));
  if (op.set === "any") return values.some((r) => matchesAny(r) !== op.negated);
  if (op.set === "all") return values.every((r) => matchesAny(r) !== op.negated);
  // No qualifier: a multi-valued request key behaves as "any of its values matches".
  return values.some(matchesAny) !== op.negated;
}

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;
function parseNumber(s: string): number | undefined {
  return NUMBER.test(s.trim()) ? Number(s) : undefined;
}

const EPOCH = /^-?\d+(\.\d+)?$/;
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?\s*([Zz]|[+-]\d{2}:?\d{2})?$/;

/** ISO 8601 (no zone means UTC) or epoch seconds → milliseconds since the epoch. */
export function parseDate(s: string): number | undefined {
  const text = s.trim();
  if (EPOCH.test(text)) return Number(text) * 1000;
  const m = ISO.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h = "00", mi = "00", sec = "00", frac = "", zone = "Z"] = m;
  const z = zone === "z" ? "Z" : zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone;
  const ms = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${sec}${frac ? frac.slice(0, 4).padEnd(4, "0") : ""}${z}`);
  if (Number.isNaN(ms)) return undefined;
  // Date.parse rolls 2024-02-30 over to March; AWS would not accept it.
  if (new Date(ms - tzOffset(z)).getUTCDate() !== Number(d)) return undefined;
  return ms;
}

function tzOffset(z: string): number {
  if (z === "Z") return 0;
  const sign = z[0] === "-" ? -1 : 1;
  return -sign * (Number(z.slice(1, 3)) * 60 + Number(z.slice(4, 6))) * 60_000;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const isBase64 = (s: string): boolean => s.length > 0 && BASE64.test(s);

const cidrs = new BoundedCache<string, BlockList | null>(2048);

/** A one-entry BlockList for an IP address or CIDR (IPv4 or IPv6); undefined if invalid. */
function cidrList(value: string): BlockList | undefined {
  return (
    cidrs.get(value, () => {
      const slash = value.indexOf("/");
      const addr = normalizeIp(slash < 0 ? value : value.slice(0, slash));
      if (!addr) return null;
      const max = addr.family === "ipv4" ? 32 : 128;
      const prefixText = slash < 0 ? String(max) : value.slice(slash + 1);
      if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) return null;
      const list = new BlockList();
      list.addSubnet(addr.address, Number(prefixText), addr.family);
      return list;
    }) ?? undefined
  );
}

/** IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`, as Node reports IPv4 peers on dual-stack sockets) become IPv4. */
function normalizeIp(value: string): { address: string; family: "ipv4" | "ipv6" } | undefined {
  const v = value.trim();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(v);
  if (mapped && isIP(mapped[1]) === 4) return { address: mapped[1], family: "ipv4" };
  const family = isIP(v);
  if (family === 4) return { address: v, family: "ipv4" };
  if (family === 6) return { address: v, family: "ipv6" };
  return undefined;
}
