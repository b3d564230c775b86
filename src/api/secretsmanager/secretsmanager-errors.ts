import type { ErrorCode } from "../../shared/errors.ts";

/**
 * Domain error code -> the AWS error Secrets Manager clients expect. AWS
 * sends client errors as HTTP 400 (AccessDeniedException included) and its
 * own failures as 5xx. docs/errors.md lists the same table; a test keeps
 * the two in step.
 */
export const secretsManagerErrors: Record<ErrorCode, { type: string; status: number }> = {
  NotFound: { type: "ResourceNotFoundException", status: 400 },
  AlreadyExists: { type: "ResourceExistsException", status: 400 },
  InvalidParameter: { type: "InvalidParameterException", status: 400 },
  InvalidRequest: { type: "InvalidRequestException", status: 400 },
  Validation: { type: "ValidationException", status: 400 },
  Serialization: { type: "SerializationException", status: 400 },
  UnknownOperation: { type: "UnknownOperationException", status: 400 },
  LimitExceeded: { type: "LimitExceededException", status: 400 },
  EncryptionFailure: { type: "EncryptionFailure", status: 400 },
  DecryptionFailure: { type: "DecryptionFailure", status: 400 },
  InvalidNextToken: { type: "InvalidNextTokenException", status: 400 },
  AccessDenied: { type: "AccessDeniedException", status: 400 },
  MissingAuthenticationToken: { type: "MissingAuthenticationTokenException", status: 400 },
  IncompleteSignature: { type: "IncompleteSignatureException", status: 400 },
  InvalidSignature: { type: "InvalidSignatureException", status: 400 },
  UnrecognizedClient: { type: "UnrecognizedClientException", status: 400 },
  PayloadTooLarge: { type: "RequestEntityTooLargeException", status: 413 },
  MalformedPolicy: { type: "MalformedPolicyDocumentException", status: 400 },
  PublicPolicy: { type: "PublicPolicyException", status: 400 },
  Conflict: { type: "InvalidRequestException", status: 400 },
  ExpiredToken: { type: "ExpiredTokenException", status: 400 },
  InvalidState: { type: "InvalidRequestException", status: 400 },
  Disabled: { type: "InvalidRequestException", status: 400 },
  InvalidAliasName: { type: "InvalidParameterException", status: 400 },
  IncorrectKey: { type: "InvalidParameterException", status: 400 },
  InvalidTimeRange: { type: "InvalidParameterException", status: 400 },
  InvalidLookupAttributes: { type: "InvalidParameterException", status: 400 },
  VersionNotFound: { type: "ResourceNotFoundException", status: 400 },
  VersionLimitExceeded: { type: "LimitExceededException", status: 400 },
  LabelLimitExceeded: { type: "LimitExceededException", status: 400 },
  TooManyTags: { type: "InvalidParameterException", status: 400 },
  InvalidTag: { type: "InvalidParameterException", status: 400 },
  HierarchyLevelLimitExceeded: { type: "InvalidParameterException", status: 400 },
  PatternMismatch: { type: "InvalidParameterException", status: 400 },
  InvalidAllowedPattern: { type: "InvalidParameterException", status: 400 },
  InvalidKeyId: { type: "InvalidParameterException", status: 400 },
  InvalidFilterKey: { type: "InvalidParameterException", status: 400 },
  InvalidFilterOption: { type: "InvalidParameterException", status: 400 },
  InvalidFilterValue: { type: "InvalidParameterException", status: 400 },
  InvalidResourceId: { type: "ResourceNotFoundException", status: 400 },
  InvalidResourceType: { type: "InvalidParameterException", status: 400 },
  InvalidPolicyType: { type: "InvalidParameterException", status: 400 },
  InvalidPolicyAttribute: { type: "InvalidParameterException", status: 400 },
  IncompatiblePolicy: { type: "InvalidParameterException", status: 400 },
  PoliciesLimitExceeded: { type: "LimitExceededException", status: 400 },
  TypeMismatch: { type: "InvalidParameterException", status: 400 },
  InvalidIdentityToken: { type: "InvalidRequestException", status: 400 },
  ExpiredIdentityToken: { type: "InvalidRequestException", status: 400 },
  IdpRejectedClaim: { type: "InvalidRequestException", status: 400 },
  IdpCommunicationError: { type: "InvalidRequestException", status: 400 },
  Internal: { type: "InternalServiceError", status: 500 },
};

export function secretsManagerError(code: ErrorCode): { type: string; status: number } {
  return secretsManagerErrors[code];
}
