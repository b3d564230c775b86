import type { Keyring } from "../../crypto/keyring.ts";
import type { ReplicaState, ReplicationTask, SecretRecord, Store } from "../../storage/store.ts";
import { versionAad } from "../secrets/secrets-fns.ts";
import { dropReplica } from "./replication-service.ts";
import {
  PeerUnreachableError,
  arnInRegion,
  type OpenLink,
  type ReplicaSnapshot,
  type ReplicationPeer,
  type SnapshotVersion,
} from "./replication-types.ts";

/** Tasks sent at once (different secrets or regions; one secret and region is never sent twice at a time). */
const CONCURRENCY = 16;
const BATCH = 200;

/** Retry delay after `attempts` failures: 250 ms doubling, at most `maxMs`. */
export const backoffMs = (attempts: number, maxMs: number) => Math.min(maxMs, 250 * 2 ** Math.min(attempts - 1, 20));

export interface DeliveryDeps {
  store: Store;
  keyring: Pick<Keyring, "open">;
  peer: ReplicationPeer;
  openLink(region: string): Promise<OpenLink | undefined>;
  clock: { now(): number };
  region: string;
  /** The longest wait between two attempts at an unreachable region (default 10 s). */
  maxBackoffMs?: number;
  log?: { warn(obj: object, msg: string): void };
}

/**
 * The delivery loop: sends the outbox's due tasks to their regions. A sync
 * task sends the secret's whole state as it is now (so what arrives is never
 * older than the change that queued it, and several changes waiting are sent
 * as one), the versions' values only where the replica lacks them; the task
 * is deleted only if no newer change replaced it meanwhile. Failures are
 * retried with backoff and shown in the primary's ReplicationStatus: an
 * unreachable region as InProgress with the reason, a refusal as Failed.
 * Run by one node at a time (the caller holds the lease); one pass at a time.
 */
export function createReplicationDelivery(deps: DeliveryDeps) {
  const { store, keyring, peer, clock, region } = deps;
  const maxBackoff = deps.maxBackoffMs ?? 10_000;
  let running: Promise<number> | undefined;
  let again = false;

  async function snapshotOf(secret: SecretRecord, replica: ReplicaState, withValues: (v: { versionId: string }, index: number) => boolean): Promise<ReplicaSnapshot> {
    const versions: SnapshotVersion[] = [];
    const stored = await store.listVersions(secret.arn);
    for (const [i, v] of stored.entries()) {
      const out: SnapshotVersion = { versionId: v.versionId, createdAt: v.createdAt, stages: v.stages, valueKind: v.valueKind };
      if (v.valueKind !== "none" && withValues(v, i)) {
        out.value = await keyring.open(
          { keyArn: v.keyArn, wrappedDataKey: v.wrappedDataKey!, sealedValue: v.sealedValue! },
          versionAad(secret.arn, v.versionId),
        );
      }
      versions.push(out);
    }
    const snap: ReplicaSnapshot = {
      primaryArn: secret.arn,
      primaryRegion: region,
      accountId: secret.accountId,
      name: secret.name,
      seq: secret.replication!.seq,
      tags: secret.tags,
      createdAt: secret.createdAt,
      lastChangedAt: secret.lastChangedAt,
      versions,
    };
    if (secret.description !== undefined) snap.description = secret.description;
    if (replica.kmsKeyId !== undefined) snap.kmsKeyId = replica.kmsKeyId;
    if (secret.resourcePolicy !== undefined) snap.resourcePolicy = secret.resourcePolicy;
    if (secret.rotation) {
      const { inProgress: _i, ...config } = secret.rotation;
      snap.rotation = config;
    }
    if (replica.overwrite) snap.overwrite = true;
    return snap;
  }

  /** Sets the replica's status on the primary (written only when it changes). */
  async function setStatus(arn: string, replicaRegion: string, change: Partial<ReplicaState>, clear: (keyof ReplicaState)[] = []): Promise<void> {
    const changes = (secret: SecretRecord | undefined) => {
      const current = secret?.replication?.replicas?.find((r) => r.region === replicaRegion);
      if (!current) return false;
      const next: ReplicaState = { ...current, ...change };
      for (const k of clear) delete next[k];
      return JSON.stringify(next) !== JSON.stringify(current);
    };
    // Most deliveries change nothing (InSync stays InSync): no transaction for them.
    if (!changes(await store.getSecret(arn))) return;
    await store.transaction(async (tx) => {
      const secret = await tx.getSecret(arn);
      const replicas = secret?.replication?.replicas;
      const current = replicas?.find((r) => r.region === replicaRegion);
      if (!secret || !replicas || !current) return;
      const next: ReplicaState = { ...current, ...change };
      for (const k of clear) delete next[k];
      if (JSON.stringify(next) === JSON.stringify(current)) return;
      await tx.putSecret({ ...secret, replication: { ...secret.replication!, replicas: replicas.map((r) => (r === current ? next : r)) } });
    });
  }

  /** The task is done: deleted, unless a newer change replaced it meanwhile (then it is due again at once). */
  async function done(task: ReplicationTask): Promise<void> {
    await store.transaction(async (tx) => {
      const now = await tx.getReplicationTask(task.secretArn, task.region);
      if (!now) return;
      if (now.kind === task.kind && now.seq === task.seq) return tx.deleteReplicationTask(task.secretArn, task.region);
      await tx.putReplicationTask({ ...now, attempts: 0, nextAttemptAt: clock.now() });
      again = true;
    });
  }

  async function retry(task: ReplicationTask, reason: string): Promise<void> {
    await store.transaction(async (tx) => {
      const now = await tx.getReplicationTask(task.secretArn, task.region);
      if (!now) return;
      const attempts = now.attempts + 1;
      await tx.putReplicationTask({ ...now, attempts, nextAttemptAt: clock.now() + backoffMs(attempts, maxBackoff), lastError: reason });
    });
  }

  async function sync(task: ReplicationTask, link: OpenLink): Promise<void> {
    const secret = await store.getSecret(task.secretArn);
    const replica = secret?.replication?.replicas?.find((r) => r.region === task.region);
    if (!secret || !replica) return done(task);
    // Most changes add at most one version: its value goes with the first attempt, others only if asked for.
    let snap = await snapshotOf(secret, replica, (_v, i) => i === 0);
    let outcome = await peer.apply(link, snap);
    if (outcome.outcome === "NeedValues") {
      const missing = new Set(outcome.missing);
      snap = await snapshotOf(secret, replica, (v, i) => i === 0 || missing.has(v.versionId));
      outcome = await peer.apply(link, snap);
    }
    switch (outcome.outcome) {
      case "Applied":
      case "Stale":
        await setStatus(secret.arn, task.region, { status: "InSync", ...(outcome.lastAccessedAt !== undefined ? { lastAccessedAt: outcome.lastAccessedAt } : {}) }, ["statusMessage", "overwrite"]);
        return done(task);
      case "Promoted":
        // The replica was promoted there: this primary stops replicating to it.
        await store.transaction(async (tx) => {
          const s = await tx.getSecret(secret.arn);
          if (s) await dropReplica(tx, s, task.region);
        });
        return;
      case "NameExists":
        await setStatus(secret.arn, task.region, {
          status: "Failed",
          statusMessage: `Replication failed: a secret named ${secret.name} already exists in ${task.region} and is not this secret's replica. Use ForceOverwriteReplicaSecret to replace it.`,
        });
        return retry(task, "the name exists in the replica region");
      default:
        await setStatus(secret.arn, task.region, { status: "Failed", statusMessage: "Replication failed: the replica region still lacks version values." });
        return retry(task, "values missing");
    }
  }

  async function deliver(task: ReplicationTask): Promise<void> {
    const link = await deps.openLink(task.region);
    try {
      if (!link) throw new Error(`this region has no link to ${task.region} (coffer region add)`);
      if (task.kind === "sync") return await sync(task, link);
      if (task.kind === "delete") await peer.remove(link, { primaryArn: task.secretArn, primaryRegion: region });
      else await peer.detached(link, { primaryArn: arnInRegion(task.secretArn, task.region), replicaRegion: region });
      return await done(task);
    } catch (err) {
      const unreachable = err instanceof PeerUnreachableError;
      const reason = (err as Error).message;
      deps.log?.warn({ region: task.region, secret: task.secretArn, kind: task.kind, err: { message: reason } }, "replication delivery failed; will retry");
      if (task.kind === "sync") {
        await setStatus(task.secretArn, task.region, {
          status: unreachable ? "InProgress" : "Failed",
          statusMessage: unreachable ? `Replication to ${task.region} is waiting for the region: ${reason}` : `Replication failed: ${reason}`,
        });
      }
      await retry(task, reason);
    }
  }

  /** Tasks being sent now, by secret and region: never two at once for one pair. */
  const inFlight = new Set<string>();
  const keyOf = (t: ReplicationTask) => `${t.secretArn}\n${t.region}`;

  /**
   * Sends the due tasks, CONCURRENCY at a time. A change queued while the pass
   * runs (`again`) is fetched by the next free worker rather than after the
   * pass, so one slow region does not hold up the others' changes.
   */
  async function pass(): Promise<number> {
    let delivered = 0;
    const queue: ReplicationTask[] = [];
    let fetching: Promise<void> | undefined;
    const refill = async () => {
      again = false;
      const due = await store.listDueReplicationTasks(clock.now(), BATCH);
      const queued = new Set(queue.map(keyOf));
      for (const t of due) if (!inFlight.has(keyOf(t)) && !queued.has(keyOf(t))) queue.push(t);
      if (due.length === BATCH) again = true;
    };
    let active = 0;
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    // Workers are started for what is queued, up to CONCURRENCY; each also takes what later refills bring.
    const grow = () => {
      for (let n = Math.min(CONCURRENCY - active, queue.length); n > 0; n--) {
        active++;
        void worker()
          .catch((err: Error) => deps.log?.warn({ err: { message: err.message } }, "replication delivery failed; will retry"))
          .finally(() => {
            if (--active === 0) finish();
          });
      }
    };
    const worker = async () => {
      for (;;) {
        if (queue.length === 0 && again) {
          await (fetching ??= refill().finally(() => (fetching = undefined)));
          grow();
        }
        const task = queue.shift();
        if (!task) return;
        inFlight.add(keyOf(task));
        try {
          await deliver(task);
        } finally {
          inFlight.delete(keyOf(task));
        }
        delivered++;
      }
    };
    await refill();
    if (queue.length === 0) return 0;
    grow();
    await finished;
    return delivered;
  }

  return {
    /**
     * Delivers what is due. A call made while a pass runs waits for it and
     * runs one more (a change queued meanwhile is not left for the next beat).
     */
    async run(): Promise<number> {
      if (running) {
        again = true;
        return running;
      }
      running = (async () => {
        let total = 0;
        do {
          again = false;
          total += await pass();
        } while (again);
        return total;
      })().finally(() => (running = undefined));
      return running;
    },
    /** Resolves once no pass is under way (a stopping node waits for it before closing the store). */
    async idle(): Promise<void> {
      await running?.catch(() => undefined);
    },
  };
}

export type ReplicationDelivery = ReturnType<typeof createReplicationDelivery>;
