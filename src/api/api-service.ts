import type { FederatedCaller } from "../audit/audit-event.ts";
import type { Principal } from "../services/identity/identity-types.ts";
import type { ErrorCode } from "../shared/errors.ts";
import type { OperationSpec, ServiceMetadata, Shapes } from "../shared/shape-types.ts";

/**
 * What every API module (src/api/<service>/) hands the server: the server
 * imports this, an API never imports the server.
 */

/** What a handler learns about the request beyond its input. */
export interface RequestContext {
  requestId: string;
  sourceIp: string;
  userAgent: string;
  secureTransport: boolean;
}

export type Handler = (principal: Principal, input: any, ctx: RequestContext) => Promise<unknown>;

/**
 * An operation the model marks unsigned (`noAuth`, e.g. STS AssumeRoleWithWebIdentity): no
 * principal; the input carries the proof. `identify` records who the caller proved to be.
 */
export type PublicHandler = (input: any, ctx: RequestContext & { identify(who: FederatedCaller): void }) => Promise<unknown>;

/** An AWS error name and the HTTP status it is sent with. */
export interface WireError {
  type: string;
  status: number;
}

export type ErrorTable = Partial<Record<ErrorCode, WireError>>;

/** An AWS service as the server sees it: its model facts, handlers, and how its errors look on the wire. */
export interface ApiService {
  metadata: ServiceMetadata;
  shapes: Shapes;
  operations: Readonly<Record<string, OperationSpec>>;
  handlers: Readonly<Record<string, Handler>>;
  /** Handlers of the operations the model marks unsigned (OperationSpec.noAuth); only these run without a signature. */
  publicHandlers?: Readonly<Record<string, PublicHandler>>;
  /** AWS error name and HTTP status for each domain error code. */
  errorFor(code: ErrorCode): WireError;
}
