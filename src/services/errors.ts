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
