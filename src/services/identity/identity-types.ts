/** Who is calling: resolved from a verified access key. */
export interface Principal {
  /** e.g. arn:aws:iam::111122223333:root, ...:user/alice, arn:aws:sts::111122223333:assumed-role/app/session */
  arn: string;
  accountId: string;
  accessKeyId: string;
  kind: "root" | "user" | "assumed-role";
  /** Assumed-role sessions: the role, the session's name and its tags. */
  roleArn?: string;
  /** The role's unique id the session was issued for. */
  roleId?: string;
  sessionName?: string;
  sessionTags?: { key: string; value: string }[];
  /** Keys of sessionTags that pass on when this session assumes another role. */
  transitiveTagKeys?: string[];
  /** Session policies (JSON text): the session may do only what these and the role's policies allow. */
  sessionPolicies?: string[];
  /** Sessions from AssumeRoleWithWebIdentity: the provider and the token's subject and audience. */
  webIdentity?: { providerArn: string; subject: string; audience: string };
  /** The session's source identity (aws:SourceIdentity), kept through role chaining. */
  sourceIdentity?: string;
  /** Facts of the current request, added by the server for policy conditions. */
  sourceIp?: string;
  secureTransport?: boolean;
}

/** A verified caller's key material, as the SigV4 check needs it. */
export interface Credential {
  principal: Principal;
  secretAccessKey: string;
  /** Temporary credentials: SHA-256 (hex) of the session token the request must carry. */
  sessionTokenHash?: string;
}

export interface AuthorizationRequest {
  principal: Principal;
  /** e.g. "secretsmanager:GetSecretValue" */
  action: string;
  /** The resource ARN, or "*" for actions without a resource type. */
  resource: string;
  /** Condition keys and their values (aws:SourceIp, secretsmanager:VersionStage, ...). */
  context?: Record<string, string | string[] | undefined>;
  /** The resource's own policy (a secret's resource policy, a key policy, a role's trust policy). */
  resourcePolicy?: string;
  /** The account owning the resource, when its ARN does not say (an AWS managed policy belongs to the caller's account's view). */
  resourceAccount?: string;
  /** How the resource policy combines with identity policies: secrets (default), KMS keys, role trust. */
  mode?: "default" | "key" | "trust";
}

/** Decides whether a request may proceed; throws CofferError("AccessDenied") if not. */
export interface Authorizer {
  authorize(request: AuthorizationRequest): Promise<void>;
}
