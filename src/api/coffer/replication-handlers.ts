import type { ApiService, Handler } from "../api-service.ts";
import type { ReplicationService } from "../../services/replication/replication-service.ts";
import type { ReplicaSnapshot } from "../../services/replication/replication-types.ts";
import { secretsManagerError } from "../secretsmanager/secretsmanager-errors.ts";
import { metadata, operations, shapes } from "./replication-model.ts";

/** The wire form of a snapshot (replication-model.ts); also what the peer client sends. */
export interface ApplyReplicaWire {
  PrimaryArn: string;
  PrimaryRegion: string;
  AccountId: string;
  Name: string;
  Seq: number;
  Description?: string;
  KmsKeyId?: string;
  Tags: { Key: string; Value: string }[];
  ResourcePolicy?: string;
  CreatedDate: number;
  LastChangedDate: number;
  Rotation?: string;
  ForceOverwrite?: boolean;
  Versions: { VersionId: string; CreatedDate: number; Stages: string[]; ValueKind: "string" | "binary" | "none"; Value?: Uint8Array | string }[];
}

export function snapshotIn(i: ApplyReplicaWire): ReplicaSnapshot {
  const snap: ReplicaSnapshot = {
    primaryArn: i.PrimaryArn,
    primaryRegion: i.PrimaryRegion,
    accountId: i.AccountId,
    name: i.Name,
    seq: i.Seq,
    tags: i.Tags.map((t) => ({ key: t.Key, value: t.Value })),
    createdAt: i.CreatedDate,
    lastChangedAt: i.LastChangedDate,
    versions: i.Versions.map((v) => ({
      versionId: v.VersionId,
      createdAt: v.CreatedDate,
      stages: v.Stages,
      valueKind: v.ValueKind,
      ...(v.Value !== undefined ? { value: Buffer.from(v.Value as Uint8Array) } : {}),
    })),
  };
  if (i.Description !== undefined) snap.description = i.Description;
  if (i.KmsKeyId !== undefined) snap.kmsKeyId = i.KmsKeyId;
  if (i.ResourcePolicy !== undefined) snap.resourcePolicy = i.ResourcePolicy;
  if (i.Rotation !== undefined) snap.rotation = JSON.parse(i.Rotation) as ReplicaSnapshot["rotation"];
  if (i.ForceOverwrite) snap.overwrite = true;
  return snap;
}

export function snapshotOut(s: ReplicaSnapshot): ApplyReplicaWire {
  return {
    PrimaryArn: s.primaryArn,
    PrimaryRegion: s.primaryRegion,
    AccountId: s.accountId,
    Name: s.name,
    Seq: s.seq,
    Description: s.description,
    KmsKeyId: s.kmsKeyId,
    Tags: s.tags.map((t) => ({ Key: t.key, Value: t.value })),
    ResourcePolicy: s.resourcePolicy,
    CreatedDate: s.createdAt,
    LastChangedDate: s.lastChangedAt,
    Rotation: s.rotation && JSON.stringify(s.rotation),
    ForceOverwrite: s.overwrite,
    Versions: s.versions.map((v) => ({
      VersionId: v.versionId,
      CreatedDate: v.createdAt,
      Stages: v.stages,
      ValueKind: v.valueKind,
      Value: v.value?.toString("base64"),
    })),
  };
}

/** The receiving side of replication: a linked region's calls, as the link's principal (docs/replication.md). */
export function cofferReplicationApi(replication: ReplicationService): ApiService {
  const handlers: Record<string, Handler> = {
    async ApplyReplica(p, i: ApplyReplicaWire) {
      const r = await replication.applySnapshot(p, snapshotIn(i));
      return {
        Outcome: r.outcome,
        Missing: r.outcome === "NeedValues" ? r.missing : undefined,
        LastAccessedDate: "lastAccessedAt" in r ? r.lastAccessedAt : undefined,
      };
    },
    async RemoveReplica(p, i: { PrimaryArn: string; PrimaryRegion: string }) {
      await replication.removeReplica(p, { primaryArn: i.PrimaryArn, primaryRegion: i.PrimaryRegion });
      return {};
    },
    async ReplicaPromoted(p, i: { PrimaryArn: string; ReplicaRegion: string }) {
      await replication.replicaDetached(p, { primaryArn: i.PrimaryArn, replicaRegion: i.ReplicaRegion });
      return {};
    },
  };
  return { metadata, shapes, operations, handlers, errorFor: secretsManagerError };
}
