import type { ApiService, Handler } from "../api-service.ts";
import { CofferError } from "../../shared/errors.ts";
import type { RotationService } from "../../services/rotation/rotation-service.ts";
import type { SecretsService } from "../../services/secrets/secrets-service.ts";
import type { ReplicationService } from "../../services/replication/replication-service.ts";
import { replicaRegionsIn, replicationStatusOut } from "./secretsmanager-replication.ts";
import type {
  ListFilter,
  RotationState,
  SecretDescription,
  SecretValue,
  SecretVersionValue,
  Tag,
} from "../../services/secrets/secrets-types.ts";
import { operations, metadata } from "./generated/operations.ts";
import { shapes } from "./generated/shapes.ts";
import type * as T from "./generated/types.ts";
import { secretsManagerError } from "./secretsmanager-errors.ts";

/**
 * The Secrets Manager wire API: maps AWS operation names and field names to
 * the secrets service, and shapes its results as AWS responses. Only this
 * module knows SecretString, VersionStages and friends.
 */

const date = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms));

function valueOf(input: { SecretString?: string; SecretBinary?: Uint8Array }): SecretValue | undefined {
  if (input.SecretString !== undefined && input.SecretBinary !== undefined) {
    throw new CofferError(
      "InvalidParameter",
      "You can't specify both a binary secret value and a string secret value in the same secret.",
    );
  }
  if (input.SecretString !== undefined) return { kind: "string", text: input.SecretString };
  if (input.SecretBinary !== undefined) return { kind: "binary", bytes: Buffer.from(input.SecretBinary) };
  return undefined;
}

function requireValue(input: { SecretString?: string; SecretBinary?: Uint8Array }): SecretValue {
  const value = valueOf(input);
  if (!value) throw new CofferError("InvalidParameter", "You must provide either SecretString or SecretBinary.");
  return value;
}

const tagsIn = (tags: T.Tag[] | undefined): Tag[] | undefined =>
  tags?.map((t) => ({ key: t.Key ?? "", value: t.Value ?? "" }));
const tagsOut = (tags: Tag[]): T.Tag[] => tags.map((t) => ({ Key: t.key, Value: t.value }));

const filtersIn = (filters: T.Filter[] | undefined): ListFilter[] | undefined =>
  filters?.map((f) => ({ key: f.Key as ListFilter["key"], values: f.Values ?? [] }));

/** GetSecretValue's answer (Parameter Store's SourceResult carries it too). */
export function secretValueOut(v: SecretVersionValue): T.GetSecretValueResponse {
  const out: T.GetSecretValueResponse = {
    ARN: v.arn,
    Name: v.name,
    VersionId: v.versionId,
    VersionStages: v.stages,
    CreatedDate: new Date(v.createdAt),
  };
  if (v.value.kind === "string") out.SecretString = v.value.text;
  else out.SecretBinary = v.value.bytes;
  return out;
}

function rotationOut(r: RotationState | undefined): Partial<T.DescribeSecretResponse> {
  if (!r) return {};
  return {
    RotationEnabled: r.enabled,
    RotationLambdaARN: r.functionArn,
    RotationRules: r.rules && {
      AutomaticallyAfterDays: r.rules.automaticallyAfterDays,
      ScheduleExpression: r.rules.scheduleExpression,
      Duration: r.rules.duration,
    },
    LastRotatedDate: date(r.lastRotatedAt),
    NextRotationDate: r.enabled ? date(r.nextRotationAt) : undefined,
  };
}

function describeOut(d: SecretDescription): T.DescribeSecretResponse & T.SecretListEntry {
  return {
    ARN: d.arn,
    Name: d.name,
    Description: d.description,
    KmsKeyId: d.kmsKeyId,
    ...rotationOut(d.rotation),
    LastChangedDate: date(d.lastChangedAt),
    LastAccessedDate: date(d.lastAccessedAt),
    DeletedDate: date(d.deletedAt),
    Tags: tagsOut(d.tags),
    VersionIdsToStages: d.versionStages,
    CreatedDate: date(d.createdAt),
    PrimaryRegion: d.primaryRegion,
    ReplicationStatus: d.replicas && replicationStatusOut(d.replicas),
  };
}

export function secretsManagerApi(secrets: SecretsService, rotation: RotationService, replication?: ReplicationService): ApiService {
  const handlers: Record<string, Handler> = {
    async CreateSecret(p, i: T.CreateSecretRequest): Promise<T.CreateSecretResponse> {
      const regions = replicaRegionsIn(i.AddReplicaRegions);
      if (regions.length > 0) {
        if (!replication) throw new CofferError("InvalidParameter", "Invalid replica region.");
        await replication.checkRegions(regions);
      }
      const replicas = replication && regions.length > 0 ? replication.newReplicas(regions, i.ForceOverwriteReplicaSecret) : undefined;
      const ref = await secrets.create(p, {
        replicas,
        name: i.Name,
        description: i.Description,
        kmsKeyId: i.KmsKeyId,
        value: valueOf(i),
        tags: tagsIn(i.Tags),
        clientRequestToken: i.ClientRequestToken,
      });
      return { ARN: ref.arn, Name: ref.name, VersionId: ref.versionId, ReplicationStatus: replicas && replicationStatusOut(replicas) };
    },

    ...(replication ? replicationHandlers(replication) : {}),

    async GetSecretValue(p, i: T.GetSecretValueRequest): Promise<T.GetSecretValueResponse> {
      return secretValueOut(
        await secrets.getValue(p, { secretId: i.SecretId, versionId: i.VersionId, versionStage: i.VersionStage }),
      );
    },

    async BatchGetSecretValue(p, i: T.BatchGetSecretValueRequest): Promise<T.BatchGetSecretValueResponse> {
      if ((i.SecretIdList === undefined) === (i.Filters === undefined)) {
        throw new CofferError("InvalidParameter", "Specify either SecretIdList or Filters, but not both.");
      }
      if (i.SecretIdList && i.MaxResults !== undefined) {
        throw new CofferError("InvalidParameter", "MaxResults can be used only with Filters.");
      }
      const result = await secrets.batchGetValue(p, {
        secretIds: i.SecretIdList,
        filters: filtersIn(i.Filters),
        maxResults: i.MaxResults,
        nextToken: i.NextToken,
      });
      return {
        SecretValues: result.values.map(secretValueOut),
        Errors: result.errors.map((e) => ({
          SecretId: e.secretId,
          ErrorCode: secretsManagerError(e.code as never).type,
          Message: e.message,
        })),
        NextToken: result.nextToken,
      };
    },

    async PutSecretValue(p, i: T.PutSecretValueRequest): Promise<T.PutSecretValueResponse> {
      const r = await secrets.putValue(p, {
        secretId: i.SecretId,
        value: requireValue(i),
        clientRequestToken: i.ClientRequestToken,
        stages: i.VersionStages,
      });
      return { ARN: r.arn, Name: r.name, VersionId: r.versionId, VersionStages: r.stages };
    },

    async UpdateSecret(p, i: T.UpdateSecretRequest): Promise<T.UpdateSecretResponse> {
      const r = await secrets.update(p, {
        secretId: i.SecretId,
        description: i.Description,
        kmsKeyId: i.KmsKeyId,
        value: valueOf(i),
        clientRequestToken: i.ClientRequestToken,
      });
      return { ARN: r.arn, Name: r.name, VersionId: r.versionId };
    },

    async UpdateSecretVersionStage(p, i: T.UpdateSecretVersionStageRequest): Promise<T.UpdateSecretVersionStageResponse> {
      const r = await secrets.updateVersionStage(p, {
        secretId: i.SecretId,
        stage: i.VersionStage,
        removeFromVersionId: i.RemoveFromVersionId,
        moveToVersionId: i.MoveToVersionId,
      });
      return { ARN: r.arn, Name: r.name };
    },

    async DescribeSecret(p, i: T.DescribeSecretRequest): Promise<T.DescribeSecretResponse> {
      return describeOut(await secrets.describe(p, { secretId: i.SecretId }));
    },

    async ListSecrets(p, i: T.ListSecretsRequest): Promise<T.ListSecretsResponse> {
      const page = await secrets.list(p, {
        filters: filtersIn(i.Filters),
        sortOrder: i.SortOrder as "asc" | "desc" | undefined,
        sortBy: i.SortBy as never,
        maxResults: i.MaxResults,
        nextToken: i.NextToken,
        includePlannedDeletion: i.IncludePlannedDeletion,
      });
      return {
        SecretList: page.items.map((d) => {
          const { VersionIdsToStages, ...entry } = describeOut(d);
          const { ReplicationStatus: _r, ...listed } = entry;
        return { ...listed, SecretVersionsToStages: VersionIdsToStages };
        }),
        NextToken: page.nextToken,
      };
    },

    async ListSecretVersionIds(p, i: T.ListSecretVersionIdsRequest): Promise<T.ListSecretVersionIdsResponse> {
      const page = await secrets.listVersions(p, {
        secretId: i.SecretId,
        maxResults: i.MaxResults,
        nextToken: i.NextToken,
        includeDeprecated: i.IncludeDeprecated,
      });
      return {
        ARN: page.arn,
        Name: page.name,
        NextToken: page.nextToken,
        Versions: page.items.map((v) => ({
          VersionId: v.versionId,
          VersionStages: v.stages,
          CreatedDate: new Date(v.createdAt),
          LastAccessedDate: date(v.lastAccessedAt),
          KmsKeyIds: [v.keyArn],
        })),
      };
    },

    async DeleteSecret(p, i: T.DeleteSecretRequest): Promise<T.DeleteSecretResponse> {
      const r = await secrets.delete(p, {
        secretId: i.SecretId,
        recoveryWindowInDays: i.RecoveryWindowInDays,
        forceDeleteWithoutRecovery: i.ForceDeleteWithoutRecovery,
      });
      return { ARN: r.arn || undefined, Name: r.name, DeletionDate: new Date(r.deletionDate) };
    },

    async RestoreSecret(p, i: T.RestoreSecretRequest): Promise<T.RestoreSecretResponse> {
      const r = await secrets.restore(p, { secretId: i.SecretId });
      return { ARN: r.arn, Name: r.name };
    },

    async TagResource(p, i: T.TagResourceRequest): Promise<void> {
      await secrets.tag(p, { secretId: i.SecretId, tags: tagsIn(i.Tags) ?? [] });
    },

    async UntagResource(p, i: T.UntagResourceRequest): Promise<void> {
      await secrets.untag(p, { secretId: i.SecretId, tagKeys: i.TagKeys });
    },

    async PutResourcePolicy(p, i: T.PutResourcePolicyRequest): Promise<T.PutResourcePolicyResponse> {
      const r = await secrets.putResourcePolicy(p, {
        secretId: i.SecretId,
        policy: i.ResourcePolicy,
        blockPublicPolicy: i.BlockPublicPolicy,
      });
      return { ARN: r.arn, Name: r.name };
    },

    async GetResourcePolicy(p, i: T.GetResourcePolicyRequest): Promise<T.GetResourcePolicyResponse> {
      const r = await secrets.getResourcePolicy(p, { secretId: i.SecretId });
      return { ARN: r.arn, Name: r.name, ResourcePolicy: r.policy };
    },

    async DeleteResourcePolicy(p, i: T.DeleteResourcePolicyRequest): Promise<T.DeleteResourcePolicyResponse> {
      const r = await secrets.deleteResourcePolicy(p, { secretId: i.SecretId });
      return { ARN: r.arn, Name: r.name };
    },

    async ValidateResourcePolicy(p, i: T.ValidateResourcePolicyRequest): Promise<T.ValidateResourcePolicyResponse> {
      const r = await secrets.validateResourcePolicy(p, { secretId: i.SecretId, policy: i.ResourcePolicy });
      return {
        PolicyValidationPassed: r.passed,
        ValidationErrors: r.errors.map((e) => ({ CheckName: e.checkName, ErrorMessage: e.message })),
      };
    },

    async RotateSecret(p, i: T.RotateSecretRequest): Promise<T.RotateSecretResponse> {
      const r = await rotation.rotate(p, {
        secretId: i.SecretId,
        token: i.ClientRequestToken,
        functionArn: i.RotationLambdaARN,
        rules: i.RotationRules && {
          automaticallyAfterDays: i.RotationRules.AutomaticallyAfterDays,
          scheduleExpression: i.RotationRules.ScheduleExpression,
          duration: i.RotationRules.Duration,
        },
        rotateImmediately: i.RotateImmediately,
      });
      return { ARN: r.arn, Name: r.name, VersionId: r.versionId };
    },

    async CancelRotateSecret(p, i: T.CancelRotateSecretRequest): Promise<T.CancelRotateSecretResponse> {
      const r = await rotation.cancel(p, { secretId: i.SecretId });
      return { ARN: r.arn, Name: r.name, VersionId: r.versionId };
    },

    async GetRandomPassword(p, i: T.GetRandomPasswordRequest): Promise<T.GetRandomPasswordResponse> {
      const password = await secrets.randomPassword(p, {
        length: i.PasswordLength,
        excludeCharacters: i.ExcludeCharacters,
        excludeNumbers: i.ExcludeNumbers,
        excludePunctuation: i.ExcludePunctuation,
        excludeUppercase: i.ExcludeUppercase,
        excludeLowercase: i.ExcludeLowercase,
        includeSpace: i.IncludeSpace,
        requireEachIncludedType: i.RequireEachIncludedType,
      });
      return { RandomPassword: password };
    },
  };

  return { metadata, shapes, operations, handlers, errorFor: secretsManagerError };
}

/** ReplicateSecretToRegions, RemoveRegionsFromReplication, StopReplicationToReplica (docs/replication.md). */
function replicationHandlers(replication: ReplicationService): Record<string, Handler> {
  return {
    async ReplicateSecretToRegions(p, i: T.ReplicateSecretToRegionsRequest): Promise<T.ReplicateSecretToRegionsResponse> {
      const r = await replication.replicateToRegions(p, {
        secretId: i.SecretId,
        regions: replicaRegionsIn(i.AddReplicaRegions),
        overwrite: i.ForceOverwriteReplicaSecret,
      });
      return { ARN: r.arn, ReplicationStatus: replicationStatusOut(r.replicas) };
    },
    async RemoveRegionsFromReplication(p, i: T.RemoveRegionsFromReplicationRequest): Promise<T.RemoveRegionsFromReplicationResponse> {
      const r = await replication.removeRegions(p, { secretId: i.SecretId, regions: i.RemoveReplicaRegions });
      return { ARN: r.arn, ReplicationStatus: replicationStatusOut(r.replicas) };
    },
    async StopReplicationToReplica(p, i: T.StopReplicationToReplicaRequest): Promise<T.StopReplicationToReplicaResponse> {
      return { ARN: (await replication.stopReplication(p, { secretId: i.SecretId })).arn };
    },
  };
}
