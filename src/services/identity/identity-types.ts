/** Who is calling: resolved from a verified access key. */
export interface Principal {
  /** e.g. arn:aws:iam::111122223333:root, ...:user/alice, arn:aws:sts::111122223333:assumed-role/app/session */
  arn: string;
  accountId: string;
  accessKeyId: string;
  kind: "root" | "user" | "assumed-role";
}

/** A verified caller's key material, as the SigV4 check needs it. */
export interface Credential {
  principal: Principal;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface AuthorizationRequest {
  principal: Principal;
  /** e.g. "secretsmanager:GetSecretValue" */
  action: string;
  /** The resource ARN, or "*" for actions without a resource type. */
  resource: string;
  /** Condition keys and their values (aws:SourceIp, secretsmanager:VersionStage, ...). */
  context?: Record<string, string | string[] | undefined>;
}

/** Decides whether a request may proceed; throws CofferError("AccessDenied") if not. */
export interface Authorizer {
  authorize(request: AuthorizationRequest): Promise<void>;
}
