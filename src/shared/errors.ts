/**
 * Errors are values with stable domain codes. Services throw them; each API
 * module maps a code to its AWS error name and HTTP status (see
 * src/api/<service>/<service>-errors.ts). A message never contains a secret value.
 */
export type ErrorCode =
  | "NotFound" // the named resource does not exist
  | "AlreadyExists" // a resource with that name/id exists
  | "InvalidParameter" // a parameter is well-formed but not acceptable
  | "InvalidRequest" // the request is not valid for the resource's state
  | "Validation" // a field broke a modelled constraint (length, pattern, enum)
  | "Serialization" // the body is not what the protocol expects
  | "UnknownOperation"
  | "LimitExceeded"
  | "EncryptionFailure"
  | "DecryptionFailure"
  | "InvalidNextToken"
  | "AccessDenied"
  | "MissingAuthenticationToken"
  | "IncompleteSignature"
  | "InvalidSignature"
  | "UnrecognizedClient"
  | "PayloadTooLarge"
  | "MalformedPolicy" // a policy document is not valid JSON or breaks the grammar
  | "PublicPolicy" // a resource policy would grant public access while that is blocked
  | "Conflict" // the resource still has dependents (e.g. a user with access keys)
  | "ExpiredToken" // temporary credentials past their expiry
  | "Disabled" // a key is disabled
  | "InvalidAliasName"
  | "IncorrectKey" // the key named does not match the one that encrypted the ciphertext
  | "InvalidTimeRange"
  | "InvalidLookupAttributes"
  | "InvalidState" // a key or resource is in a state that forbids the operation (disabled, pending deletion)
  // Parameter Store has an exception for each of these; other APIs map them to their nearest error.
  | "VersionNotFound" // the resource exists but the version (or label) asked for does not
  | "VersionLimitExceeded" // a new version would push out an old one that may not go (it carries a label)
  | "LabelLimitExceeded" // a version already carries the most labels it may
  | "TooManyTags" // a resource would carry more tags than allowed
  | "InvalidTag" // a tag key or value that may not be used (KMS: TagException)
  | "HierarchyLevelLimitExceeded" // a hierarchical name is nested too deeply
  | "PatternMismatch" // a value does not match the resource's own allowed pattern
  | "InvalidAllowedPattern" // an allowed pattern is not a valid regular expression
  | "InvalidKeyId" // the KMS key named does not exist
  | "InvalidFilterKey" // a filter key is unknown, repeated, or not allowed in this operation
  | "InvalidFilterOption" // a filter option is not allowed for its key
  | "InvalidFilterValue" // a filter value is missing or not allowed for its key
  | "InvalidResourceId" // the resource named for tagging does not exist
  | "InvalidResourceType" // the resource type named for tagging is not served
  | "InvalidPolicyType" // a parameter policy of an unknown type
  | "InvalidPolicyAttribute" // a parameter policy's version or attributes are not valid
  | "IncompatiblePolicy" // parameter policies that conflict (two of a kind, a notification without an expiration)
  | "PoliciesLimitExceeded" // more parameter policies than allowed
  | "TypeMismatch" // a new version of a resource would change its type (Parameter Store: HierarchyTypeMismatchException)
  // AssumeRoleWithWebIdentity (docs/workload-identity.md):
  | "InvalidIdentityToken" // a web identity token that is malformed, wrongly signed, or for another issuer or audience
  | "ExpiredIdentityToken" // a web identity token past its expiry
  | "IdpRejectedClaim" // a web identity token lacks a claim Coffer needs (sub, exp)
  | "IdpCommunicationError" // the identity provider's keys could not be fetched
  | "Internal";

export class CofferError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = "CofferError";
    this.code = code;
  }
}

export function isCofferError(err: unknown): err is CofferError {
  return err instanceof CofferError;
}
