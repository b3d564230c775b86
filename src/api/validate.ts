/**
 * Input validation against the generated AWS shapes, with AWS's wording.
 *
 * validateInput walks a decoded JSON request body along its input shape:
 *  - a value of the wrong JSON type (or an undecodable blob) is a
 *    deserialization failure: CofferError "Serialization", thrown at once, as
 *    AWS stops at the first one;
 *  - modelled constraints (required, length, range, pattern, enum) are all
 *    collected and thrown together as one CofferError "Validation":
 *      "2 validation errors detected: Value null at 'name' failed to satisfy
 *       constraint: Member must not be null; Value '0' at 'maxResults' ..."
 *
 * Paths are member names with the first letter lower-cased, joined by "."; list
 * elements are "<list>.<n>.member" (1-based). Values of sensitive shapes (and of
 * anything inside a sensitive shape) are never quoted: "Value at 'secretString'
 * failed to satisfy constraint: ...". Unknown members are ignored, as AWS does.
 * JSON null counts as absent.
 */
import type { ListShape, MapShape, MemberRef, Shape, StringShape } from "../shared/shape-types.ts";
import { CofferError } from "../shared/errors.ts";

/** The largest epoch-seconds value a JavaScript Date can represent (ECMA-262: ±8.64e15 ms). */
const MAX_EPOCH_SECONDS = 8.64e12;

export function validateInput(shapes: Record<string, Shape>, shapeName: string, input: unknown): void {
  const root = shapes[shapeName];
  if (!root || root.type !== "structure") {
    throw new CofferError("Internal", `No input structure named ${shapeName}`);
  }
  const v = new Validator(shapes);
  v.value(root, input, "", false);
  if (v.violations.length > 0) {
    const n = v.violations.length;
    throw new CofferError(
      "Validation",
      `${n} validation error${n === 1 ? "" : "s"} detected: ${v.violations.join("; ")}`,
    );
  }
}

const compiled = new Map<string, RegExp | null>();

/**
 * The whole-value RegExp enforcing a string shape's pattern, or undefined when
 * the shape has none or it cannot be enforced (marked unsupported by the
 * generator, or — for hand-written shapes — it does not compile). Cached.
 *
 * AWS requires the WHOLE value to match (Java's Matcher#matches), hence the
 * ^(?:...)$ wrapper; `u` makes \p{...}, \u{...} and surrogate pairs work.
 */
export function compilePattern(shape: StringShape): RegExp | undefined {
  if (shape.pattern === undefined || shape.patternUnsupported) return undefined;
  const source = shape.jsPattern ?? shape.pattern;
  const flags = `u${shape.jsPatternFlags ?? ""}`;
  const key = `${flags}/${source}`;
  let re = compiled.get(key);
  if (re === undefined) {
    try {
      re = new RegExp(`^(?:${source})$`, flags);
    } catch {
      re = null; // not enforceable; never crash a request over a model pattern
    }
    compiled.set(key, re);
  }
  return re ?? undefined;
}

// ---------------------------------------------------------------------------

type JsonKind = "object" | "list" | "string" | "number" | "boolean" | "null" | "other";

function kindOf(value: unknown): JsonKind {
  if (value === null || value === undefined) return "null";
  if (Array.isArray(value)) return "list";
  switch (typeof value) {
    case "string":
      return "string";
    case "number":
      return "number";
    case "boolean":
      return "boolean";
    case "object":
      return "object";
    default:
      return "other";
  }
}

const TARGET_NAMES: Record<Shape["type"], string> = {
  structure: "a Structure",
  map: "a Map",
  list: "a List",
  string: "a String",
  integer: "an Integer",
  long: "a Long",
  double: "a Double",
  float: "a Float",
  boolean: "a Boolean",
  timestamp: "a Timestamp",
  blob: "a Blob",
};

function at(path: string): string {
  return path ? ` at '${path}'` : "";
}

/** AWS-style deserialization error; never includes the value itself. */
function wrongType(expected: Shape["type"], value: unknown, path: string): CofferError {
  const kind = kindOf(value);
  let message: string;
  if (kind === "object" && !(value instanceof Uint8Array) && !(value instanceof Date)) {
    message = `Start of structure or map found where not expected${at(path)}.`;
  } else if (kind === "list") {
    message = `Start of list found where not expected${at(path)}.`;
  } else {
    const token =
      kind === "string" ? "STRING_VALUE" : kind === "number" ? "NUMBER_VALUE" : kind === "boolean" ? "BOOLEAN_VALUE" : kind === "null" ? "null" : "Value";
    message = `${token} can not be converted to ${TARGET_NAMES[expected]}${at(path)}`;
  }
  return new CofferError("Serialization", message);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function memberPath(parent: string, member: string): string {
  const name = member.charAt(0).toLowerCase() + member.slice(1);
  return parent ? `${parent}.${name}` : name;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Decoded byte length of a base64 blob, or -1 when it is not valid base64.
 * Padding is optional (as with Java's decoder); whitespace is not accepted.
 */
function base64Length(s: string): number {
  if (!BASE64.test(s)) return -1;
  const pad = s.endsWith("==") ? 2 : s.endsWith("=") ? 1 : 0;
  if (pad > 0 && s.length % 4 !== 0) return -1;
  const body = s.length - pad;
  if (body % 4 === 1) return -1;
  return Math.floor((body * 3) / 4);
}

/** Structures/lists/maps deeper than this are refused (no AWS request comes close). */
const MAX_DEPTH = 64;

const LONE_SURROGATE = /\p{Cs}/u;

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

class Validator {
  readonly violations: string[] = [];
  private depth = 0;
  private readonly sensitiveCache = new Map<string, boolean>();

  constructor(private readonly shapes: Record<string, Shape>) {}

  private shape(ref: MemberRef): Shape {
    const s = this.shapes[ref.shape];
    if (!s) throw new CofferError("Internal", `Model references a missing shape ${ref.shape}`);
    return s;
  }

  /** Whether a shape, or anything reachable inside it, is sensitive. */
  private containsSensitive(shape: Shape, name?: string): boolean {
    if (shape.sensitive) return true;
    if (name !== undefined) {
      const cached = this.sensitiveCache.get(name);
      if (cached !== undefined) return cached;
      this.sensitiveCache.set(name, false); // cycle guard
    }
    let refs: MemberRef[] = [];
    if (shape.type === "structure") refs = Object.values(shape.members);
    else if (shape.type === "list") refs = [shape.member];
    else if (shape.type === "map") refs = [shape.key, shape.value];
    const result = refs.some((r) => this.containsSensitive(this.shape(r), r.shape));
    if (name !== undefined) this.sensitiveCache.set(name, result);
    return result;
  }

  private fail(path: string, shape: Shape, value: unknown, hidden: boolean, constraint: string): void {
    const shown = hidden || this.containsSensitive(shape) ? "Value" : `Value ${quote(value)}`;
    this.violations.push(`${shown} at '${path}' failed to satisfy constraint: ${constraint}`);
  }

  private notNull(path: string): void {
    this.violations.push(`Value null at '${path}' failed to satisfy constraint: Member must not be null`);
  }

  /** Validates a present (non-null) value of `shape`; `hidden`: inside a sensitive shape. */
  value(shape: Shape, value: unknown, path: string, hidden: boolean): void {
    // Recursive shapes (e.g. SSM OpsAggregator) must not let a hostile body
    // exhaust the stack.
    if (++this.depth > MAX_DEPTH) throw new CofferError("Serialization", `Input nested too deeply${at(path)}`);
    try {
      this.dispatch(shape, value, path, hidden || shape.sensitive === true);
    } finally {
      this.depth--;
    }
  }

  private dispatch(shape: Shape, value: unknown, path: string, hidden: boolean): void {
    switch (shape.type) {
      case "structure": {
        if (!isPlainObject(value)) throw wrongType("structure", value, path);
        const required = new Set(shape.required ?? []);
        for (const [name, ref] of Object.entries(shape.members)) {
          const v = Object.hasOwn(value, name) ? value[name] : undefined;
          const p = memberPath(path, name);
          if (v === undefined || v === null) {
            if (required.has(name)) this.notNull(p);
            continue;
          }
          this.value(this.shape(ref), v, p, hidden);
        }
        return;
      }
      case "list":
        return this.list(shape, value, path, hidden);
      case "map":
        return this.map(shape, value, path, hidden);
      default: {
        for (const c of this.scalar(shape, value, path)) this.fail(path, shape, value, hidden, c);
      }
    }
  }

  private list(shape: ListShape, value: unknown, path: string, hidden: boolean): void {
    if (!Array.isArray(value)) throw wrongType("list", value, path);
    for (const c of sizeConstraints(shape, value.length)) this.fail(path, shape, value, hidden, c);
    const elementShape = this.shape(shape.member);
    const scalar = isScalar(elementShape);
    // AWS reports element constraints of a scalar list once, on the list:
    // "Member must satisfy constraint: [Member must have length ..., ...]".
    const elementConstraints = new Set<string>();
    value.forEach((element, i) => {
      const p = `${path}.${i + 1}.member`;
      if (element === null || element === undefined) {
        if (scalar) elementConstraints.add("Member must not be null");
        else this.notNull(p);
        return;
      }
      if (scalar) {
        for (const c of this.scalar(elementShape, element, p)) elementConstraints.add(c);
      } else {
        this.value(elementShape, element, p, hidden);
      }
    });
    if (elementConstraints.size > 0) {
      this.fail(path, shape, value, hidden, `Member must satisfy constraint: [${[...elementConstraints].join(", ")}]`);
    }
  }

  private map(shape: MapShape, value: unknown, path: string, hidden: boolean): void {
    if (!isPlainObject(value)) throw wrongType("map", value, path);
    const entries = Object.entries(value);
    for (const c of sizeConstraints(shape, entries.length)) this.fail(path, shape, value, hidden, c);
    const keyShape = this.shape(shape.key);
    const valueShape = this.shape(shape.value);
    const scalarValues = isScalar(valueShape);
    const secret = hidden || this.containsSensitive(shape);
    const keyConstraints = new Set<string>();
    const valueConstraints = new Set<string>();
    for (const [k, v] of entries) {
      for (const c of this.scalar(keyShape, k, path)) keyConstraints.add(c);
      // Keys of a sensitive map stay out of paths too.
      const p = secret ? `${path}.member` : `${path}.${k}`;
      if (v === null || v === undefined) {
        if (scalarValues) valueConstraints.add("Member must not be null");
        else this.notNull(p);
      } else if (scalarValues) {
        for (const c of this.scalar(valueShape, v, p)) valueConstraints.add(c);
      } else {
        this.value(valueShape, v, p, hidden);
      }
    }
    if (keyConstraints.size > 0) {
      this.fail(path, shape, value, hidden, `Map keys must satisfy constraint: [${[...keyConstraints].join(", ")}]`);
    }
    if (valueConstraints.size > 0) {
      this.fail(path, shape, value, hidden, `Map value must satisfy constraint: [${[...valueConstraints].join(", ")}]`);
    }
  }

  /**
   * Type-checks a scalar (throws Serialization) and returns the constraints it
   * breaks, as "Member must ..." phrases.
   */
  private scalar(shape: Shape, value: unknown, path: string): string[] {
    const broken: string[] = [];
    switch (shape.type) {
      case "string": {
        if (typeof value !== "string") throw wrongType("string", value, path);
        // "\ud800" is valid JSON but no Unicode text: stored as UTF-8 it would turn into U+FFFD.
        if (LONE_SURROGATE.test(value)) throw new CofferError("Serialization", `Invalid Unicode text (a lone surrogate)${at(path)}`);
        // Length in UTF-16 code units, like Java's String.length(); a character
        // outside the BMP counts as 2.
        broken.push(...lengthConstraints(shape, value.length));
        const re = compilePattern(shape);
        if (re && !re.test(value)) {
          broken.push(`Member must satisfy regular expression pattern: ${shape.pattern}`);
        }
        if (shape.enum && !shape.enum.includes(value)) {
          broken.push(`Member must satisfy enum value set: [${shape.enum.join(", ")}]`);
        }
        return broken;
      }
      case "integer":
      case "long":
      case "double":
      case "float": {
        if (typeof value !== "number") throw wrongType(shape.type, value, path);
        if (!Number.isFinite(value)) throw wrongType(shape.type, value, path);
        if (shape.type === "integer" || shape.type === "long") {
          if (!Number.isInteger(value)) {
            throw new CofferError("Serialization", `NUMBER_VALUE with a fraction can not be converted to ${TARGET_NAMES[shape.type]}${at(path)}`);
          }
          if (shape.type === "integer" && (value < INT32_MIN || value > INT32_MAX)) {
            throw new CofferError("Serialization", `NUMBER_VALUE is out of range for ${TARGET_NAMES.integer}${at(path)}`);
          }
        }
        if (shape.min !== undefined && value < shape.min) {
          broken.push(`Member must have value greater than or equal to ${shape.min}`);
        }
        if (shape.max !== undefined && value > shape.max) {
          broken.push(`Member must have value less than or equal to ${shape.max}`);
        }
        return broken;
      }
      case "boolean":
        if (typeof value !== "boolean") throw wrongType("boolean", value, path);
        return broken;
      case "timestamp": {
        // awsJson sends epoch seconds; a Date is accepted for already-decoded input.
        // Seconds beyond what a Date can hold (±8.64e12) would become an Invalid Date downstream.
        const ok = (typeof value === "number" && Math.abs(value) <= MAX_EPOCH_SECONDS) || (value instanceof Date && !Number.isNaN(value.getTime()));
        if (!ok) throw wrongType("timestamp", value, path);
        return broken;
      }
      case "blob": {
        let bytes: number;
        if (typeof value === "string") {
          bytes = base64Length(value);
          if (bytes < 0) throw new CofferError("Serialization", `Invalid base64 value${at(path)}`);
        } else if (value instanceof Uint8Array) {
          bytes = value.byteLength;
        } else {
          throw wrongType("blob", value, path);
        }
        broken.push(...lengthConstraints(shape, bytes)); // decoded bytes
        return broken;
      }
      default:
        // Aggregates are not scalars; callers only pass scalar shapes here.
        throw new CofferError("Internal", `Not a scalar shape at '${path}'`);
    }
  }
}

function isScalar(shape: Shape): boolean {
  return shape.type !== "structure" && shape.type !== "list" && shape.type !== "map";
}

function lengthConstraints(shape: { min?: number; max?: number }, length: number): string[] {
  const out: string[] = [];
  if (shape.min !== undefined && length < shape.min) {
    out.push(`Member must have length greater than or equal to ${shape.min}`);
  }
  if (shape.max !== undefined && length > shape.max) {
    out.push(`Member must have length less than or equal to ${shape.max}`);
  }
  return out;
}

/** Lists and maps: AWS words their size bounds as "length" too. */
const sizeConstraints = lengthConstraints;

/** Renders a value the way AWS quotes it: 'abc', '5', '[a, b]', '{k=v}'. */
function quote(value: unknown): string {
  return `'${render(value)}'`;
}

function render(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (Array.isArray(value)) return `[${value.map(render).join(", ")}]`;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (typeof value === "object") {
    return `{${Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${k}=${render(v)}`)
      .join(", ")}}`;
  }
  return String(value);
}
