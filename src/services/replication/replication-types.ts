import type { RegionLinkRecord, ReplicaState, RotationState, Tag } from "../../storage/store.ts";

export type { ReplicaState };

/** AWS's wording (InvalidParameterException) for a write sent to a replica. */
export const REPLICA_WRITE_REFUSED = "Operation not permitted on a replica secret. Call must be made in primary secret's region.";

/** AWS's wording (InvalidParameterException) for deleting a primary that still has replicas. */
export const deleteWithReplicasRefused = (arn: string, regions: string[]) =>
  `You can't delete secret ${arn} that still has replica regions [${regions.join(", ")}].`;

/** The same secret in another region: its ARN with that region (name and suffix stay). */
export function arnInRegion(arn: string, region: string): string {
  const parts = arn.split(":");
  parts[3] = region;
  return parts.join(":");
}

/** A replica region asked for (AddReplicaRegions). */
export interface ReplicaRegionInput {
  region: string;
  kmsKeyId?: string;
}

/** One version as it travels to a replica region: its value only where the replica lacks it. */
export interface SnapshotVersion {
  versionId: string;
  createdAt: number;
  stages: string[];
  valueKind: "string" | "binary" | "none";
  value?: Buffer;
}

/**
 * A primary secret's whole replicated state at change `seq`: what a replica
 * becomes when it applies it (values travel in plaintext over the link only,
 * and are sealed again under the replica region's key).
 */
export interface ReplicaSnapshot {
  primaryArn: string;
  primaryRegion: string;
  accountId: string;
  name: string;
  seq: number;
  description?: string;
  /** The key in the replica region (default: its aws/secretsmanager). */
  kmsKeyId?: string;
  tags: Tag[];
  resourcePolicy?: string;
  createdAt: number;
  lastChangedAt: number;
  /** The rotation configuration, shown by DescribeSecret there; rotation itself runs only in the primary. */
  rotation?: Omit<RotationState, "inProgress">;
  /** Replace a secret of the same name that is not this secret's replica. */
  overwrite?: boolean;
  versions: SnapshotVersion[];
}

/** What a replica region answers to a snapshot. */
export type ApplyOutcome =
  | { outcome: "Applied" | "Stale"; lastAccessedAt?: number }
  /** Values of versions the replica does not hold yet were left out: send again with these. */
  | { outcome: "NeedValues"; missing: string[] }
  /** A secret of that name exists there that is not this secret's replica (no ForceOverwriteReplicaSecret). */
  | { outcome: "NameExists" }
  /** The replica was promoted to a standalone secret there (StopReplicationToReplica). */
  | { outcome: "Promoted" };

/** A link with its credentials opened, for the peer client. */
export interface OpenLink {
  name: string;
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  caCertificate?: string;
}

/** Thrown by a peer client when the region could not be reached (retried, status InProgress). */
export class PeerUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PeerUnreachableError";
  }
}

/**
 * How this region talks to a linked one (src/app/replication-peer.ts: Coffer's
 * replication API there, signed with the link's credentials). Any other
 * error than PeerUnreachableError is the peer's refusal.
 */
export interface ReplicationPeer {
  apply(link: OpenLink, snapshot: ReplicaSnapshot): Promise<ApplyOutcome>;
  /** Deletes the replica of `primaryArn` there (RemoveRegionsFromReplication). */
  remove(link: OpenLink, input: { primaryArn: string; primaryRegion: string }): Promise<void>;
  /** Tells the primary's region that its replica in `replicaRegion` was promoted. */
  detached(link: OpenLink, input: { primaryArn: string; replicaRegion: string }): Promise<void>;
}

export type { RegionLinkRecord };
