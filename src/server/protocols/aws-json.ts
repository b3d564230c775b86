import type { Shapes } from "../../shared/shape-types.ts";
import { CofferError } from "../../shared/errors.ts";

/**
 * The awsJson 1.1 codec. It knows shapes, not services: requests are parsed
 * into plain objects whose blobs are Buffers and timestamps Dates; outputs are
 * written with timestamps as epoch seconds and blobs as base64.
 */

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Bytes that are not UTF-8 are refused, never replaced with U+FFFD: a secret
 * stored altered is worse than one refused.
 */
export function decodeUtf8(body: Buffer | Uint8Array, what = "The request body"): string {
  try {
    return utf8.decode(body);
  } catch {
    throw new CofferError("Serialization", `${what} is not valid UTF-8.`);
  }
}

export function parseJsonBody(body: Buffer): Record<string, unknown> {
  // An empty body is an empty input, as the protocol requires.
  if (body.length === 0) return {};
  const text = decodeUtf8(body);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CofferError("Serialization", "The request body is not valid JSON.");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new CofferError("Serialization", "The request body must be a JSON object.");
  }
  // JSON.parse makes "__proto__" an own key; copied by plain assignment
  // anywhere later it would become a prototype, and members read through it
  // would skip validation. No AWS member has that name.
  rejectProtoKeys(value);
  return value as Record<string, unknown>;
}

/** Walks the parsed body (iteratively: depth is not bounded yet) for an own "__proto__" key. */
function rejectProtoKeys(root: object): void {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== "object") continue;
    if (Array.isArray(v)) {
      for (const e of v) stack.push(e);
      continue;
    }
    if (Object.hasOwn(v, "__proto__")) {
      throw new CofferError("Validation", "1 validation error detected: the request body holds a member named '__proto__', which is not accepted.");
    }
    for (const e of Object.values(v)) stack.push(e);
  }
}

/** Converts blob members (base64 on the wire) to Buffers and timestamps to Dates; input must be validated first. */
export function decodeInput(shapes: Shapes, shapeName: string, value: unknown): unknown {
  const shape = shapes[shapeName];
  if (value === null || value === undefined || !shape) return value;
  switch (shape.type) {
    case "blob":
      return Buffer.from(value as string, "base64");
    case "timestamp":
      return typeof value === "number" ? new Date(value * 1000) : new Date(value as string);
    case "structure": {
      const out: Record<string, unknown> = {};
      for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
        // Own members only: "constructor" or "toString" must not find Object.prototype's.
        // A null member is an absent one, as AWS treats it.
        if (!Object.hasOwn(shape.members, name) || v === null) continue;
        out[name] = decodeInput(shapes, shape.members[name].shape, v);
      }
      return out;
    }
    case "list":
      return (value as unknown[]).map((v) => decodeInput(shapes, shape.member.shape, v));
    case "map": {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        // defineProperty: a key is data, never a prototype.
        Object.defineProperty(out, k, { value: decodeInput(shapes, shape.value.shape, v), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    default:
      return value;
  }
}

/**
 * Serialises an output by its shape: timestamps become epoch seconds, blobs
 * base64, members the shape does not know and undefined values are left out.
 */
export function serializeOutput(shapes: Shapes, shapeName: string | undefined, output: unknown): string {
  return shapeName === undefined ? "{}" : JSON.stringify(encodeOutput(shapes, shapeName, output ?? {}));
}

function encodeOutput(shapes: Shapes, shapeName: string, value: unknown): unknown {
  const shape = shapes[shapeName];
  if (value === null || value === undefined || !shape) return value;
  switch (shape.type) {
    case "timestamp":
      return value instanceof Date ? value.getTime() / 1000 : value;
    case "blob":
      return value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64") : value;
    case "structure": {
      const out: Record<string, unknown> = {};
      for (const name in value as Record<string, unknown>) {
        const v = (value as Record<string, unknown>)[name];
        const member = shape.members[name];
        if (v !== undefined && member) out[name] = encodeOutput(shapes, member.shape, v);
      }
      return out;
    }
    case "list":
      return (value as unknown[]).map((v) => encodeOutput(shapes, shape.member.shape, v));
    case "map": {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = encodeOutput(shapes, shape.value.shape, v);
      return out;
    }
    default:
      return value;
  }
}

export function serializeError(type: string, message: string): string {
  return JSON.stringify({ __type: type, message });
}
