import { errorMapper } from "../api-errors.ts";
import type { ErrorCode } from "../../shared/errors.ts";

/**
 * Domain error code -> the exception Systems Manager clients expect (the
 * model's names: some end in "Exception", most do not). Client errors are
 * HTTP 400, AWS's own failures 500. Codes not listed take the awsJson
 * protocol's shared names (ValidationException, AccessDeniedException, the
 * signature errors). docs/parameters.md lists the same table; a test keeps
 * the two in step.
 */
export const ssmErrors: Partial<Record<ErrorCode, { type: string; status: number }>> = {
  NotFound: { type: "ParameterNotFound", status: 400 },
  AlreadyExists: { type: "ParameterAlreadyExists", status: 400 },
  InvalidParameter: { type: "ValidationException", status: 400 },
  InvalidRequest: { type: "ValidationException", status: 400 },
  LimitExceeded: { type: "ParameterLimitExceeded", status: 400 },
  InvalidNextToken: { type: "InvalidNextToken", status: 400 },
  VersionNotFound: { type: "ParameterVersionNotFound", status: 400 },
  VersionLimitExceeded: { type: "ParameterMaxVersionLimitExceeded", status: 400 },
  LabelLimitExceeded: { type: "ParameterVersionLabelLimitExceeded", status: 400 },
  TooManyTags: { type: "TooManyTagsError", status: 400 },
  HierarchyLevelLimitExceeded: { type: "HierarchyLevelLimitExceededException", status: 400 },
  PatternMismatch: { type: "ParameterPatternMismatchException", status: 400 },
  InvalidAllowedPattern: { type: "InvalidAllowedPatternException", status: 400 },
  InvalidKeyId: { type: "InvalidKeyId", status: 400 },
  // A key that is disabled or pending deletion, or a value its key cannot open: the key id cannot be used.
  EncryptionFailure: { type: "InvalidKeyId", status: 400 },
  DecryptionFailure: { type: "InvalidKeyId", status: 400 },
  Disabled: { type: "InvalidKeyId", status: 400 },
  InvalidState: { type: "InvalidKeyId", status: 400 },
  InvalidFilterKey: { type: "InvalidFilterKey", status: 400 },
  InvalidFilterOption: { type: "InvalidFilterOption", status: 400 },
  InvalidFilterValue: { type: "InvalidFilterValue", status: 400 },
  InvalidResourceId: { type: "InvalidResourceId", status: 400 },
  InvalidResourceType: { type: "InvalidResourceType", status: 400 },
  InvalidPolicyType: { type: "InvalidPolicyTypeException", status: 400 },
  InvalidPolicyAttribute: { type: "InvalidPolicyAttributeException", status: 400 },
  IncompatiblePolicy: { type: "IncompatiblePolicyException", status: 400 },
  PoliciesLimitExceeded: { type: "PoliciesLimitExceededException", status: 400 },
  TypeMismatch: { type: "HierarchyTypeMismatchException", status: 400 },
  Internal: { type: "InternalServerError", status: 500 },
};

export const ssmError = errorMapper(ssmErrors, "json");
