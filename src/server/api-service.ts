import type { OperationSpec, ServiceMetadata, Shapes } from "../api/shape-types.ts";
import type { RequestFacts } from "../audit/audit-event.ts";
import type { ErrorCode } from "../services/errors.ts";
import type { Principal } from "../services/identity/identity-types.ts";

/** What a handler learns about the request beyond its input. */
export interface RequestContext {
  requestId: string;
  sourceIp: string;
  userAgent: string;
  secureTransport: boolean;
}

export type Handler = (principal: Principal, input: any, ctx: RequestContext) => Promise<unknown>;

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
  /** AWS error name and HTTP status for each domain error code. */
  errorFor(code: ErrorCode): WireError;
}

/** Records requests in the audit trail; a rejected promise means the record could not be written. */
export interface RequestAuditor {
  /** Before a mutating operation runs. */
  intent(facts: RequestFacts): Promise<void>;
  /** Once the request has its answer, before the answer is sent. */
  record(facts: RequestFacts): Promise<void>;
}
