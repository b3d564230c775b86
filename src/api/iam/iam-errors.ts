import type { ErrorCode } from "../../shared/errors.ts";
import { errorMapper } from "../api-errors.ts";

/** Domain error code -> IAM's error code and status, as the IAM model names them. */
const iamErrors: Partial<Record<ErrorCode, { type: string; status: number }>> = {
  NotFound: { type: "NoSuchEntity", status: 404 },
  AlreadyExists: { type: "EntityAlreadyExists", status: 409 },
  LimitExceeded: { type: "LimitExceeded", status: 409 },
  MalformedPolicy: { type: "MalformedPolicyDocument", status: 400 },
  InvalidParameter: { type: "InvalidInput", status: 400 },
  Conflict: { type: "DeleteConflict", status: 409 },
  Internal: { type: "ServiceFailure", status: 500 },
};

export const iamError = errorMapper(iamErrors, "query");
