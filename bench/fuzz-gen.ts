import { cloudTrailApi } from "../src/api/cloudtrail/cloudtrail-handlers.ts";
import { cofferAdminApi } from "../src/api/coffer/coffer-handlers.ts";
import { iamApi } from "../src/api/iam/iam-handlers.ts";
import { kmsApi } from "../src/api/kms/kms-handlers.ts";
import { secretsManagerApi } from "../src/api/secretsmanager/secretsmanager-handlers.ts";
import type { Shape, Shapes } from "../src/shared/shape-types.ts";
import { ssmApi } from "../src/api/ssm/ssm-handlers.ts";
import { stsApi } from "../src/api/sts/sts-handlers.ts";
import type { ApiService } from "../src/api/api-service.ts";

/**
 * The fuzzer's raw material: a seeded PRNG, every operation Coffer serves
 * (read from the API modules themselves, so a new operation is fuzzed without
 * touching this file), and inputs built from each operation's model shape,
 * then spoilt.
 */

/** sfc32: small, fast, and the same sequence on every machine for a seed. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(seed: number, index: number) {
    this.a = seed >>> 0;
    this.b = (index * 0x9e3779b9) >>> 0;
    this.c = 0x243f6a88 ^ seed;
    this.d = 1;
    for (let i = 0; i < 15; i++) this.next();
  }
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }
  int(max: number): number {
    return Math.floor(this.next() * max);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}

export interface Operation {
  service: ApiService;
  name: string;
  /** X-Amz-Target for JSON services; undefined for Query (IAM, STS). */
  target?: string;
}

/**
 * Operations a correctly signed fuzz request never calls: they would run
 * commands, reach out to random URLs or databases from the fuzzing machine.
 * Unsigned and badly signed requests still call them (they must be refused).
 */
const NOT_SIGNED = new Set(["RegisterRotationFunction", "RotateSecret"]);

let cached: Operation[] | undefined;
export function operations(): Operation[] {
  if (cached) return cached;
  // The factories only close over their dependencies; the handlers are never called here.
  const none = {} as never;
  const apis = [
    secretsManagerApi(none, none),
    ssmApi(none),
    kmsApi(none),
    iamApi(none),
    stsApi(none),
    cofferAdminApi(none),
    cloudTrailApi(none),
  ];
  cached = apis.flatMap((service) =>
    Object.keys(service.handlers).map((name) => ({
      service,
      name,
      target: service.metadata.protocol === "query" ? undefined : `${service.metadata.targetPrefix}.${name}`,
    })),
  );
  return cached;
}

export const mayBeSigned = (op: Operation) => !NOT_SIGNED.has(op.name);

/** Names that exist on the server (fuzz.ts seeds them), so signed requests reach deep into handlers. */
export const KNOWN = {
  secret: "fuzz/known",
  parameter: "/fuzz/known",
  user: "fuzz-user",
};

const ODD_STRINGS = [
  "",
  " ",
  "\u0000",
  "null",
  "__proto__",
  "constructor",
  "../../etc/passwd",
  "%00",
  "'; DROP TABLE secrets; --",
  "${jndi:ldap://x}",
  "\u202e\u0645",
  "\ud800",
  "🔑".repeat(50),
  "a".repeat(5000),
  "*",
  "arn:aws:secretsmanager:us-east-1:000000000000:secret:fuzz/known",
  "arn:aws:iam::000000000000:role/*",
  "arn:aws:ssm:us-east-1:999999999999:parameter/x",
  "alias/aws/secretsmanager",
  "AWSCURRENT",
  "AWSPENDING",
  "/a//b",
  "a/b",
  "/aws/reference/secretsmanager/fuzz/known",
  '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}',
  "(a+)+$",
  "a*b*c*d*e*f*g*h*i*j*",
  KNOWN.secret,
  KNOWN.parameter,
  KNOWN.user,
];

const ODD_NUMBERS = [0, -1, 1, 2 ** 31, -(2 ** 31) - 1, 2 ** 53 + 1, 1e308, -0, 0.5, 99999999999];

function randomString(rng: Rng, min = 0, max = 24): string {
  const len = min + rng.int(Math.max(1, Math.min(max, 64) - min + 1));
  const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_-.:";
  let s = "";
  for (let i = 0; i < len; i++) s += alphabet[rng.int(alphabet.length)];
  return s;
}

/** A value for a shape: mostly plausible (within the model's bounds), sometimes odd, sometimes the wrong type. */
export function valueFor(shapes: Shapes, shapeName: string, rng: Rng, depth = 0): unknown {
  const shape = shapes[shapeName] as Shape | undefined;
  if (!shape || depth > 6) return null;
  if (rng.chance(0.04)) return wrongType(rng);
  switch (shape.type) {
    case "structure": {
      const out: Record<string, unknown> = {};
      const required = new Set(shape.required ?? []);
      for (const [member, ref] of Object.entries(shape.members)) {
        if (required.has(member) ? rng.chance(0.95) : rng.chance(0.4)) out[member] = valueFor(shapes, ref.shape, rng, depth + 1);
      }
      return out;
    }
    case "list": {
      const n = rng.chance(0.1) ? rng.int(40) : rng.int(4);
      return Array.from({ length: n }, () => valueFor(shapes, shape.member.shape, rng, depth + 1));
    }
    case "map": {
      const out: Record<string, unknown> = {};
      for (let i = rng.int(4); i > 0; i--) out[String(valueFor(shapes, shape.key.shape, rng, depth + 1))] = valueFor(shapes, shape.value.shape, rng, depth + 1);
      return out;
    }
    case "string":
      if (shape.enum && rng.chance(0.8)) return rng.pick(shape.enum);
      if (rng.chance(0.25)) return rng.pick(ODD_STRINGS);
      return randomString(rng, shape.min ?? 0, shape.max ?? 32);
    case "integer":
    case "long":
    case "double":
    case "float":
      return rng.chance(0.3) ? rng.pick(ODD_NUMBERS) : rng.int(120);
    case "boolean":
      return rng.chance(0.5);
    case "timestamp":
      return rng.chance(0.5) ? Math.floor(Date.now() / 1000) - rng.int(1e6) : rng.pick(["yesterday", -1, 1e20, "2024-01-01T00:00:00Z"]);
    case "blob":
      return Buffer.from(randomString(rng, 0, 40)).toString("base64");
    default:
      return null;
  }
}

function wrongType(rng: Rng): unknown {
  return rng.pick([null, true, 12, "str", [], {}, [null], { "": 1 }, 1e400, -0]);
}

/** Spoils a plausible JSON input: the hostile shapes a body can take. */
export function hostileJson(value: unknown, rng: Rng): { text: string | Buffer; how: string } {
  const input: object = value && typeof value === "object" && !Array.isArray(value) ? value : {};
  const text = JSON.stringify(input);
  switch (rng.int(16)) {
    case 0:
      return { text: text.slice(0, rng.int(text.length + 1)), how: "truncated" };
    case 1: {
      const n = rng.pick([100, 1000, 10_000, 100_000]);
      return { text: "[".repeat(n) + "]".repeat(n), how: `nested arrays ${n}` };
    }
    case 2: {
      const n = rng.pick([100, 1000, 10_000, 50_000]);
      const key = rng.pick(Object.keys(input).concat("SecretString"));
      return { text: `{"${key}":` + '{"a":'.repeat(n) + "1" + "}".repeat(n + 1), how: `nested objects ${n} in ${key}` };
    }
    case 3:
      return { text: text.replace(/:(\d+|"[^"]*")/, ":1e400"), how: "huge number" };
    case 4:
      return { text: text.replace(/:(\d+|"[^"]*")/, ":123456789012345678901234567890"), how: "big integer" };
    case 5: {
      const key = rng.pick(["__proto__", "constructor", "prototype"]);
      const inner = JSON.stringify(input);
      return { text: `{"${key}":${inner}${text.length > 2 ? "," + text.slice(1) : "}"}`, how: `${key} key` };
    }
    case 6:
      return { text: text.replace(/:(\d+|"[^"]*"|true|false|\{\}|\[\])/g, ":null"), how: "all nulls" };
    case 7: {
      // Invalid UTF-8 inside a string value.
      const at = text.indexOf('":"');
      const buf = Buffer.from(text);
      if (at < 0) return { text: Buffer.concat([Buffer.from('{"Name":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}')]), how: "invalid utf-8" };
      return { text: Buffer.concat([buf.subarray(0, at + 3), Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xed, 0xa0, 0x80]), buf.subarray(at + 3)]), how: "invalid utf-8" };
    }
    case 8:
      return { text: rng.pick(["", "null", "[]", '"str"', "1", "true", "{", "}", "{}{}", "\u0000", "{'a':1}"]), how: "not an object" };
    case 9:
      return { text: text.length > 2 ? `{${text.slice(1, -1)},${text.slice(1, -1)}}` : text, how: "duplicate keys" };
    case 10:
      return { text: JSON.stringify(Object.fromEntries(Object.keys(input).map((k) => [k, wrongType(rng)]))), how: "wrong types" };
    case 11: {
      const size = rng.pick([70_000, 300_000]);
      return { text: JSON.stringify({ ...input, SecretString: "x".repeat(size), Value: "v".repeat(size) }), how: `long values ${size}` };
    }
    case 12:
      return { text: "{" + Array.from({ length: 20_000 }, (_, i) => `"k${i}":${i}`).join(",") + "}", how: "many keys" };
    case 13:
      return { text: text.replace(/"([A-Za-z]+)":/, '"$1\\u0000":'), how: "nul in key" };
    default:
      return { text, how: "plausible" };
  }
}

/** IAM/STS: a Query body (Action=...&Version=...), from the same plausible input. */
export function queryBody(action: string, version: string, input: unknown, rng: Rng): string {
  const params = new URLSearchParams({ Action: action, Version: version });
  const add = (prefix: string, value: unknown, depth: number) => {
    if (depth > 4) return;
    if (Array.isArray(value)) value.forEach((v, i) => add(`${prefix}.member.${i + 1}`, v, depth + 1));
    else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) add(prefix ? `${prefix}.${k}` : k, v, depth + 1);
    else params.append(prefix, String(value));
  };
  add("", input, 0);
  let text = params.toString();
  switch (rng.int(8)) {
    case 0:
      text += "&Action=GetCallerIdentity"; // a repeated Action
      break;
    case 1:
      text += "&" + "%ff%fe=%c3%28";
      break;
    case 2:
      text = text.replace(/Action=[^&]*/, "Action=");
      break;
    case 3:
      text += "&" + Array.from({ length: 5000 }, (_, i) => `P${i}=1`).join("&");
      break;
    case 4:
      text += "&__proto__=x&constructor.prototype=y";
      break;
  }
  return text;
}
