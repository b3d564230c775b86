import type { Keyring } from "../../crypto/keyring.ts";
import { CofferError } from "../../shared/errors.ts";
import type { ReplicaState, SecretRecord, Store, StoreTx, VersionRecord } from "../../storage/store.ts";
import type { Authorizer, Principal } from "../identity/identity-types.ts";
import { createSecretLoader } from "../secrets/secrets-access.ts";
import { versionAad } from "../secrets/secrets-fns.ts";
import { queueChange } from "./replication-outbox.ts";
import {
  arnInRegion,
  type ApplyOutcome,
  type ReplicaRegionInput,
  type ReplicaSnapshot,
  type SnapshotVersion,
} from "./replication-types.ts";

export interface ReplicationDeps {
  /** The plain store: replication's own writes queue nothing through the outbox wrapper. */
  store: Store;
  keyring: Pick<Keyring, "resolve" | "seal">;
  authorizer: Authorizer;
  /** Whether this region has a link to `region` (`coffer region add`). */
  hasLink(region: string): Promise<boolean>;
  clock: { now(): number };
  region: string;
  /** Called after a change was queued, so delivery starts at once. */
  onQueued?: () => void;
}

/** Incoming replication is allowed to the link's principal by this action (roots have it; an IAM user needs it granted). */
export const APPLY_ACTION = "coffer:ReplicateSecret";

/**
 * The Secrets Manager replication operations, as AWS defines them
 * (ReplicateSecretToRegions, RemoveRegionsFromReplication,
 * StopReplicationToReplica), and the receiving side of replication: a
 * replica region applying a primary's snapshot, deleting a removed replica,
 * and a primary hearing that its replica was promoted.
 */
export function createReplicationService(deps: ReplicationDeps) {
  const { store, keyring, authorizer, clock, region, hasLink } = deps;
  const { load } = createSecretLoader({ authorizer, region });

  /** Refuses regions this region cannot replicate to, as AWS refuses an unknown region. */
  async function checkRegions(regions: ReplicaRegionInput[]): Promise<void> {
    const seen = new Set<string>();
    for (const r of regions) {
      if (r.region === region || seen.has(r.region) || !(await hasLink(r.region))) {
        throw new CofferError("InvalidParameter", "Invalid replica region.");
      }
      seen.add(r.region);
    }
  }

  const newReplicas = (regions: ReplicaRegionInput[], overwrite: boolean | undefined): ReplicaState[] =>
    regions.map((r) => ({
      region: r.region,
      ...(r.kmsKeyId !== undefined ? { kmsKeyId: r.kmsKeyId } : {}),
      status: "InProgress" as const,
      ...(overwrite ? { overwrite: true } : {}),
    }));

  async function queued<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    const out = await store.transaction(fn);
    deps.onQueued?.();
    return out;
  }

  return {
    checkRegions,
    newReplicas,

    async replicateToRegions(
      principal: Principal,
      input: { secretId: string; regions: ReplicaRegionInput[]; overwrite?: boolean },
    ): Promise<{ arn: string; replicas: ReplicaState[] }> {
      await checkRegions(input.regions);
      return queued(async (tx) => {
        const secret = await load(tx, principal, input.secretId, "secretsmanager:ReplicateSecretToRegions", {
          context: { "secretsmanager:AddReplicaRegions": input.regions.map((r) => r.region), "secretsmanager:ForceOverwriteReplicaSecret": String(Boolean(input.overwrite)) },
        });
        const existing = secret.replication?.replicas ?? [];
        const added = newReplicas(input.regions.filter((r) => !existing.some((e) => e.region === r.region)), input.overwrite);
        const replicas = [...existing, ...added];
        await tx.putSecret({ ...secret, replication: { seq: secret.replication?.seq ?? 0, replicas } });
        await queueChange(tx, secret.arn, clock.now());
        return { arn: secret.arn, replicas };
      });
    },

    async removeRegions(principal: Principal, input: { secretId: string; regions: string[] }): Promise<{ arn: string; replicas: ReplicaState[] }> {
      return queued(async (tx) => {
        const secret = await load(tx, principal, input.secretId, "secretsmanager:RemoveRegionsFromReplication");
        const existing = secret.replication?.replicas ?? [];
        for (const r of input.regions) {
          if (!existing.some((e) => e.region === r)) throw new CofferError("InvalidParameter", "Invalid replica region.");
        }
        const replicas = existing.filter((e) => !input.regions.includes(e.region));
        const now = clock.now();
        const seq = secret.replication?.seq ?? 0;
        const { replication: _r, ...rest } = secret;
        await tx.putSecret(replicas.length > 0 ? { ...secret, replication: { seq, replicas } } : { ...rest, ...(seq > 0 ? { replication: { seq } } : {}) });
        // The replica there is deleted, after any change still on its way (the task for the pair is replaced).
        for (const r of input.regions) {
          await tx.putReplicationTask({ secretArn: secret.arn, region: r, accountId: secret.accountId, kind: "delete", seq, attempts: 0, nextAttemptAt: now, createdAt: now });
        }
        return { arn: secret.arn, replicas };
      });
    },

    /** Promotes a replica to a standalone secret, in this region alone: its primary's region may be down. */
    async stopReplication(principal: Principal, input: { secretId: string }): Promise<{ arn: string }> {
      return queued(async (tx) => {
        const secret = await load(tx, principal, input.secretId, "secretsmanager:StopReplicationToReplica");
        const primaryRegion = secret.replication?.primaryRegion;
        if (primaryRegion === undefined) {
          throw new CofferError("InvalidParameter", "StopReplicationToReplica can only be called on a replica secret, in its own region.");
        }
        const now = clock.now();
        const { replication: _r, ...standalone } = secret;
        // Its rotation schedule, which ran in the primary's region, now runs here.
        const rotateAt = standalone.rotation?.enabled ? standalone.rotation.nextRotationAt : undefined;
        await tx.putSecret({ ...standalone, lastChangedAt: now, ...(rotateAt !== undefined ? { rotateAt } : {}) });
        // The primary drops this replica when it hears of it (retried until its region answers).
        await tx.putReplicationTask({ secretArn: secret.arn, region: primaryRegion, accountId: secret.accountId, kind: "detach", seq: 0, attempts: 0, nextAttemptAt: now, createdAt: now });
        return { arn: secret.arn };
      });
    },

    /** A primary's snapshot arriving here: the replica becomes exactly it, unless it already holds a newer change. */
    async applySnapshot(principal: Principal, snap: ReplicaSnapshot): Promise<ApplyOutcome> {
      const arn = arnInRegion(snap.primaryArn, region);
      if (snap.accountId !== principal.accountId) {
        throw new CofferError("AccessDenied", "The replication link's credentials belong to another account than the secret.");
      }
      await authorizer.authorize({ principal, action: APPLY_ACTION, resource: arn });
      return store.transaction(async (tx) => {
        let existing = await tx.getSecretByName(snap.accountId, snap.name);
        if (existing && (existing.arn !== arn || existing.replication?.primaryRegion !== snap.primaryRegion)) {
          const promoted = existing.arn === arn && existing.replication?.primaryRegion === undefined;
          if (!snap.overwrite) return { outcome: promoted ? "Promoted" : "NameExists" };
          await tx.deleteSecret(existing.arn);
          existing = undefined;
        }
        if (existing && (existing.replication?.seq ?? 0) >= snap.seq) return { outcome: "Stale", lastAccessedAt: existing.lastAccessedAt };
        const local = existing ? await tx.listVersions(arn) : [];
        // A version held here, as far as this snapshot goes: a rotation's placeholder (no value) that has a value
        // in the primary now is not, so its value is taken (asked for if left out), not just its stages.
        const held = (v: SnapshotVersion) => local.find((l) => l.versionId === v.versionId && (l.valueKind !== "none" || v.valueKind === "none"));
        const missing = snap.versions.filter((v) => v.valueKind !== "none" && v.value === undefined && !held(v)).map((v) => v.versionId);
        if (missing.length > 0) return { outcome: "NeedValues", missing };

        const record: SecretRecord = {
          arn,
          accountId: snap.accountId,
          name: snap.name,
          createdAt: existing?.createdAt ?? snap.createdAt,
          lastChangedAt: snap.lastChangedAt,
          tags: snap.tags,
          replication: { primaryRegion: snap.primaryRegion, seq: snap.seq },
        };
        if (snap.description !== undefined) record.description = snap.description;
        if (snap.kmsKeyId !== undefined) record.kmsKeyId = snap.kmsKeyId;
        if (snap.resourcePolicy !== undefined) record.resourcePolicy = snap.resourcePolicy;
        if (snap.rotation !== undefined) record.rotation = snap.rotation;
        if (existing?.lastAccessedAt !== undefined) record.lastAccessedAt = existing.lastAccessedAt;
        await tx.putSecret(record);

        const needsKey = snap.versions.some((v) => v.value !== undefined && !held(v));
        const key = needsKey ? await keyring.resolve(snap.accountId, snap.kmsKeyId, tx) : undefined;
        for (const v of snap.versions) {
          const have = held(v);
          if (have) {
            if (have.stages.join("\n") !== [...v.stages].sort().join("\n")) await tx.putVersion({ ...have, stages: v.stages });
            continue;
          }
          const version: VersionRecord = { secretArn: arn, versionId: v.versionId, createdAt: v.createdAt, stages: v.stages, keyArn: key?.arn ?? "", valueKind: v.valueKind };
          if (v.valueKind !== "none") {
            const envelope = keyring.seal(key!, v.value!, versionAad(arn, v.versionId));
            version.keyArn = envelope.keyArn;
            version.sealedValue = envelope.sealedValue;
            version.wrappedDataKey = envelope.wrappedDataKey;
          } else if (key === undefined) {
            version.keyArn = (await keyring.resolve(snap.accountId, snap.kmsKeyId, tx)).arn;
          }
          await tx.putVersion(version);
        }
        for (const l of local) if (!snap.versions.some((v) => v.versionId === l.versionId)) await tx.deleteVersion(arn, l.versionId);
        return { outcome: "Applied", lastAccessedAt: record.lastAccessedAt };
      });
    },

    /** RemoveRegionsFromReplication in the primary's region: the replica here is deleted at once, as on AWS. */
    async removeReplica(principal: Principal, input: { primaryArn: string; primaryRegion: string }): Promise<void> {
      const arn = arnInRegion(input.primaryArn, region);
      await authorizer.authorize({ principal, action: APPLY_ACTION, resource: arn });
      await store.transaction(async (tx) => {
        const secret = await tx.getSecret(arn);
        if (secret && secret.accountId === principal.accountId && secret.replication?.primaryRegion === input.primaryRegion) await tx.deleteSecret(arn);
      });
    },

    /** The replica in `replicaRegion` was promoted there: this primary no longer replicates to it. */
    async replicaDetached(principal: Principal, input: { primaryArn: string; replicaRegion: string }): Promise<void> {
      await authorizer.authorize({ principal, action: APPLY_ACTION, resource: input.primaryArn });
      await store.transaction(async (tx) => {
        const secret = await tx.getSecret(input.primaryArn);
        if (!secret || secret.accountId !== principal.accountId) return;
        await dropReplica(tx, secret, input.replicaRegion);
      });
    },
  };
}

/** Forgets the replica in `replicaRegion` of this primary, and anything still queued for it. */
export async function dropReplica(tx: StoreTx, secret: SecretRecord, replicaRegion: string): Promise<void> {
  const replicas = secret.replication?.replicas ?? [];
  if (!replicas.some((r) => r.region === replicaRegion)) return;
  const rest = replicas.filter((r) => r.region !== replicaRegion);
  await tx.putSecret({ ...secret, replication: { seq: secret.replication!.seq, ...(rest.length > 0 ? { replicas: rest } : {}) } });
  const task = await tx.getReplicationTask(secret.arn, replicaRegion);
  if (task?.kind === "sync") await tx.deleteReplicationTask(secret.arn, replicaRegion);
}

export type ReplicationService = ReturnType<typeof createReplicationService>;
