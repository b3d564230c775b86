/**
 * Wildcards, ARNs and policy variables.
 *
 * A policy string (a Resource, an ArnLike or StringLike value, ...) is compiled once into a
 * `Template`: literal text, `*` and `?` wildcards, and `${key}` variables (only in 2012-10-17
 * policies). Templates and the regular expressions built from them live in bounded caches, so a
 * request only compiles what it has never seen: static patterns compile once, patterns with
 * variables once per distinct substituted value. Matching never uses a regular expression
 * (see matchGlob): it is linear in the pattern for each position of the value, whatever the input.
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

// One cache per flavour, keyed by the policy's own string: a string keeps its hash, so a lookup
// costs nothing per request (a concatenated key would be re-hashed, in full, on every request).
const templates = { v: new BoundedCache<string, Template>(4096), l: new BoundedCache<string, Template>(4096) };

/**
 * Compile a policy string. With `substitute` (2012-10-17 policies) `${key}`, `${key, 'default'}`
 * and the escapes `${*}`, `${?}`, `${$}` are recognised; otherwise `$` is ordinary text.
 */
export function compileTemplate(text: string, substitute: boolean): Template {
  return templates[substitute ? "v" : "l"].get(text, () => parseTemplate(text, substitute));
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

/**
 * What a wildcard may consume: any character, or (in an ARN's first five segments) any but ":".
 * A segment position is a literal character, or a `?` of either kind.
 */
const ANY = 1;
const NO_COLON = 2;
const COLON = 58;

/** The text between two `*`s: `text` with `?` positions marked in `kinds` (0 = literal). */
interface Segment {
  readonly text: string;
  /** Undefined when the segment is all literal (then `indexOf`/`startsWith` do the work). */
  readonly kinds?: Uint8Array;
}

/**
 * A pattern as `segments[0] *0 segments[1] *1 ... segments[k]`; `starKinds[i]` says what star i
 * may consume. Matched greedily (each inner segment at its leftmost fit), which is exact for
 * globs and never backtracks: O(length of value × length of pattern) at worst.
 */
interface Glob {
  readonly segments: readonly Segment[];
  readonly starKinds: readonly number[];
}

function toGlob(tokens: readonly Token[], arn: boolean): Glob {
  const segments: Segment[] = [];
  const starKinds: number[] = [];
  let text = "";
  let kinds: number[] = [];
  let wild = false;
  let seen = 0;
  const close = (): void => {
    segments.push(wild ? { text, kinds: Uint8Array.from(kinds) } : { text });
    text = "";
    kinds = [];
    wild = false;
  };
  for (const t of tokens) {
    if (typeof t === "string") {
      text += t;
      for (let i = 0; i < t.length; i++) kinds.push(0);
      if (arn) seen += t.split(":").length - 1;
      continue;
    }
    // Wildcards in the first five segments of an ARN pattern stay inside their segment.
    const kind = arn && seen < 5 ? NO_COLON : ANY;
    if (t === QMARK) {
      text += "?";
      kinds.push(kind);
      wild = true;
    } else if (text === "" && starKinds.length > 0 && segments.length === starKinds.length) {
      // `**` is one star (both of the same kind: no colon comes between them).
    } else {
      close();
      starKinds.push(kind);
    }
  }
  close();
  return { segments, starKinds };
}

/** Whether `seg` matches `value` at `at` (the caller has checked that it fits). */
function segmentAt(seg: Segment, value: string, at: number): boolean {
  const { text, kinds } = seg;
  if (kinds === undefined) return value.startsWith(text, at);
  for (let j = 0; j < text.length; j++) {
    const k = kinds[j];
    const c = value.charCodeAt(at + j);
    if (k === 0 ? c !== text.charCodeAt(j) : k === NO_COLON && c === COLON) return false;
  }
  return true;
}

/** Leftmost start in [from, last] where `seg` matches, or -1. */
function findSegment(seg: Segment, value: string, from: number, last: number): number {
  if (seg.kinds === undefined) {
    const at = value.indexOf(seg.text, from);
    return at >= 0 && at <= last ? at : -1;
  }
  for (let at = from; at <= last; at++) if (segmentAt(seg, value, at)) return at;
  return -1;
}

function matchGlob(g: Glob, value: string): boolean {
  const { segments, starKinds } = g;
  const first = segments[0];
  if (starKinds.length === 0) return value.length === first.text.length && segmentAt(first, value, 0);
  const lastSeg = segments[segments.length - 1];
  const end = value.length - lastSeg.text.length; // where the last segment must start
  if (end < first.text.length) return false;
  if (!segmentAt(first, value, 0) || !segmentAt(lastSeg, value, end)) return false;
  let pos = first.text.length;
  for (let i = 1; i < segments.length - 1; i++) {
    const seg = segments[i];
    // A star that may not cross a colon cannot reach past the next one.
    let last = end - seg.text.length;
    if (starKinds[i - 1] === NO_COLON) {
      const colon = value.indexOf(":", pos);
      if (colon >= 0 && colon < last) last = colon;
    }
    const at = findSegment(seg, value, pos, last);
    if (at < 0) return false;
    pos = at + seg.text.length;
  }
  if (starKinds[starKinds.length - 1] === NO_COLON) {
    const colon = value.indexOf(":", pos);
    if (colon >= 0 && colon < end) return false;
  }
  return true;
}

/**
 * Build a matcher from tokens. `arn` confines wildcards to one colon-separated segment in the
 * first five segments of an ARN pattern (the sixth, the resource, may contain colons). No
 * regular expression: a hostile pattern must not be able to make matching backtrack.
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
  // A trailing * after a literal prefix (for ARNs: in the resource part) is a prefix test.
  if (tokens.length === 2 && typeof tokens[0] === "string" && tokens[1] === STAR) {
    const prefix = tokens[0];
    return (v) => v.startsWith(prefix);
  }
  const glob = toGlob(tokens, arn);
  return (v) => matchGlob(glob, v);
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

const arnTemplates = { v: new BoundedCache<string, Template>(4096), l: new BoundedCache<string, Template>(4096) };

function compileArn(pattern: string, version: PolicyVersion): Template {
  const substitute = version === "2012-10-17";
  // A separate cache so an ARN pattern's static matcher is never shared with StringLike's.
  return arnTemplates[substitute ? "v" : "l"].get(pattern, () => parseTemplate(pattern, substitute));
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
