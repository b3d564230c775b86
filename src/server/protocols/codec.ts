import type { OperationSpec } from "../../shared/shape-types.ts";
import type { RequestFacts } from "../../audit/audit-event.ts";
import type { CofferError } from "../../shared/errors.ts";
import type { ApiService, ErrorTable, WireError } from "../../api/api-service.ts";
import type { ParsedRequest } from "../request-context.ts";

/** An answer ready for the wire. */
export interface Reply {
  status: number;
  contentType: string;
  body: Buffer | string;
  /** AWS JSON errors name their type in a header too. */
  errorType?: string;
}

/**
 * Where a request goes. `service` is known as soon as the request names one
 * (its errors then use that service's table); `refusal` says why the request
 * cannot run (unknown operation, wrong content type).
 */
export interface Route {
  service?: ApiService;
  operation: string;
  spec?: OperationSpec;
  refusal?: CofferError;
}

/**
 * A wire protocol: AWS JSON 1.0/1.1 (X-Amz-Target) or Query (form Action).
 * The dispatcher runs every operation the same way through this interface;
 * a codec knows how its protocol names an operation, carries input, and
 * writes results and errors, and nothing about authentication or audit.
 */
export interface ProtocolCodec {
  readonly name: "json" | "query";
  /** The protocol's own names for failures raised before a service's table applies. */
  readonly errors: ErrorTable;
  /** Finds the service and operation; records what it learns in `facts` (service, operation). May throw. */
  route(req: ParsedRequest, facts: RequestFacts): Route;
  /** The validated input of a routed request, as handlers take it (blobs as Buffers, timestamps as Dates). */
  decode(req: ParsedRequest, service: ApiService, spec: OperationSpec): unknown;
  encodeResult(req: ParsedRequest, service: ApiService, operation: string, spec: OperationSpec, output: unknown): Reply;
  encodeError(req: ParsedRequest, service: ApiService | undefined, error: WireError, message: string): Reply;
}
