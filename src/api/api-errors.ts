import type { ErrorCode } from "../shared/errors.ts";
import type { ErrorTable, WireError } from "./api-service.ts";

/**
 * The one place protocol-level errors are named: failures raised before a
 * service's own table applies (authentication, routing, parsing), as each
 * protocol spells them. Each API's table (api/<service>/*-errors.ts) names
 * its domain errors and falls back to these through errorMapper.
 */

/** Errors raised before a service is known (auth, protocol) look like this on every AWS JSON service. */
export const protocolErrors: ErrorTable = {
  MissingAuthenticationToken: { type: "MissingAuthenticationTokenException", status: 400 },
  IncompleteSignature: { type: "IncompleteSignatureException", status: 400 },
  InvalidSignature: { type: "InvalidSignatureException", status: 400 },
  UnrecognizedClient: { type: "UnrecognizedClientException", status: 400 },
  UnknownOperation: { type: "UnknownOperationException", status: 400 },
  Serialization: { type: "SerializationException", status: 400 },
  Validation: { type: "ValidationException", status: 400 },
  PayloadTooLarge: { type: "RequestEntityTooLargeException", status: 413 },
  AccessDenied: { type: "AccessDeniedException", status: 400 },
  ExpiredToken: { type: "ExpiredTokenException", status: 400 },
  Internal: { type: "InternalFailure", status: 500 },
};

/** The same failures on the Query protocol (IAM, STS), as those services name them. */
export const queryProtocolErrors: ErrorTable = {
  MissingAuthenticationToken: { type: "MissingAuthenticationToken", status: 403 },
  IncompleteSignature: { type: "IncompleteSignature", status: 403 },
  InvalidSignature: { type: "SignatureDoesNotMatch", status: 403 },
  UnrecognizedClient: { type: "InvalidClientTokenId", status: 403 },
  ExpiredToken: { type: "ExpiredToken", status: 403 },
  UnknownOperation: { type: "InvalidAction", status: 400 },
  Serialization: { type: "MalformedInput", status: 400 },
  Validation: { type: "ValidationError", status: 400 },
  PayloadTooLarge: { type: "RequestEntityTooLarge", status: 413 },
  AccessDenied: { type: "AccessDenied", status: 403 },
  Internal: { type: "InternalFailure", status: 500 },
};

/** Throttling of failing sources, on either protocol. */
export const THROTTLED: Record<"json" | "query", WireError> = {
  json: { type: "ThrottlingException", status: 400 },
  query: { type: "Throttling", status: 400 },
};

/**
 * An API's error table: its own names first, then the protocol's shared ones
 * (authentication, validation), then the protocol's internal error.
 */
export function errorMapper(table: ErrorTable, protocol: "json" | "query"): (code: ErrorCode) => WireError {
  const shared = protocol === "json" ? protocolErrors : queryProtocolErrors;
  return (code) => table[code] ?? shared[code] ?? table.Internal ?? shared.Internal!;
}
