import { CofferError } from "../../shared/errors.ts";
import type { ReplicaRegionInput } from "../../services/replication/replication-types.ts";
import type { ReplicaState } from "../../services/secrets/secrets-types.ts";
import type * as T from "./generated/types.ts";

/** AddReplicaRegions as the replication service takes it (Region is required in each entry). */
export function replicaRegionsIn(regions: T.ReplicaRegionType[] | undefined): ReplicaRegionInput[] {
  return (regions ?? []).map((r) => {
    if (r.Region === undefined) throw new CofferError("InvalidParameter", "Invalid replica region.");
    return { region: r.Region, ...(r.KmsKeyId !== undefined ? { kmsKeyId: r.KmsKeyId } : {}) };
  });
}

/** ReplicationStatus: each replica's region, key (its region's aws/secretsmanager unless named), status and message. */
export function replicationStatusOut(replicas: ReplicaState[]): T.ReplicationStatusType[] {
  return replicas.map((r) => ({
    Region: r.region,
    KmsKeyId: r.kmsKeyId ?? "alias/aws/secretsmanager",
    Status: r.status,
    StatusMessage: r.statusMessage,
    LastAccessedDate: r.lastAccessedAt === undefined ? undefined : new Date(r.lastAccessedAt),
  }));
}
