/**
 * Generates src/api/<service>/generated/{shapes,operations,types}.ts from the
 * botocore service models in ../shared/reference/aws-models (override with
 * env COFFER_AWS_MODELS). Facts only: no documentation prose.
 *
 *   npm run codegen              write the files (only those that changed)
 *   npm run codegen -- --check   exit 1 listing files that are out of date
 *   npm run codegen -- --report  also print the regex patterns that needed translation
 *
 * See tools/codegen/README.md.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const SERVICES = ["secretsmanager", "ssm", "kms", "sts", "iam", "cloudtrail"] as const;
export type ServiceName = (typeof SERVICES)[number];

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

export function defaultModelsDir(): string {
  const fromEnv = process.env.COFFER_AWS_MODELS;
  if (fromEnv) return path.resolve(fromEnv);
  return fileURLToPath(new URL("../../../shared/reference/aws-models/", import.meta.url));
}

// ---------------------------------------------------------------------------
// Model types (only the parts we read)

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

interface Model {
  metadata: JsonObject;
  operations: Record<string, JsonObject>;
  shapes: Record<string, JsonObject>;
}

// ---------------------------------------------------------------------------
// Java regex -> ECMAScript translation

export interface TranslatedPattern {
  /** ECMAScript source, unanchored (like the Java original). */
  source: string;
  /** Flags besides "u" (always used), lifted from Java inline flags. */
  flags: string;
}

export class UnsupportedPatternError extends Error {}

/** POSIX classes Java supports as \p{Name}; ASCII-only in Java by default. */
const POSIX_CLASSES: Record<string, string> = {
  Lower: "a-z",
  Upper: "A-Z",
  ASCII: "\\x00-\\x7F",
  Alpha: "a-zA-Z",
  Digit: "0-9",
  Alnum: "a-zA-Z0-9",
  Punct: "!-\\/:-@\\[-`{-~",
  Graph: "!-~",
  Print: " -~",
  Blank: " \\t",
  Cntrl: "\\x00-\\x1F\\x7F",
  XDigit: "0-9a-fA-F",
  Space: " \\t\\n\\x0B\\f\\r",
};

/** Java's \s is ASCII whitespace only; JavaScript's also matches Unicode spaces. */
const JAVA_SPACE = "\\t\\n\\x0B\\f\\r ";

/** Java's \S as class ranges (the complement of JAVA_SPACE), usable inside a class. */
const JAVA_NON_SPACE = "\\x00-\\x08\\x0E-\\x1F!-\\u{10FFFF}";

const JS_SYNTAX_CHARS = new Set("^$\\.*+?()[]{}|/");

function isHex(c: string | undefined): boolean {
  return c !== undefined && /^[0-9a-fA-F]$/.test(c);
}

function codePointEscape(cp: number): string {
  return `\\u{${cp.toString(16).toUpperCase()}}`;
}

/** Escapes one literal character for use inside or outside a JS (u-mode) class. */
function literal(ch: string, inClass: boolean): string {
  if (JS_SYNTAX_CHARS.has(ch) || (inClass && ch === "-")) return `\\${ch}`;
  return ch;
}

function countCapturingGroups(p: string): number {
  let n = 0;
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === "\\") {
      if (p[i + 1] === "Q") {
        const end = p.indexOf("\\E", i + 2);
        i = end < 0 ? p.length : end + 1;
      } else i++;
      continue;
    }
    if (inClass) {
      if (c === "]") inClass = false;
      continue;
    }
    if (c === "[") inClass = true;
    else if (c === "(") {
      if (p[i + 1] !== "?") n++;
      else if (p[i + 2] === "<" && p[i + 3] !== "=" && p[i + 3] !== "!") n++; // (?<name>
    }
  }
  return n;
}

/**
 * Translates a Java regular expression (as found in AWS models) into an
 * ECMAScript source to be compiled with the `u` flag. Throws
 * UnsupportedPatternError for constructs without a JS equivalent.
 *
 * Translations:
 * - leading inline flags `(?i)`, `(?s)`, `(?m)` become RegExp flags;
 * - `\A` -> `^`, `\z` -> `$`, `\Z` -> `(?=\n?$)`;
 * - escapes of non-syntax punctuation (`\!`, `\=`, `\:`, `\-` outside a class...)
 *   are dropped: u-mode rejects them, Java treats them as the plain character;
 * - `-` next to a class escape inside a class (`[\w-\/]`) is a literal in Java
 *   and an error in u-mode: it becomes `\-`;
 * - `\s` becomes Java's ASCII whitespace set;
 * - `\pL`, `\p{IsL}`, POSIX `\p{Alpha}` etc. become JS forms;
 * - `\xhh`, `\x{h..h}`, `\0ooo`, `\a`, `\e`, `\Q...\E` become JS forms;
 * - `\uXXXXX`/`\uXXXXXX` naming a supplementary code point (`\u10000-\u10FFFF`)
 *   becomes `\u{...}`. Java reads that as `\u1000` followed by `0`; the models
 *   plainly mean the code point, so we follow the intent (more permissive);
 * - possessive quantifiers (`*+`, `++`, `?+`, `{n,m}+`) lose the `+`
 *   (can only accept more than Java does, never less);
 * - multi-digit back references follow Java's rule (longest number that names
 *   an existing group).
 * Not supported (throws): nested classes / `&&` intersections, atomic groups,
 * scoped or mid-pattern inline flags, `\G`, `\R`, `\X`, `\h`, `\v`, Java-only
 * property classes (`\p{javaLowerCase}`, `\p{InBlock}`), comments mode.
 */
export function javaRegexToJs(pattern: string): TranslatedPattern {
  let flags = "";
  let i = 0;
  const lead = /^\(\?([a-zA-Z]+)\)/.exec(pattern);
  if (lead) {
    for (const f of lead[1]) {
      if (f === "i" || f === "s" || f === "m") {
        if (!flags.includes(f)) flags += f;
      } else if (f === "u" || f === "d") {
        // unicode-case / unix-lines: no useful JS counterpart, harmless to drop
      } else throw new UnsupportedPatternError(`inline flag (?${f})`);
    }
    i = lead[0].length;
  }

  const groupCount = countCapturingGroups(pattern);
  let out = "";
  const p = pattern;

  /** Reads the escape at p[i] === "\\"; returns the class-atom info. */
  function readEscape(inClass: boolean): { text: string; single: boolean } {
    const c = p[i + 1];
    if (c === undefined) throw new UnsupportedPatternError("trailing backslash");
    i += 2;
    switch (c) {
      case "u": {
        // Supplementary code point written with 5 or 6 hex digits (intent, see above).
        for (const len of [6, 5]) {
          const hex = p.slice(i, i + len);
          if (hex.length === len && [...hex].every(isHex) && !isHex(p[i + len])) {
            const cp = parseInt(hex, 16);
            if (cp >= 0x10000 && cp <= 0x10ffff) {
              i += len;
              return { text: codePointEscape(cp), single: true };
            }
          }
        }
        const hex = p.slice(i, i + 4);
        if (hex.length !== 4 || ![...hex].every(isHex)) throw new UnsupportedPatternError("bad \\u escape");
        i += 4;
        return { text: `\\u${hex}`, single: true };
      }
      case "x": {
        if (p[i] === "{") {
          const end = p.indexOf("}", i);
          const hex = p.slice(i + 1, end);
          if (end < 0 || !/^[0-9a-fA-F]+$/.test(hex)) throw new UnsupportedPatternError("bad \\x{} escape");
          i = end + 1;
          return { text: codePointEscape(parseInt(hex, 16)), single: true };
        }
        const hex = p.slice(i, i + 2);
        if (hex.length !== 2 || ![...hex].every(isHex)) throw new UnsupportedPatternError("bad \\x escape");
        i += 2;
        return { text: `\\x${hex}`, single: true };
      }
      case "0": {
        const m = /^[0-3]?[0-7]{1,2}/.exec(p.slice(i));
        if (!m) throw new UnsupportedPatternError("bad octal escape");
        i += m[0].length;
        return { text: codePointEscape(parseInt(m[0], 8)), single: true };
      }
      case "t":
      case "n":
      case "r":
      case "f":
        return { text: `\\${c}`, single: true };
      case "a":
        return { text: "\\x07", single: true };
      case "e":
        return { text: "\\x1B", single: true };
      case "c": {
        const ch = p[i];
        if (ch === undefined || !/[A-Za-z]/.test(ch)) throw new UnsupportedPatternError("bad \\c escape");
        i++;
        return { text: `\\c${ch}`, single: true };
      }
      case "d":
      case "D":
      case "w":
      case "W":
        return { text: `\\${c}`, single: false };
      case "s":
        return { text: inClass ? JAVA_SPACE : `[${JAVA_SPACE}]`, single: false };
      case "S":
        return { text: inClass ? JAVA_NON_SPACE : `[^${JAVA_SPACE}]`, single: false };
      case "b":
      case "B":
        if (inClass) throw new UnsupportedPatternError("\\b inside a class");
        return { text: `\\${c}`, single: false };
      case "A":
      case "z":
      case "Z":
        if (inClass) throw new UnsupportedPatternError(`\\${c} inside a class`);
        return { text: c === "A" ? "^" : c === "z" ? "$" : "(?=\\n?$)", single: false };
      case "p":
      case "P": {
        let name: string;
        if (p[i] === "{") {
          const end = p.indexOf("}", i);
          if (end < 0) throw new UnsupportedPatternError("unterminated \\p{");
          name = p.slice(i + 1, end);
          i = end + 1;
        } else {
          name = p[i] ?? "";
          i++;
        }
        const negated = c === "P";
        if (name.startsWith("Is")) name = name.slice(2);
        const posix = POSIX_CLASSES[name];
        if (posix !== undefined) {
          if (inClass) {
            if (negated) throw new UnsupportedPatternError(`\\P{${name}} inside a class`);
            return { text: posix, single: false };
          }
          return { text: negated ? `[^${posix}]` : `[${posix}]`, single: false };
        }
        if (/^[A-Z][a-z]?$/.test(name) || /^(gc|general_category|sc|script|Script)=/.test(name)) {
          const text = `\\${c}{${name}}`;
          try {
            new RegExp(text, "u");
          } catch {
            throw new UnsupportedPatternError(`unicode property ${name}`);
          }
          return { text, single: false };
        }
        // Script names: \p{IsLatin} -> \p{Script=Latin}
        if (/^[A-Z][A-Za-z_]+$/.test(name)) {
          const text = `\\${c}{Script=${name}}`;
          try {
            new RegExp(text, "u");
            return { text, single: false };
          } catch {
            // fall through
          }
        }
        throw new UnsupportedPatternError(`property class \\p{${name}}`);
      }
      case "k": {
        const m = /^<([A-Za-z][A-Za-z0-9]*)>/.exec(p.slice(i));
        if (!m || inClass) throw new UnsupportedPatternError("bad \\k escape");
        i += m[0].length;
        return { text: `\\k${m[0]}`, single: false };
      }
      default:
        break;
    }
    if (/[1-9]/.test(c)) {
      if (inClass) throw new UnsupportedPatternError("back reference inside a class");
      let num = c;
      while (/[0-9]/.test(p[i] ?? "") && Number(num + p[i]) <= groupCount) num += p[i++];
      if (Number(num) > groupCount) throw new UnsupportedPatternError(`back reference \\${num} to a missing group`);
      // Wrap so a following digit is not read as part of the number.
      return { text: /[0-9]/.test(p[i] ?? "") ? `(?:\\${num})` : `\\${num}`, single: false };
    }
    if (/[A-Za-z0-9]/.test(c)) throw new UnsupportedPatternError(`escape \\${c}`);
    // Escaped punctuation or other character: a literal.
    return { text: literal(c, inClass), single: true };
  }

  function readClass(): void {
    // p[i] === "["
    i++;
    let text = "[";
    if (p[i] === "^") {
      text += "^";
      i++;
    }
    type Atom = { text: string; single: boolean; dash?: boolean };
    const atoms: Atom[] = [];
    let first = true;
    for (;;) {
      const c = p[i];
      if (c === undefined) throw new UnsupportedPatternError("unterminated character class");
      if (c === "]" && !first) {
        i++;
        break;
      }
      if (c === "[") throw new UnsupportedPatternError("nested character class");
      if (c === "&" && p[i + 1] === "&") throw new UnsupportedPatternError("class intersection");
      if (c === "\\") {
        if (p[i + 1] === "Q") {
          const end = p.indexOf("\\E", i + 2);
          const lit = p.slice(i + 2, end < 0 ? p.length : end);
          for (const ch of lit) atoms.push({ text: literal(ch, true), single: true });
          i = end < 0 ? p.length : end + 2;
        } else atoms.push(readEscape(true));
      } else if (c === "-") {
        atoms.push({ text: "-", single: true, dash: true });
        i++;
      } else {
        const cp = p.codePointAt(i)!;
        const ch = String.fromCodePoint(cp);
        atoms.push({ text: c === "]" ? "\\]" : ch, single: true });
        i += ch.length;
      }
      first = false;
    }
    // A "-" is a range only between two single characters. Java reads any other
    // "-" as a literal; u-mode accepts a bare "-" only first or last in the class.
    let prevEndsRange = false;
    for (let k = 0; k < atoms.length; k++) {
      const a = atoms[k];
      if (!a.dash) {
        text += a.text;
        prevEndsRange = false;
        continue;
      }
      const prev = k > 0 ? atoms[k - 1] : undefined;
      const next = atoms[k + 1];
      if (prev && next && prev.single && !prev.dash && !prevEndsRange && next.single && !next.dash) {
        text += "-" + next.text;
        k++;
        prevEndsRange = true;
      } else {
        // First, last, or right after a range: a literal in both dialects.
        const bare = prev === undefined || next === undefined || (prevEndsRange && !next.dash);
        text += bare ? "-" : "\\-";
        prevEndsRange = false;
      }
    }
    out += text + "]";
  }

  while (i < p.length) {
    const c = p[i];
    if (c === "\\") {
      if (p[i + 1] === "Q") {
        const end = p.indexOf("\\E", i + 2);
        const lit = p.slice(i + 2, end < 0 ? p.length : end);
        for (const ch of lit) out += literal(ch, false);
        i = end < 0 ? p.length : end + 2;
      } else out += readEscape(false).text;
      continue;
    }
    if (c === "[") {
      readClass();
      continue;
    }
    if (c === "(") {
      if (p[i + 1] === "?") {
        const rest = p.slice(i + 2);
        if (/^(:|=|!|<=|<!)/.test(rest)) {
          // non-capturing group / lookaround: same syntax
        } else if (/^<[A-Za-z][A-Za-z0-9]*>/.test(rest)) {
          // named group: same syntax
        } else if (rest.startsWith(">")) {
          throw new UnsupportedPatternError("atomic group");
        } else {
          throw new UnsupportedPatternError("inline flags inside the pattern");
        }
      }
      out += "(";
      i++;
      continue;
    }
    if (c === "*" || c === "+" || c === "?" || c === "{") {
      let q = c;
      i++;
      if (c === "{") {
        const m = /^(\d+)(,(\d*))?\}/.exec(p.slice(i));
        if (!m) throw new UnsupportedPatternError("bad repetition");
        q += m[0];
        i += m[0].length;
      }
      if (p[i] === "?") {
        q += "?"; // lazy: same syntax
        i++;
      } else if (p[i] === "+") {
        i++; // possessive: approximated as greedy
      }
      out += q;
      continue;
    }
    if (c === "]" || c === "}") {
      out += `\\${c}`; // a literal in Java, an error in u-mode
      i++;
      continue;
    }
    const ch = String.fromCodePoint(p.codePointAt(i)!);
    out += ch;
    i += ch.length;
  }
  return { source: out, flags };
}

/** Anchored (whole-value) RegExp for a translated pattern, as the validator builds it. */
export function compileTranslated(t: TranslatedPattern): RegExp {
  return new RegExp(`^(?:${t.source})$`, `u${t.flags}`);
}

// ---------------------------------------------------------------------------
// Shape conversion

/** Model keys deliberately not carried over (prose, or SDK-only hints). */
const IGNORED_KEYS = new Set(["documentation", "documentationUrl", "deprecatedMessage", "deprecatedSince", "box", "wrapper"]);

const MEMBER_KEYS = [
  "shape",
  "locationName",
  "queryName",
  "location",
  "xmlAttribute",
  "xmlNamespace",
  "flattened",
  "timestampFormat",
  "jsonvalue",
  "idempotencyToken",
  "deprecated",
] as const;

const COMMON_KEYS = ["sensitive", "deprecated", "locationName", "xmlNamespace"] as const;

/** Output key order per shape type (members of `type`). */
const SHAPE_KEYS: Record<string, readonly string[]> = {
  structure: ["members", "required", "union", "exception", "fault", "error", "payload"],
  list: ["member", "min", "max", "flattened"],
  map: ["key", "value", "min", "max", "flattened"],
  string: ["min", "max", "pattern", "enum"],
  integer: ["min", "max"],
  long: ["min", "max"],
  double: ["min", "max"],
  float: ["min", "max"],
  boolean: [],
  timestamp: ["timestampFormat"],
  blob: ["min", "max", "streaming"],
};

export interface PatternNote {
  service: string;
  shape: string;
  pattern: string;
  /** The translation, or undefined when the pattern is unsupported. */
  js?: TranslatedPattern;
  reason?: string;
}

function unknownKey(where: string, key: string): never {
  throw new Error(
    `codegen: unhandled model key "${key}" at ${where}; add it to the kept keys (or IGNORED_KEYS) in tools/codegen/codegen.ts`,
  );
}

function convertMemberRef(ref: JsonObject, where: string): JsonObject {
  for (const k of Object.keys(ref)) {
    if (!IGNORED_KEYS.has(k) && !(MEMBER_KEYS as readonly string[]).includes(k)) unknownKey(where, k);
  }
  const out: JsonObject = {};
  for (const k of MEMBER_KEYS) if (ref[k] !== undefined) out[k] = ref[k];
  return out;
}

function convertShape(
  service: string,
  name: string,
  s: JsonObject,
  notes: PatternNote[],
): { shape: JsonObject; comment?: string } {
  const type = s.type as string;
  const keys = SHAPE_KEYS[type];
  if (!keys) throw new Error(`codegen: shape ${service}.${name} has unknown type "${type}"`);
  for (const k of Object.keys(s)) {
    if (k !== "type" && !IGNORED_KEYS.has(k) && !keys.includes(k) && !(COMMON_KEYS as readonly string[]).includes(k)) {
      unknownKey(`${service}.${name}`, k);
    }
  }
  const out: JsonObject = { type };
  let comment: string | undefined;
  for (const k of keys) {
    const v = s[k];
    if (v === undefined) continue;
    if (k === "members") {
      const members: JsonObject = {};
      for (const [m, ref] of Object.entries(v as JsonObject)) {
        members[m] = convertMemberRef(ref as JsonObject, `${service}.${name}.${m}`);
      }
      out.members = members;
    } else if (k === "member" || k === "key" || k === "value") {
      out[k] = convertMemberRef(v as JsonObject, `${service}.${name}.${k}`);
    } else if (k === "pattern") {
      const pattern = v as string;
      out.pattern = pattern;
      try {
        const js = javaRegexToJs(pattern);
        compileTranslated(js); // must compile, or it is not enforced
        if (js.source !== pattern) out.jsPattern = js.source;
        if (js.flags) out.jsPatternFlags = js.flags;
        if (js.source !== pattern || js.flags) notes.push({ service, shape: name, pattern, js });
      } catch (err) {
        // A pattern JavaScript cannot express is kept for reference but marked
        // unsupported: the validator skips it rather than crash or misjudge.
        const reason = err instanceof Error ? err.message : String(err);
        out.patternUnsupported = true;
        comment = `pattern not enforced: ${reason}`;
        notes.push({ service, shape: name, pattern, reason });
      }
    } else {
      out[k] = v;
    }
  }
  for (const k of COMMON_KEYS) if (s[k] !== undefined) out[k] = s[k];
  return { shape: out, comment };
}

// ---------------------------------------------------------------------------
// Rendering

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const MAX_WIDTH = 100;

function tsKey(k: string): string {
  return IDENT.test(k) ? k : JSON.stringify(k);
}

function inline(v: Json | undefined): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(inline).join(", ")}]`;
  const entries = Object.entries(v);
  if (entries.length === 0) return "{}";
  return `{ ${entries.map(([k, x]) => `${tsKey(k)}: ${inline(x)}`).join(", ")} }`;
}

/** Renders a JSON value as a TS literal; `prefix` is what precedes it on its first line. */
function render(v: Json, indent: string, prefix: string, suffix: string): string {
  const one = inline(v);
  if (v === null || typeof v !== "object" || indent.length + prefix.length + one.length + suffix.length <= MAX_WIDTH) {
    return `${indent}${prefix}${one}${suffix}`;
  }
  const inner = indent + "  ";
  const lines: string[] = [];
  if (Array.isArray(v)) {
    lines.push(`${indent}${prefix}[`);
    for (const x of v) lines.push(render(x, inner, "", ","));
    lines.push(`${indent}]${suffix}`);
  } else {
    lines.push(`${indent}${prefix}{`);
    for (const [k, x] of Object.entries(v)) lines.push(render(x, inner, `${tsKey(k)}: `, ","));
    lines.push(`${indent}}${suffix}`);
  }
  return lines.join("\n");
}

function header(modelFile: string): string {
  return `// Generated by tools/codegen/codegen.ts from ${modelFile} — do not edit.\n`;
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function renderShapes(service: string, modelFile: string, model: Model, notes: PatternNote[]): string {
  const lines = [header(modelFile), `import type { Shape } from "../../../shared/shape-types.ts";`, ""];
  lines.push("export const shapes: Record<string, Shape> = {");
  for (const name of Object.keys(model.shapes).sort(byName)) {
    const { shape, comment } = convertShape(service, name, model.shapes[name], notes);
    if (comment) lines.push(`  // ${comment}`);
    lines.push(render(shape, "  ", `${tsKey(name)}: `, ","));
  }
  lines.push("};", "");
  return lines.join("\n");
}

const OP_KEYS = new Set(["name", "http", "input", "output", "errors", "documentation", "documentationUrl", "idempotent", "readonly", "auth", "authtype", "deprecated", "deprecatedMessage", "endpoint", "httpChecksum", "requestcompression", "staticContextParams", "endpointdiscovery", "endpointoperation"]);

// ---------------------------------------------------------------------------
// Audit facts: readOnly and resources of each operation

/**
 * CloudTrail's readOnly, which the models do not carry: reads by name, and
 * KMS's cryptographic operations (they change nothing). A model's own
 * `readonly: true` counts too.
 */
const READ_ONLY_NAME = /^(Get|List|Describe|Lookup|BatchGet|Validate)/;
const READ_ONLY_OPERATIONS: Partial<Record<ServiceName, readonly string[]>> = {
  kms: ["Encrypt", "Decrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncrypt"],
};

export function isReadOnlyOperation(service: ServiceName, name: string, op: JsonObject = {}): boolean {
  return op.readonly === true || READ_ONLY_NAME.test(name) || (READ_ONLY_OPERATIONS[service] ?? []).includes(name);
}

interface ResourceRule {
  member: string;
  from?: "output";
  type: string;
  /** Only when the member's shape is this one (SSM's "Name" also names documents, windows...). */
  shape?: string;
  fallback?: boolean;
}

const SECRET = "AWS::SecretsManager::Secret";
const PARAMETER = "AWS::SSM::Parameter";
const KEY = "AWS::KMS::Key";

/**
 * The members that name resources, per service, in the order an event lists
 * them: what the models cannot say. Input members are top-level; output
 * members are paths of ARNs. An answer holds the exact ARN (a secret's with
 * its random suffix), so an input marked `fallback` is recorded only when the
 * answer names none of its type.
 */
const RESOURCE_MEMBERS: Partial<Record<ServiceName, readonly ResourceRule[]>> = {
  secretsmanager: [
    { member: "ARN", from: "output", type: SECRET },
    { member: "SecretValues.ARN", from: "output", type: SECRET },
    { member: "SecretId", type: SECRET, fallback: true },
    { member: "SecretIdList", type: SECRET },
  ],
  ssm: [
    { member: "Name", type: PARAMETER, shape: "PSParameterName" },
    { member: "ResourceId", type: PARAMETER, shape: "ResourceId" },
    { member: "Names", type: PARAMETER, shape: "ParameterNameList" },
    { member: "Path", type: PARAMETER, shape: "PSParameterName" },
    // A read through /aws/reference/secretsmanager/ answers with the secret's ARN: the secret was read too.
    { member: "Parameter.ARN", from: "output", type: SECRET },
    { member: "Parameters.ARN", from: "output", type: SECRET },
  ],
  kms: [
    { member: "KeyMetadata.Arn", from: "output", type: KEY },
    { member: "KeyId", from: "output", type: KEY },
    { member: "KeyId", type: KEY, fallback: true },
  ],
  iam: [
    { member: "UserName", type: "AWS::IAM::User" },
    { member: "RoleName", type: "AWS::IAM::Role" },
    { member: "OpenIDConnectProviderArn", from: "output", type: "AWS::IAM::OIDCProvider" },
    { member: "OpenIDConnectProviderArn", type: "AWS::IAM::OIDCProvider", fallback: true },
    { member: "Policy.Arn", from: "output", type: "AWS::IAM::Policy" },
    { member: "PolicyArn", type: "AWS::IAM::Policy", fallback: true },
    { member: "PermissionsBoundary", type: "AWS::IAM::Policy", shape: "arnType" },
    { member: "GroupName", type: "AWS::IAM::Group" },
  ],
  sts: [{ member: "RoleArn", type: "AWS::IAM::Role" }],
};

/** The shape a member path reaches from `shapeName`, crossing lists; undefined when the path does not exist. */
function shapeAt(model: Model, shapeName: string, path: string[]): string | undefined {
  let name: string | undefined = shapeName;
  for (const step of path) {
    let shape = name === undefined ? undefined : model.shapes[name];
    while (shape?.type === "list") {
      name = (shape.member as JsonObject).shape as string;
      shape = model.shapes[name];
    }
    const members = shape?.members as Record<string, JsonObject> | undefined;
    name = members?.[step]?.shape as string | undefined;
    if (name === undefined) return undefined;
  }
  return name;
}

function resourcesOf(service: ServiceName, model: Model, input?: string, output?: string): JsonObject[] {
  const refs: JsonObject[] = [];
  for (const rule of RESOURCE_MEMBERS[service] ?? []) {
    const root = rule.from === "output" ? output : input;
    const shapeName = root === undefined ? undefined : shapeAt(model, root, rule.member.split("."));
    if (shapeName === undefined || (rule.shape !== undefined && rule.shape !== shapeName)) continue;
    const ref: JsonObject = { member: rule.member };
    if (rule.from) ref.from = rule.from;
    ref.type = rule.type;
    if (rule.fallback) ref.fallback = true;
    refs.push(ref);
  }
  return refs;
}

function renderOperations(service: ServiceName, modelFile: string, model: Model): string {
  const md = model.metadata;
  const meta: JsonObject = {
    protocol: md.protocol as string,
    apiVersion: md.apiVersion as string,
    endpointPrefix: md.endpointPrefix as string,
    // botocore: signingName defaults to endpointPrefix
    signingName: (md.signingName ?? md.endpointPrefix) as string,
    serviceId: md.serviceId as string,
  };
  for (const k of ["targetPrefix", "jsonVersion", "xmlNamespace", "globalEndpoint"]) {
    if (md[k] !== undefined) meta[k] = md[k];
  }
  const ops: JsonObject = {};
  for (const name of Object.keys(model.operations).sort(byName)) {
    const op = model.operations[name];
    for (const k of Object.keys(op)) if (!OP_KEYS.has(k)) unknownKey(`operation ${name}`, k);
    const spec: JsonObject = {};
    const input = op.input as JsonObject | undefined;
    const output = op.output as JsonObject | undefined;
    if (input) spec.input = input.shape as string;
    if (output) spec.output = output.shape as string;
    if (output?.resultWrapper) spec.resultWrapper = output.resultWrapper as string;
    spec.errors = ((op.errors ?? []) as JsonObject[]).map((e) => e.shape as string);
    spec.readOnly = isReadOnlyOperation(service, name, op);
    const resources = resourcesOf(service, model, input?.shape as string | undefined, output?.shape as string | undefined);
    if (resources.length) spec.resources = resources;
    if (op.authtype === "none" || (Array.isArray(op.auth) && op.auth.includes("smithy.api#noAuth"))) spec.noAuth = true;
    ops[name] = spec;
  }
  return [
    header(modelFile),
    `import type { OperationSpec, ServiceMetadata } from "../../../shared/shape-types.ts";`,
    "",
    render(meta, "", "export const metadata = ", " as const satisfies ServiceMetadata;"),
    "",
    render(ops, "", "export const operations = ", " as const satisfies Record<string, OperationSpec>;"),
    "",
    "export type OperationName = keyof typeof operations;",
    "",
  ].join("\n");
}

/** Names our generated types.ts needs from the global scope; never shadow them. */
const RESERVED_TYPE_NAMES = new Set(["Date", "Uint8Array", "Record", "Array", "string", "number", "boolean"]);

function renderTypes(modelFile: string, model: Model): string {
  const shapes = model.shapes;
  const emitted = new Map<string, string>(); // shape name -> TS type name
  for (const name of Object.keys(shapes)) {
    const s = shapes[name];
    if (s.type === "structure" || (s.type === "string" && s.enum)) {
      let tsName = name;
      while (RESERVED_TYPE_NAMES.has(tsName) || (tsName !== name && shapes[tsName])) tsName += "_";
      emitted.set(name, tsName);
    }
  }
  const typeOf = (shapeName: string): string => {
    const named = emitted.get(shapeName);
    if (named) return named;
    const s = shapes[shapeName];
    if (!s) throw new Error(`codegen: reference to missing shape ${shapeName}`);
    switch (s.type) {
      case "string":
        return "string";
      case "integer":
      case "long":
      case "double":
      case "float":
        return "number";
      case "boolean":
        return "boolean";
      case "timestamp":
        return "Date";
      case "blob":
        return "Uint8Array";
      case "list":
        return `${typeOf((s.member as JsonObject).shape as string)}[]`;
      case "map":
        return `Record<string, ${typeOf((s.value as JsonObject).shape as string)}>`;
      default:
        throw new Error(`codegen: no TS type for ${shapeName} (${String(s.type)})`);
    }
  };
  const lines = [header(modelFile)];
  const names = [...emitted.keys()].sort(byName);
  for (const name of names) {
    const s = shapes[name];
    const tsName = emitted.get(name)!;
    if (s.type === "string") {
      const values = (s.enum as string[]).map((v) => JSON.stringify(v));
      const one = `export type ${tsName} = ${values.join(" | ")};`;
      if (one.length <= MAX_WIDTH) lines.push(one);
      else lines.push(`export type ${tsName} =`, ...values.map((v, k) => `  | ${v}${k === values.length - 1 ? ";" : ""}`));
      lines.push("");
      continue;
    }
    const members = Object.entries(s.members as JsonObject);
    const required = new Set((s.required ?? []) as string[]);
    if (members.length === 0) {
      lines.push(`export interface ${tsName} {}`, "");
      continue;
    }
    lines.push(`export interface ${tsName} {`);
    for (const [m, ref] of members) {
      const r = ref as JsonObject;
      if (r.deprecated) lines.push("  /** @deprecated */");
      lines.push(`  ${tsKey(m)}${required.has(m) ? "" : "?"}: ${typeOf(r.shape as string)};`);
    }
    lines.push("}", "");
  }
  return lines.join("\n");
}

// ---------------------------------------------------------------------------
// Driver

export interface GeneratedFile {
  /** Path relative to the repository root, with "/" separators. */
  path: string;
  content: string;
}

export interface GenerateResult {
  files: GeneratedFile[];
  patterns: PatternNote[];
}

export function generateAll(modelsDir: string = defaultModelsDir()): GenerateResult {
  const files: GeneratedFile[] = [];
  const patterns: PatternNote[] = [];
  for (const service of SERVICES) {
    const modelFile = `${service}.service-2.json`;
    const full = path.join(modelsDir, modelFile);
    if (!existsSync(full)) throw new Error(`codegen: model not found: ${full} (set COFFER_AWS_MODELS?)`);
    const model = JSON.parse(readFileSync(full, "utf8")) as Model;
    const dir = `src/api/${service}/generated`;
    files.push({ path: `${dir}/shapes.ts`, content: renderShapes(service, modelFile, model, patterns) });
    files.push({ path: `${dir}/operations.ts`, content: renderOperations(service, modelFile, model) });
    files.push({ path: `${dir}/types.ts`, content: renderTypes(modelFile, model) });
  }
  return { files, patterns };
}

/** Paths (relative to root) whose content on disk differs from `files`. */
export function staleFiles(files: GeneratedFile[], root: string = REPO_ROOT): string[] {
  const stale: string[] = [];
  for (const f of files) {
    const full = path.join(root, f.path);
    const current = existsSync(full) ? readFileSync(full, "utf8") : undefined;
    if (current !== f.content) stale.push(f.path);
  }
  return stale;
}

function main(argv: string[]): number {
  const check = argv.includes("--check");
  const report = argv.includes("--report");
  const { files, patterns } = generateAll();
  if (report) {
    for (const n of patterns) {
      const to = n.js ? `${n.js.flags ? `(flags ${n.js.flags}) ` : ""}${n.js.source}` : `UNSUPPORTED: ${n.reason}`;
      console.log(`${n.service}.${n.shape}\n  java: ${n.pattern}\n  js:   ${to}`);
    }
  }
  const stale = staleFiles(files);
  if (check) {
    if (stale.length > 0) {
      console.error(`codegen --check: ${stale.length} generated file(s) out of date; run npm run codegen:`);
      for (const p of stale) console.error(`  ${p}`);
      return 1;
    }
    console.log(`codegen --check: ${files.length} generated files up to date.`);
    return 0;
  }
  for (const f of files) {
    if (!stale.includes(f.path)) continue;
    const full = path.join(REPO_ROOT, f.path);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, f.content);
  }
  console.log(`codegen: ${stale.length} of ${files.length} files written.`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 2;
  }
}
