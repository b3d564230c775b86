import type { ReplicaState, RotationState, Tag } from "../../storage/store.ts";

export type { ReplicaState, RotationState, Tag };

export type SecretValue = { kind: "string"; text: string } | { kind: "binary"; bytes: Buffer };

export const AWSCURRENT = "AWSCURRENT";
export const AWSPREVIOUS = "AWSPREVIOUS";
export const AWSPENDING = "AWSPENDING";

/** Versions beyond this many are pruned, oldest deprecated (label-less) ones first. */
export const MAX_VERSIONS = 100;
export const MAX_TAGS = 50;

export interface SecretRef {
  arn: string;
  name: string;
}

export interface CreateSecretInput {
  name: string;
  description?: string;
  kmsKeyId?: string;
  value?: SecretValue;
  tags?: Tag[];
  clientRequestToken?: string;
  /** AddReplicaRegions, already checked (src/services/replication/). */
  replicas?: ReplicaState[];
}

export interface VersionedRef extends SecretRef {
  versionId?: string;
}

export interface GetValueInput {
  secretId: string;
  versionId?: string;
  versionStage?: string;
}

export interface SecretVersionValue {
  arn: string;
  name: string;
  versionId: string;
  value: SecretValue;
  stages: string[];
  createdAt: number;
}

export interface PutValueInput {
  secretId: string;
  value: SecretValue;
  clientRequestToken?: string;
  stages?: string[];
}

export interface UpdateSecretInput {
  secretId: string;
  description?: string;
  kmsKeyId?: string;
  value?: SecretValue;
  clientRequestToken?: string;
}

export interface UpdateStageInput {
  secretId: string;
  stage: string;
  removeFromVersionId?: string;
  moveToVersionId?: string;
}

export interface SecretDescription {
  arn: string;
  name: string;
  description?: string;
  kmsKeyId?: string;
  createdAt: number;
  lastChangedAt: number;
  lastAccessedAt?: number;
  deletedAt?: number;
  tags: Tag[];
  /** versionId -> stages, for versions that carry at least one stage. */
  versionStages: Record<string, string[]>;
  rotation?: RotationState;
  primaryRegion: string;
  /** On a primary with replicas: each replica region's status. */
  replicas?: ReplicaState[];
}

export interface ListFilter {
  key: "description" | "name" | "tag-key" | "tag-value" | "primary-region" | "owning-service" | "all";
  values: string[];
}

export interface ListSecretsInput {
  filters?: ListFilter[];
  sortOrder?: "asc" | "desc";
  sortBy?: "created-date" | "last-accessed-date" | "last-changed-date" | "name";
  maxResults?: number;
  nextToken?: string;
  includePlannedDeletion?: boolean;
}

export interface Page<T> {
  items: T[];
  nextToken?: string;
}

export interface VersionSummary {
  versionId: string;
  stages: string[];
  createdAt: number;
  lastAccessedAt?: number;
  keyArn: string;
}

export interface ListVersionsInput {
  secretId: string;
  maxResults?: number;
  nextToken?: string;
  includeDeprecated?: boolean;
}

export interface DeleteSecretInput {
  secretId: string;
  recoveryWindowInDays?: number;
  forceDeleteWithoutRecovery?: boolean;
}

export interface BatchGetInput {
  secretIds?: string[];
  filters?: ListFilter[];
  maxResults?: number;
  nextToken?: string;
}

export interface BatchGetResult {
  values: SecretVersionValue[];
  errors: { secretId: string; code: string; message: string }[];
  nextToken?: string;
}
