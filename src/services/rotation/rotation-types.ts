/**
 * The rotation contract, as AWS Secrets Manager defines it for a rotation
 * Lambda: four steps, each called with the same ClientRequestToken (the id
 * of the new version). A rotator performs one step per call and must be
 * idempotent: a step may be called again after a crash.
 */
export type RotationStep = "createSecret" | "setSecret" | "testSecret" | "finishSecret";

export const ROTATION_STEPS: readonly RotationStep[] = ["createSecret", "setSecret", "testSecret", "finishSecret"];

/** The event a rotation function receives, exactly as a rotation Lambda gets it. */
export interface RotationEvent {
  Step: RotationStep;
  SecretId: string;
  ClientRequestToken: string;
  RotationToken?: string;
}

/**
 * What a built-in rotator may do through Coffer: the Secrets Manager calls a
 * rotation Lambda makes, performed with the rotation's authority. Missing
 * secrets or versions reject with CofferError("NotFound").
 */
export interface RotationSecrets {
  /** versionId -> stages of the versions that carry any. */
  describe(secretId: string): Promise<{ arn: string; versionStages: Record<string, string[]> }>;
  getValue(secretId: string, which: { versionId?: string; versionStage?: string }): Promise<{ versionId: string; text: string; stages: string[] }>;
  /** PutSecretValue(ClientRequestToken = token, VersionStages = ["AWSPENDING"]). */
  putPending(secretId: string, token: string, text: string): Promise<void>;
  /** UpdateSecretVersionStage(AWSCURRENT, MoveToVersionId = to, RemoveFromVersionId = from). */
  moveCurrent(secretId: string, to: string, from: string): Promise<void>;
  randomPassword(options: { length?: number; excludeCharacters?: string; excludePunctuation?: boolean }): Promise<string>;
}

export interface Rotator {
  /** Performs `event.Step`; rejects if the step failed (the rotation is then retried later, AWSCURRENT untouched). */
  step(event: RotationEvent, secrets: RotationSecrets): Promise<void>;
}
