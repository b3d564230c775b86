/**
 * The shape vocabulary shared by every service's generated model
 * (src/api/<service>/generated/shapes.ts, written by tools/codegen/codegen.ts).
 *
 * These are facts copied from the botocore service models, minus the
 * documentation. Only keys that are present in the model appear on a shape;
 * absent means "not constrained" / the AWS default.
 */

export type ShapeType =
  | "structure"
  | "list"
  | "map"
  | "string"
  | "integer"
  | "long"
  | "boolean"
  | "timestamp"
  | "blob"
  | "double"
  | "float";

/** A reference from a structure member, list member or map key/value to a shape. */
export interface MemberRef {
  /** Name of the target shape (a key of the service's `shapes`). */
  readonly shape: string;
  /** Wire name when it differs from the member name (XML element / query key / header). */
  readonly locationName?: string;
  /** Query protocol name override (EC2 style). */
  readonly queryName?: string;
  /** Where a REST protocol carries the member ("header", "uri", "querystring", ...). */
  readonly location?: string;
  /** XML: serialize this member as an attribute. */
  readonly xmlAttribute?: boolean;
  /** XML: namespace for this member's element. */
  readonly xmlNamespace?: XmlNamespace;
  /** Query/XML: this member's list or map is flattened (no wrapping element). */
  readonly flattened?: boolean;
  /** Overrides the timestamp shape's wire format for this member. */
  readonly timestampFormat?: TimestampFormat;
  /** A string member carrying a JSON document (REST header encoding). */
  readonly jsonvalue?: boolean;
  /** SDKs fill this member with a fresh UUID when the caller leaves it out. */
  readonly idempotencyToken?: boolean;
  /** The member is deprecated in the model. */
  readonly deprecated?: boolean;
}

export type XmlNamespace = string | { readonly prefix?: string; readonly uri: string };

export type TimestampFormat = "iso8601" | "rfc822" | "unixTimestamp";

interface ShapeCommon {
  /**
   * Values of this shape (and everything inside it) must never be echoed:
   * validation messages omit them ("Value at 'secretString' failed to ...").
   */
  readonly sensitive?: boolean;
  readonly deprecated?: boolean;
  /** Wire name when the shape is serialized on its own (XML). */
  readonly locationName?: string;
  readonly xmlNamespace?: XmlNamespace;
}

/** Error facts of an exception structure, as modelled. */
export interface ErrorInfo {
  /**
   * Wire error code. When the model gives none (or no `error` block at all),
   * the code is the shape name.
   */
  readonly code?: string;
  /** HTTP status. When absent: 400, or 500 for a `fault` exception. */
  readonly httpStatusCode?: number;
  /** true: the client's fault ("Sender"); false/absent with `fault`: the server's. */
  readonly senderFault?: boolean;
}

export interface StructureShape extends ShapeCommon {
  readonly type: "structure";
  /** Members in model order (the order AWS reports validation errors in). */
  readonly members: Readonly<Record<string, MemberRef>>;
  /** Names of members that must be present (and non-null). */
  readonly required?: readonly string[];
  /** Exactly one member is expected to be set (not enforced by validateInput). */
  readonly union?: boolean;
  /** This structure is an error shape. */
  readonly exception?: boolean;
  /** A server-side error (HTTP 5xx). */
  readonly fault?: boolean;
  readonly error?: ErrorInfo;
  /** REST-XML: the member carrying the payload. */
  readonly payload?: string;
}

export interface ListShape extends ShapeCommon {
  readonly type: "list";
  readonly member: MemberRef;
  /** Bounds on the number of elements. */
  readonly min?: number;
  readonly max?: number;
  /** Query/XML: elements are not wrapped in a list element. */
  readonly flattened?: boolean;
}

export interface MapShape extends ShapeCommon {
  readonly type: "map";
  readonly key: MemberRef;
  readonly value: MemberRef;
  /** Bounds on the number of entries. */
  readonly min?: number;
  readonly max?: number;
  readonly flattened?: boolean;
}

export interface StringShape extends ShapeCommon {
  readonly type: "string";
  /** Length bounds, in UTF-16 code units (Java's String.length()). */
  readonly min?: number;
  readonly max?: number;
  /**
   * The model's regular expression, verbatim (Java syntax). AWS quotes this
   * text in "Member must satisfy regular expression pattern: ..." and
   * requires the WHOLE value to match (java.util.regex.Matcher#matches).
   */
  readonly pattern?: string;
  /**
   * ECMAScript translation of `pattern` (compile with the `u` flag plus
   * `jsPatternFlags`), present only when it differs from `pattern`.
   * Unanchored, like `pattern`; the validator anchors it.
   */
  readonly jsPattern?: string;
  /** Flags lifted from Java inline flags such as `(?i)` / `(?s)`. */
  readonly jsPatternFlags?: string;
  /** The pattern could not be translated to ECMAScript; it is not enforced. */
  readonly patternUnsupported?: boolean;
  /** Allowed values, in model order. */
  readonly enum?: readonly string[];
}

export interface NumberShape extends ShapeCommon {
  readonly type: "integer" | "long" | "double" | "float";
  readonly min?: number;
  readonly max?: number;
}

export interface BooleanShape extends ShapeCommon {
  readonly type: "boolean";
}

export interface TimestampShape extends ShapeCommon {
  readonly type: "timestamp";
  readonly timestampFormat?: TimestampFormat;
}

export interface BlobShape extends ShapeCommon {
  readonly type: "blob";
  /** Bounds on the decoded byte length. */
  readonly min?: number;
  readonly max?: number;
  readonly streaming?: boolean;
}

export type Shape =
  | StructureShape
  | ListShape
  | MapShape
  | StringShape
  | NumberShape
  | BooleanShape
  | TimestampShape
  | BlobShape;

export type Shapes = Readonly<Record<string, Shape>>;

/** One operation of a service, as listed in generated operations.ts. */
export interface OperationSpec {
  /** Input structure shape name (absent: the operation takes no input). */
  readonly input?: string;
  /** Output structure shape name (absent: the operation returns nothing). */
  readonly output?: string;
  /** Query protocol: the element wrapping the output (e.g. "AssumeRoleResult"). */
  readonly resultWrapper?: string;
  /** Exception shape names the operation may return, in model order. */
  readonly errors: readonly string[];
  /**
   * Only reads (CloudTrail's readOnly): no audit intent is written before it
   * runs, and its answer is not recorded. Absent: the operation writes.
   */
  readonly readOnly?: boolean;
  /** The members that name the resources the operation is about (CloudTrail's `resources`). */
  readonly resources?: readonly ResourceRef[];
  /** The model says the operation is not signed (`authtype: none`): the caller proves who it is in the input (a token). */
  readonly noAuth?: boolean;
}

/**
 * A member naming a resource: a top-level member of the input (a string, or
 * a list of strings), or with `from: "output"` a path of output members
 * ("SecretValues.ARN": lists are crossed) holding ARNs.
 */
export interface ResourceRef {
  readonly member: string;
  readonly from?: "output";
  /** CloudTrail's resource type, e.g. "AWS::SecretsManager::Secret". */
  readonly type: string;
  /** Input only: named only when the answer names no resource of this type (the answer's ARN is the exact one). */
  readonly fallback?: boolean;
}

/** Service-level facts, as listed in generated operations.ts. */
export interface ServiceMetadata {
  readonly protocol: string;
  readonly apiVersion: string;
  readonly endpointPrefix: string;
  /** SigV4 signing name (the model's, or endpointPrefix when the model has none). */
  readonly signingName: string;
  readonly serviceId: string;
  /** awsJson: the X-Amz-Target prefix ("secretsmanager" in "secretsmanager.GetSecretValue"). */
  readonly targetPrefix?: string;
  /** awsJson: "1.0" or "1.1" (Content-Type application/x-amz-json-<v>). */
  readonly jsonVersion?: string;
  /** query: namespace of XML responses. */
  readonly xmlNamespace?: string;
  readonly globalEndpoint?: string;
}
