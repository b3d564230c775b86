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
