/**
 * Actions Coffer takes on its own (a scheduled deletion, a rotation step)
 * rather than for a request. The audit trail records them as CloudTrail
 * "AwsServiceEvent" records; a rejected promise means it could not, and the
 * action must not go ahead.
 */
export interface ServiceEvent {
  /** e.g. "DeleteSecret", "RotationSucceeded", "RotationFailed". */
  name: string;
  /** The service acting, e.g. "secretsmanager". */
  service: string;
  accountId: string;
  resources: { arn: string; type: string }[];
  details: Record<string, unknown>;
}

export interface ServiceEventSink {
  record(event: ServiceEvent): Promise<void>;
}
