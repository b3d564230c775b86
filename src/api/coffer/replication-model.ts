import type { OperationSpec, ServiceMetadata, Shape } from "../../shared/shape-types.ts";

/**
 * Coffer's replication API, what one region calls in another
 * (src/app/replication-peer.ts, docs/replication.md): awsJson 1.1,
 * X-Amz-Target CofferReplication.<Operation>, signed for service "coffer"
 * with the link's credentials. Hand-written because no AWS model describes it.
 * A version's value is sensitive: the audit trail never records it.
 */
export const metadata = {
  protocol: "json",
  apiVersion: "2026-12-01",
  endpointPrefix: "coffer",
  signingName: "coffer",
  serviceId: "CofferReplication",
  targetPrefix: "CofferReplication",
  jsonVersion: "1.1",
} as const satisfies ServiceMetadata;

const SECRET = "AWS::SecretsManager::Secret";

export const operations = {
  ApplyReplica: {
    input: "ApplyReplicaRequest",
    output: "ApplyReplicaResponse",
    errors: ["InvalidParameterException", "AccessDeniedException"],
    readOnly: false,
    resources: [{ member: "PrimaryArn", type: SECRET }],
  },
  RemoveReplica: {
    input: "RemoveReplicaRequest",
    errors: ["AccessDeniedException"],
    readOnly: false,
    resources: [{ member: "PrimaryArn", type: SECRET }],
  },
  ReplicaPromoted: {
    input: "ReplicaPromotedRequest",
    errors: ["AccessDeniedException"],
    readOnly: false,
    resources: [{ member: "PrimaryArn", type: SECRET }],
  },
} as const satisfies Record<string, OperationSpec>;

export const shapes: Record<string, Shape> = {
  Arn: { type: "string", min: 20, max: 2048 },
  Region: { type: "string", min: 1, max: 128, pattern: "^([a-z]+-)+\\d+$" },
  AccountId: { type: "string", pattern: "^\\d{12}$" },
  Name: { type: "string", min: 1, max: 512 },
  Text: { type: "string", max: 20480 },
  Seq: { type: "long", min: 0 },
  Millis: { type: "long", min: 0 },
  Flag: { type: "boolean" },
  Stage: { type: "string", min: 1, max: 256 },
  Stages: { type: "list", member: { shape: "Stage" }, max: 20 },
  ValueKind: { type: "string", enum: ["string", "binary", "none"] },
  Value: { type: "blob", max: 65536, sensitive: true },
  VersionId: { type: "string", min: 32, max: 64 },
  VersionIds: { type: "list", member: { shape: "VersionId" } },
  Version: {
    type: "structure",
    members: {
      VersionId: { shape: "VersionId" },
      CreatedDate: { shape: "Millis" },
      Stages: { shape: "Stages" },
      ValueKind: { shape: "ValueKind" },
      Value: { shape: "Value" },
    },
    required: ["VersionId", "CreatedDate", "Stages", "ValueKind"],
  },
  Versions: { type: "list", member: { shape: "Version" }, max: 200 },
  TagKey: { type: "string", min: 1, max: 128 },
  TagValue: { type: "string", max: 256 },
  Tag: { type: "structure", members: { Key: { shape: "TagKey" }, Value: { shape: "TagValue" } }, required: ["Key", "Value"] },
  Tags: { type: "list", member: { shape: "Tag" }, max: 50 },
  ApplyReplicaRequest: {
    type: "structure",
    members: {
      PrimaryArn: { shape: "Arn" },
      PrimaryRegion: { shape: "Region" },
      AccountId: { shape: "AccountId" },
      Name: { shape: "Name" },
      Seq: { shape: "Seq" },
      Description: { shape: "Text" },
      KmsKeyId: { shape: "Arn" },
      Tags: { shape: "Tags" },
      ResourcePolicy: { shape: "Text" },
      CreatedDate: { shape: "Millis" },
      LastChangedDate: { shape: "Millis" },
      Rotation: { shape: "Text" },
      ForceOverwrite: { shape: "Flag" },
      Versions: { shape: "Versions" },
    },
    required: ["PrimaryArn", "PrimaryRegion", "AccountId", "Name", "Seq", "Tags", "CreatedDate", "LastChangedDate", "Versions"],
  },
  Outcome: { type: "string", enum: ["Applied", "Stale", "NeedValues", "NameExists", "Promoted"] },
  ApplyReplicaResponse: {
    type: "structure",
    members: { Outcome: { shape: "Outcome" }, Missing: { shape: "VersionIds" }, LastAccessedDate: { shape: "Millis" } },
  },
  RemoveReplicaRequest: {
    type: "structure",
    members: { PrimaryArn: { shape: "Arn" }, PrimaryRegion: { shape: "Region" } },
    required: ["PrimaryArn", "PrimaryRegion"],
  },
  ReplicaPromotedRequest: {
    type: "structure",
    members: { PrimaryArn: { shape: "Arn" }, ReplicaRegion: { shape: "Region" } },
    required: ["PrimaryArn", "ReplicaRegion"],
  },
};
