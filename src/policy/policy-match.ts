/**
 * Wildcards, ARNs and policy variables.
 *
 * A policy string (a Resource, an ArnLike or StringLike value, ...) is compiled once into a
 * `Template`: literal text, `*` and `?` wildcards, and `${key}` variables (only in 2012-10-17
 * policies). Templates and the regular expressions built from them live in bounded caches, so a
 * request only compiles what it has never seen: static patterns compile once, patterns with
 * variables once per distinct substituted value.
 */
import type { PolicyVersion } from "./policy-types.ts";

/** Request condition keys, lower-cased. A missing key is absent from the map. */
export type ContextMap = ReadonlyMap<string, string | string[]>;

/** A Map that forgets its oldest entry past `limit`; enough to bound memory under hostile input. */
export class BoundedCache<K, V> {
  private readonly map = new Map<K, V>();
  constructor(private readonly limit: number) {}
  get(key: K, make: (key: K) => V): V {
    const hit = this.map.get(key);
    if (hit !== undefined) return hit;
    const value = make(key);
    if (this.map.size >= this.limit) this.map.delete(this.map.keys().next().value as K);
    this.map.set(key, value);
    return value;
  }
  get size(): number {
    return this.map.size;
  }
}

const STAR = 0;
const QMARK = 1;
type Wild = typeof STAR | typeof QMARK;
/** A variable; `key` null means a malformed `${...}` that never resolves. */
interface Variable {
  key: string | null;
  fallback?: string;
}
type Part = string | Wild | Variable;
/** After substitution: literal text and wildcards only. */
type Token = string | Wild;

export interface Template {
  readonly parts: readonly Part[];
  readonly hasVariables: boolean;
  /** Matcher of a variable-free template, built on first use. */
  staticMatcher?: Matcher;
}

type Matcher = (value: string) => boolean;

const templates = new BoundedCache<string, Template>(8192);
const regexes = new BoundedCache<string, RegExp>(4096);

/**
 * Compile a policy string. With `substitute` (2012-10-17 policies) `${key}`, `${key, 'default'}`
 * and the escapes `${*}`, `${?}`, `${$}` are recognised; otherwise `$` is ordinary text.
 */
export function compileTemplate(text: string, substitute: boolean): Template {
  return templates.get((substitute ? "v" : "l") + text, () => parseTemplate(text, substitute));
}

function parseTemplate(text: string, substitute: boolean): Template {
  const parts: Part[] = [];
  let literal = "";
  let hasVariables = false;
  const flush = (): void => {
    if (literal) parts.push(literal);
    literal = "";
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "*" || c === "?") {
      flush();
      parts.push(c === "*" ? STAR : QMARK);
    } else if (substitute && c === "$" && text[i + 1] === "{") {
      const parsed = parseVariable(text, i + 2);
      if (typeof parsed.part === "string") literal += parsed.part;
      else {
        flush();
        parts.push(parsed.part);
        hasVariables = true;
      }
      i = parsed.end;
    } else literal += c;
  }
  flush();
  return { parts, hasVariables };
}

/** Parse the inside of `${...}` starting at `start`; `end` is the index of the closing brace. */
function parseVariable(text: string, start: number): { part: string | Variable; end: number } {
  let i = start;
  let inner = "";
  let fallback: string | undefined;
  let malformed = false;
  while (i < text.length && text[i] !== "}") {
    if (text[i] === "," && fallback === undefined) {
      // `, 'default'` with '' standing for one quote
      i++;
      while (text[i] === " ") i++;
      if (text[i] !== "'") malformed = true;
      else {
        fallback = "";
        i++;
        for (;;) {
          if (i >= text.length) return { part: { key: null }, end: text.length - 1 };
          if (text[i] === "'" && text[i + 1] === "'") {
            fallback += "'";
            i += 2;
          } else if (text[i] === "'") {
            i++;
            break;
          } else fallback += text[i++];
        }
        while (text[i] === " ") i++;
        if (i < text.length && text[i] !== "}") malformed = true;
      }
      while (i < text.length && text[i] !== "}") i++;
      break;
    }
    inner += text[i++];
  }
  if (i >= text.length) return { part: { key: null }, end: text.length - 1 }; // unclosed
  if (fallback === undefined && (inner === "*" || inner === "?" || inner === "$")) return { part: inner, end: i };
  const key = inner.trim();
  if (malformed || key === "" || /\s/.test(key)) return { part: { key: null }, end: i };
  return { part: fallback === undefined ? { key: key.toLowerCase() } : { key: key.toLowerCase(), fallback }, end: i };
}

/** Value of a variable: single-valued keys only; multi-valued or missing keys use the default. */
function variableValue(v: Variable, ctx: ContextMap): string | undefined {
  if (v.key === null) return undefined;
  const value = ctx.get(v.key);
  if (typeof value === "string") return value;
  return v.fallback;
}

/** Substitute variables; undefined when one cannot be resolved (the value then matches nothing). */
function resolveTokens(t: Template, ctx: ContextMap): Token[] | undefined {
  const out: Token[] = [];
  for (const p of t.parts) {
    if (typeof p === "object") {
      const v = variableValue(p, ctx);
      if (v === undefined) return undefined;
      if (typeof out[out.length - 1] === "string") out[out.length - 1] += v;
      else out.push(v);
    } else if (typeof p === "string" && typeof out[out.length - 1] === "string") out[out.length - 1] += p;
    else out.push(p);
  }
  return out;
}

/** The template as plain text (wildcards as `*`/`?`), for equality operators. */
export function resolveText(t: Template, ctx: ContextMap): string | undefined {
  if (!t.hasVariables && t.parts.length === 1 && typeof t.parts[0] === "string") return t.parts[0];
  const tokens = t.hasVariables ? resolveTokens(t, ctx) : (t.parts as Token[]);
  if (tokens === undefined) return undefined;
  let s = "";
  for (const tok of tokens) s += tok === STAR ? "*" : tok === QMARK ? "?" : tok;
  return s;
}

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/**
 * Build a matcher from tokens. `arn` confines wildcards to one colon-separated segment in the
 * first five segments of an ARN pattern (the sixth, the resource, may contain colons).
 */
function buildMatcher(tokens: readonly Token[], arn: boolean): Matcher {
  if (tokens.length === 0) return (v) => v === "";
  if (tokens.length === 1 && tokens[0] === STAR) return () => true;
  if (tokens.every((t) => typeof t === "string")) {
    const exact = (tokens as string[]).join("");
    return (v) => v === exact;
  }
  let colons = 0;
  if (arn) for (const t of tokens) if (typeof t === "string") colons += t.split(":").length - 1;
  // An ARN pattern needs all six parts; anything shorter (other than "*") matches nothing.
  if (arn && colons < 5) return () => false;
  const segmented = arn;
  // A trailing * after a literal prefix (for ARNs: in the resource part) is a prefix test.
  if (tokens.length === 2 && typeof tokens[0] === "string" && tokens[1] === STAR) {
    const prefix = tokens[0];
    return (v) => v.startsWith(prefix);
  }
  let source = "^";
  let seen = 0;
  for (const t of tokens) {
    if (typeof t === "string") {
      source += escapeRegex(t);
      seen += t.split(":").length - 1;
    } else {
      const inSegment = segmented && seen < 5;
      source += t === STAR ? (inSegment ? "[^:]*" : "[^]*") : inSegment ? "[^:]" : "[^]";
    }
  }
  source += "$";
  const re = regexes.get(source, (s) => new RegExp(s));
  return (v) => re.test(v);
}

function matcherFor(t: Template, ctx: ContextMap, arn: boolean): Matcher | undefined {
  if (!t.hasVariables) {
    // ARN templates and plain ones live in separate caches, so this is built one way only.
    return (t.staticMatcher ??= buildMatcher(t.parts as Token[], arn));
  }
  const tokens = resolveTokens(t, ctx);
  return tokens === undefined ? undefined : buildMatcher(tokens, arn);
}

/** StringLike: `*` any run of characters, `?` exactly one; case-sensitive. */
export function matchLike(pattern: string, value: string, version: PolicyVersion, ctx: ContextMap): boolean {
  const m = matcherFor(compileTemplate(pattern, version === "2012-10-17"), ctx, false);
  return m !== undefined && m(value);
}

const arnTemplates = new BoundedCache<string, Template>(8192);

function compileArn(pattern: string, version: PolicyVersion): Template {
  const substitute = version === "2012-10-17";
  // A separate cache so an ARN pattern's static matcher is never shared with StringLike's.
  return arnTemplates.get((substitute ? "v" : "l") + pattern, () => parseTemplate(pattern, substitute));
}

/**
 * Resource and ArnLike/ArnEquals matching: `*` alone matches anything; an ARN pattern is matched
 * segment by segment (partition, service, region, account, then the rest, which may contain
 * colons); case-sensitive. Undefined when a policy variable in the pattern cannot be resolved.
 */
export function matchArn(pattern: string, value: string, version: PolicyVersion, ctx: ContextMap): boolean | undefined {
  if (pattern === "*") return true;
  const m = matcherFor(compileArn(pattern, version), ctx, true);
  return m === undefined ? undefined : m(value);
}

const actionMatchers = new BoundedCache<string, Matcher>(4096);

/** Action matching: case-insensitive, `*` and `?` wildcards, no variables. */
export function matchAction(pattern: string, action: string): boolean {
  if (pattern === "*") return true;
  const m = actionMatchers.get(pattern, (p) => buildMatcher(parseTemplate(p.toLowerCase(), false).parts as Token[], false));
  return m(action.toLowerCase());
}

/** Split an ARN into its six parts (the sixth keeps its colons); undefined if not an ARN. */
export function splitArn(arn: string): [string, string, string, string, string, string] | undefined {
  const parts = arn.split(":");
  if (parts.length < 6 || parts[0] !== "arn") return undefined;
  return [parts[0], parts[1], parts[2], parts[3], parts[4], parts.slice(5).join(":")];
}

/** Whether a string contains `*` or `?`. */
export const hasWildcard = (s: string): boolean => s.includes("*") || s.includes("?");
