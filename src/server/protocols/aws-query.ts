import type { ListShape, MapShape, MemberRef, OperationSpec, ServiceMetadata, Shape, Shapes, TimestampFormat } from "../../shared/shape-types.ts";
import { CofferError } from "../../shared/errors.ts";
import { decodeUtf8 } from "./aws-json.ts";

/**
 * The awsQuery codec (IAM, STS). It knows shapes, not services.
 *
 * Requests are form-encoded parameters (`Tags.member.1.Key=...`); they are
 * decoded into the same plain objects the awsJson codec produces before
 * validation: numbers and booleans typed, timestamps as Dates, blobs still
 * base64 strings (validateInput checks them; aws-json's decodeInput turns
 * them into Buffers afterwards). Responses are XML wrapped in
 * `<OpResponse><OpResult>`, errors an `<ErrorResponse>`.
 */

/** Content type of every awsQuery response, success or error. */
export const QUERY_CONTENT_TYPE = "text/xml";

/** The namespace of a query service's XML responses (the model's, else AWS's URL convention). */
export function queryNamespace(metadata: ServiceMetadata): string {
  return metadata.xmlNamespace ?? `https://${metadata.endpointPrefix}.amazonaws.com/doc/${metadata.apiVersion}/`;
}

/** Parameters of an application/x-www-form-urlencoded body; `Action` and `Version` are among them. */
export function parseQueryBody(body: Buffer): URLSearchParams {
  const params = new URLSearchParams();
  for (const part of decodeUtf8(body).split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const name = formDecode(eq === -1 ? part : part.slice(0, eq));
    params.append(name, formDecode(eq === -1 ? "" : part.slice(eq + 1), name));
  }
  return params;
}

/**
 * application/x-www-form-urlencoded decoding as URLSearchParams does it ("+"
 * is a space, a malformed escape stays literal), except that escapes that are
 * not UTF-8 ("%FF") are refused instead of becoming U+FFFD.
 */
function formDecode(text: string, name?: string): string {
  const plain = text.replaceAll("+", " ");
  if (!plain.includes("%")) return plain;
  const bytes = Buffer.from(plain, "utf8");
  const out = Buffer.alloc(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const hex = bytes[i] === 0x25 ? bytes.subarray(i + 1, i + 3).toString("latin1") : "";
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      out[n++] = parseInt(hex, 16);
      i += 2;
    } else {
      out[n++] = bytes[i];
    }
  }
  // The parameter's name only: its value may be a secret.
  return decodeUtf8(out.subarray(0, n), name === undefined ? "A parameter name" : `The value of ${name.slice(0, 64)}`);
}

/**
 * The input object of `shapeName` carried by `params`. Member names follow
 * the model's locationName; lists are `Name.member.N` (`Name.N` when
 * flattened), maps `Name.entry.N.key/value`, structures `A.B`. Parameters the
 * shape does not know (Action, Version, typos) are ignored. A number, boolean
 * or timestamp that does not parse is a CofferError "Serialization" naming the
 * parameter; the value is never quoted, as it may be sensitive.
 */
export function decodeQueryInput(shapes: Shapes, shapeName: string, params: URLSearchParams): Record<string, unknown> {
  const shape = shapes[shapeName];
  if (!shape || shape.type !== "structure") {
    throw new CofferError("Internal", `No input structure named ${shapeName}`);
  }
  return new QueryDecoder(shapes).value(shape, undefined, paramTree(params), "", 0) as Record<string, unknown>;
}

/**
 * XML of a successful response, as IAM and STS send it (compact, no prolog).
 * Members are written in the shape's member order; undefined and null
 * members, and members the shape does not know, are left out.
 */
export function serializeQueryOutput(
  shapes: Shapes,
  operation: string,
  spec: OperationSpec,
  xmlNamespace: string,
  output: unknown,
  requestId: string,
): string {
  const out: string[] = [`<${operation}Response xmlns="${escapeXml(xmlNamespace)}">`];
  if (spec.output !== undefined) {
    const shape = shapes[spec.output];
    if (!shape) throw new CofferError("Internal", `No output shape named ${spec.output}`);
    const wrapper = spec.resultWrapper ?? `${operation}Result`;
    new XmlWriter(shapes, out).element(wrapper, shape, undefined, output ?? {});
  }
  out.push(`<ResponseMetadata><RequestId>${escapeXml(requestId)}</RequestId></ResponseMetadata></${operation}Response>`);
  return out.join("");
}

/** `<ErrorResponse>` as IAM and STS send it; the SDKs pick the exception class by Code. */
export function serializeQueryError(
  xmlNamespace: string,
  type: "Sender" | "Receiver",
  code: string,
  message: string,
  requestId: string,
): string {
  return (
    `<ErrorResponse xmlns="${escapeXml(xmlNamespace)}"><Error><Type>${type}</Type>` +
    `<Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error>` +
    `<RequestId>${escapeXml(requestId)}</RequestId></ErrorResponse>`
  );
}

/**
 * Wire facts of a modelled exception: the code (the model's, else the shape
 * name), the HTTP status (the model's, else 400, or 500 for a fault) and
 * whether the client is at fault. IAM models ServiceFailure as a bare 500
 * without `fault`, so a 5xx status also makes it the server's ("Receiver").
 */
export function queryErrorFor(shapes: Shapes, exceptionShapeName: string): { code: string; status: number; type: "Sender" | "Receiver" } {
  const shape = shapes[exceptionShapeName];
  if (!shape || shape.type !== "structure") {
    throw new CofferError("Internal", `No exception shape named ${exceptionShapeName}`);
  }
  const fault = shape.fault === true;
  const status = shape.error?.httpStatusCode ?? (fault ? 500 : 400);
  const sender = shape.error?.senderFault === true || (!fault && status < 500);
  return { code: shape.error?.code ?? exceptionShapeName, status, type: sender ? "Sender" : "Receiver" };
}

// --- request decoding ---------------------------------------------------------

/** The parameters as a tree of their dot-separated names: `Tags.member.1.Key`. */
interface ParamNode {
  value?: string;
  children?: Map<string, ParamNode>;
}

function paramTree(params: URLSearchParams): ParamNode {
  const root: ParamNode = {};
  for (const [key, value] of params) {
    let node = root;
    for (const segment of key.split(".")) {
      node.children ??= new Map();
      let child = node.children.get(segment);
      if (!child) {
        child = {};
        node.children.set(segment, child);
      }
      node = child;
    }
    node.value ??= value; // a repeated parameter: the first one counts
  }
  return root;
}

/** Children named 1, 2, ... in numeric order (gaps allowed, as AWS allows them). */
function indexed(node: ParamNode | undefined): ParamNode[] {
  if (!node?.children) return [];
  return [...node.children]
    .filter(([k]) => /^[1-9][0-9]{0,8}$/.test(k))
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([, child]) => child);
}

function join(parent: string, segment: string): string {
  return parent ? `${parent}.${segment}` : segment;
}

/** Structures nested deeper than this are refused (no AWS request comes close). */
const MAX_DEPTH = 64;

const INTEGER = /^[+-]?[0-9]+$/;
const DECIMAL = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
const ISO8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$/i;

function malformed(param: string, what: string): CofferError {
  return new CofferError("Serialization", `Value for parameter ${param} is not a valid ${what}.`);
}

class QueryDecoder {
  constructor(private readonly shapes: Shapes) {}

  private shape(ref: MemberRef): Shape {
    const s = this.shapes[ref.shape];
    if (!s) throw new CofferError("Internal", `Model references a missing shape ${ref.shape}`);
    return s;
  }

  /** The value at `node` (present: some parameter starts with its name), or undefined. */
  value(shape: Shape, ref: MemberRef | undefined, node: ParamNode, param: string, depth: number): unknown {
    if (depth > MAX_DEPTH) throw new CofferError("Serialization", `Parameter ${param} is nested too deeply.`);
    switch (shape.type) {
      case "structure": {
        const out: Record<string, unknown> = {};
        for (const [name, member] of Object.entries(shape.members)) {
          const wire = member.locationName ?? name;
          const child = node.children?.get(wire);
          if (!child) continue;
          const v = this.value(this.shape(member), member, child, join(param, wire), depth + 1);
          if (v !== undefined) out[name] = v;
        }
        return out;
      }
      case "list":
        return this.list(shape, ref, node, param, depth);
      case "map":
        return this.map(shape, ref, node, param, depth);
      default:
        return node.value === undefined ? undefined : scalar(shape, ref, node.value, param);
    }
  }

  /** `Name.member.N` (`Name.N` when flattened); `Name=` alone is an empty list, as the SDKs send one. */
  private list(shape: ListShape, ref: MemberRef | undefined, node: ParamNode, param: string, depth: number): unknown[] {
    const flat = ref?.flattened === true || shape.flattened === true;
    const itemName = shape.member.locationName ?? "member";
    const items = flat ? node : node.children?.get(itemName);
    const prefix = flat ? param : join(param, itemName);
    const elementShape = this.shape(shape.member);
    const out: unknown[] = [];
    indexed(items).forEach((child, i) => {
      const v = this.value(elementShape, shape.member, child, `${prefix}.${i + 1}`, depth + 1);
      if (v !== undefined) out.push(v);
    });
    return out;
  }

  /** `Name.entry.N.key` / `Name.entry.N.value` (`Name.N.key` when flattened). */
  private map(shape: MapShape, ref: MemberRef | undefined, node: ParamNode, param: string, depth: number): Record<string, unknown> {
    const flat = ref?.flattened === true || shape.flattened === true;
    const entries = flat ? node : node.children?.get("entry");
    const prefix = flat ? param : join(param, "entry");
    const keyName = shape.key.locationName ?? "key";
    const valueName = shape.value.locationName ?? "value";
    const valueShape = this.shape(shape.value);
    const out: Record<string, unknown> = {};
    indexed(entries).forEach((entry, i) => {
      const key = entry.children?.get(keyName)?.value;
      const valueNode = entry.children?.get(valueName);
      if (key === undefined || valueNode === undefined) return;
      const v = this.value(valueShape, shape.value, valueNode, `${prefix}.${i + 1}.${valueName}`, depth + 1);
      // defineProperty: a key such as "__proto__" must stay a plain key.
      if (v !== undefined) Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
    });
    return out;
  }
}

function scalar(shape: Shape, ref: MemberRef | undefined, text: string, param: string): unknown {
  switch (shape.type) {
    case "integer":
    case "long":
      if (!INTEGER.test(text)) throw malformed(param, shape.type);
      return Number(text);
    case "double":
    case "float":
      if (!DECIMAL.test(text)) throw malformed(param, "number");
      return Number(text);
    case "boolean":
      if (text === "true") return true;
      if (text === "false") return false;
      throw malformed(param, "boolean (true or false)");
    case "timestamp":
      return parseTimestamp(text, ref?.timestampFormat ?? shape.timestampFormat ?? "iso8601", param);
    default:
      // Strings, enums and blobs (still base64: validateInput checks it).
      return text;
  }
}

/** ISO 8601 by default; epoch seconds are accepted too, RFC 822 dates when the model says so. */
function parseTimestamp(text: string, format: TimestampFormat, param: string): Date {
  let ms = Number.NaN;
  if (ISO8601.test(text)) ms = Date.parse(text);
  else if (DECIMAL.test(text)) ms = Number(text) * 1000;
  else if (format === "rfc822") ms = Date.parse(text);
  const date = new Date(ms);
  // Finite but beyond a Date's range (Number("1e20") * 1000) is as unreadable as no number at all.
  if (Number.isNaN(date.getTime())) throw malformed(param, "timestamp");
  return date;
}

// --- response writing -----------------------------------------------------------

// A hand-written XML writer: no XML library is installed, and every output shape is known from the model.

/** Characters XML 1.0 cannot carry at all (not even as &#...;): dropped. */
const XML_INVALID = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const XML_SPECIAL = /[&<>"'\r]/g;
const ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
  "\r": "&#xD;", // a literal CR would be normalised away by the reader
};

export function escapeXml(text: string): string {
  return text.replace(XML_INVALID, "").replace(XML_SPECIAL, (c) => ENTITIES[c]);
}

class XmlWriter {
  constructor(
    private readonly shapes: Shapes,
    private readonly out: string[],
  ) {}

  private shape(ref: MemberRef): Shape {
    const s = this.shapes[ref.shape];
    if (!s) throw new CofferError("Internal", `Model references a missing shape ${ref.shape}`);
    return s;
  }

  /** A structure member, list item or map key/value named `name`; flattened lists and maps repeat it. */
  element(name: string, shape: Shape, ref: MemberRef | undefined, value: unknown): void {
    const flat = ref?.flattened === true || ((shape.type === "list" || shape.type === "map") && shape.flattened === true);
    if (flat && shape.type === "list") {
      for (const item of value as unknown[]) {
        if (item !== undefined && item !== null) this.element(name, this.shape(shape.member), shape.member, item);
      }
      return;
    }
    if (flat && shape.type === "map") {
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (v === undefined || v === null) continue;
        this.out.push(`<${name}>`);
        this.entry(shape, k, v);
        this.out.push(`</${name}>`);
      }
      return;
    }
    const start = this.out.length;
    this.out.push(`<${name}>`);
    this.content(shape, ref, value);
    if (this.out.length === start + 1) this.out[start] = `<${name}/>`;
    else this.out.push(`</${name}>`);
  }

  private entry(shape: MapShape, key: string, value: unknown): void {
    this.element(shape.key.locationName ?? "key", this.shape(shape.key), shape.key, key);
    this.element(shape.value.locationName ?? "value", this.shape(shape.value), shape.value, value);
  }

  private content(shape: Shape, ref: MemberRef | undefined, value: unknown): void {
    switch (shape.type) {
      case "structure": {
        const record = value as Record<string, unknown>;
        for (const [name, member] of Object.entries(shape.members)) {
          const v = Object.hasOwn(record, name) ? record[name] : undefined;
          if (v !== undefined && v !== null) this.element(member.locationName ?? name, this.shape(member), member, v);
        }
        return;
      }
      case "list": {
        const itemName = shape.member.locationName ?? "member";
        const itemShape = this.shape(shape.member);
        for (const item of value as unknown[]) {
          if (item !== undefined && item !== null) this.element(itemName, itemShape, shape.member, item);
        }
        return;
      }
      case "map":
        for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
          if (v === undefined || v === null) continue;
          this.out.push("<entry>");
          this.entry(shape, k, v);
          this.out.push("</entry>");
        }
        return;
      case "timestamp":
        this.text(formatTimestamp(value, ref?.timestampFormat ?? shape.timestampFormat ?? "iso8601"));
        return;
      case "blob":
        this.text(value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64") : String(value));
        return;
      default:
        this.text(String(value));
    }
  }

  private text(text: string): void {
    if (text !== "") this.out.push(escapeXml(text));
  }
}

/** ISO 8601 with milliseconds and Z (what the SDKs and IAM use) unless the model asks otherwise. */
function formatTimestamp(value: unknown, format: TimestampFormat): string {
  const date = value instanceof Date ? value : typeof value === "number" ? new Date(value * 1000) : new Date(String(value));
  if (Number.isNaN(date.getTime())) throw new CofferError("Internal", "Cannot serialise an invalid timestamp.");
  switch (format) {
    case "unixTimestamp":
      return String(date.getTime() / 1000);
    case "rfc822":
      return date.toUTCString();
    default:
      return date.toISOString();
  }
}
