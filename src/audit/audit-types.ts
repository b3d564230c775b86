/**
 * A CloudTrail record, as Coffer writes one per request (and per action it
 * takes on its own, eventType "AwsServiceEvent"). Secret values, passwords,
 * secret access keys and session tokens never appear: members whose model
 * shape is sensitive are left out, as CloudTrail leaves them out.
 */
export interface UserIdentity {
  type: "Root" | "IAMUser" | "AssumedRole" | "AWSService" | "WebIdentityUser" | "Unknown";
  principalId?: string;
  arn?: string;
  accountId?: string;
  accessKeyId?: string;
  userName?: string;
  invokedBy?: string;
  /** WebIdentityUser: the OIDC provider's ARN. */
  identityProvider?: string;
  sessionContext?: {
    sessionIssuer: { type: "Role"; principalId?: string; arn: string; accountId: string; userName: string };
    /** Sessions from AssumeRoleWithWebIdentity. */
    webIdFederationData?: { federatedProvider: string; attributes: Record<string, string> };
    attributes: { creationDate?: string; mfaAuthenticated: "false" };
    /** The session's source identity (SourceIdentity), when it has one. */
    sourceIdentity?: string;
  };
}

export interface CloudTrailEvent {
  eventVersion: "1.08";
  userIdentity: UserIdentity;
  eventTime: string;
  eventSource: string;
  eventName: string;
  awsRegion: string;
  sourceIPAddress: string;
  userAgent: string;
  requestParameters: Record<string, unknown> | null;
  responseElements: Record<string, unknown> | null;
  errorCode?: string;
  errorMessage?: string;
  requestID: string;
  eventID: string;
  readOnly: boolean;
  resources?: { ARN: string; accountId?: string; type: string }[];
  eventType: "AwsApiCall" | "AwsServiceEvent";
  managementEvent: true;
  recipientAccountId: string;
  eventCategory: "Management";
  /** AwsServiceEvent details (rotation steps, scheduled deletions). */
  serviceEventDetails?: Record<string, unknown>;
}
