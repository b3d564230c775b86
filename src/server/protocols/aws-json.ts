import type { Shapes } from "../../api/shape-types.ts";
import { CofferError } from "../../services/errors.ts";

/**
 * The awsJson 1.1 codec. It knows shapes, not services: requests are parsed
 * into plain objects whose blobs are Buffers and timestamps Dates; outputs are
 * written with timestamps as epoch seconds and blobs as base64.
 */

export function parseJsonBody(body: Buffer): Record<string, unknown> {
  // An empty body is an empty input, as the protocol requires.
  if (body.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(body.toString("utf8"));
  } catch {
    throw new CofferError("Serialization", "The request body is not valid JSON.");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new CofferError("Serialization", "The request body must be a JSON object.");
  }
  return value as Record<string, unknown>;
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
        const member = shape.members[name];
        if (member) out[name] = decodeInput(shapes, member.shape, v);
      }
      return out;
    }
    case "list":
      return (value as unknown[]).map((v) => decodeInput(shapes, shape.member.shape, v));
    case "map": {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = decodeInput(shapes, shape.value.shape, v);
      return out;
    }
    default:
      return value;
  }
}

/** Serialises an output object: Dates become epoch seconds, byte arrays base64, undefined members vanish. */
export function serializeOutput(output: unknown): string {
  return JSON.stringify(output ?? {}, function replacer(this: Record<string, unknown>, key, value) {
    const original = this[key];
    if (original instanceof Date) return original.getTime() / 1000;
    if (original instanceof Uint8Array) return Buffer.from(original).toString("base64");
    return value;
  });
}

export function serializeError(type: string, message: string): string {
  return JSON.stringify({ __type: type, message });
}
