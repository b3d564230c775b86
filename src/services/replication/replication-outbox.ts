import type { SecretRecord, Store, StoreTx, VersionRecord } from "../../storage/store.ts";

/**
 * The replication outbox, written in the transaction of every change: a
 * Store whose transactions watch the secret and version writes the
 * services make, and, before committing, give each changed primary that has
 * replicas its next `seq` and a "sync" task per replica region. So no
 * secrets-service path (values, labels, tags, description, policy, rotation
 * results) can change a replicated secret without its replicas hearing of
 * it, and a change that rolls back is never sent. Writes that change nothing
 * a replica holds (a read's LastAccessedDate, a rotation's lease) queue nothing.
 * The delivery loop and incoming replication use the unwrapped store.
 */
export function withReplicationOutbox(store: Store, { clock, onQueued }: { clock: { now(): number }; onQueued?: () => void }): Store {
  async function transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    let queued = false;
    const result = await store.transaction(async (tx) => {
      const touched = new Set<string>();
      const watched = new Proxy(tx, {
        get(target, name, receiver) {
          const value = Reflect.get(target, name, receiver) as unknown;
          if (typeof value !== "function") return value;
          const method = (value as (...a: unknown[]) => Promise<unknown>).bind(target);
          if (name === "putSecret") {
            return async (s: SecretRecord) => {
              if (!touched.has(s.arn) && replicated(await target.getSecret(s.arn)) !== replicated(s)) touched.add(s.arn);
              return method(s);
            };
          }
          if (name === "putVersion") {
            return async (v: VersionRecord) => {
              if (!touched.has(v.secretArn) && versionState(await target.getVersion(v.secretArn, v.versionId)) !== versionState(v)) touched.add(v.secretArn);
              return method(v);
            };
          }
          if (name === "deleteVersion") {
            return async (arn: string, versionId: string) => {
              touched.add(arn);
              return method(arn, versionId);
            };
          }
          return method;
        },
      });
      const out = await fn(watched);
      queued = false;
      for (const arn of touched) if (await queueChange(tx, arn, clock.now())) queued = true;
      return out;
    });
    if (queued) onQueued?.();
    return result;
  }
  return new Proxy(store, {
    get(target, name, receiver) {
      if (name === "transaction") return transaction;
      const value = Reflect.get(target, name, receiver) as unknown;
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * Gives a changed primary with replicas its next seq and each replica region
 * a "sync" task at that seq (a task already waiting keeps its attempts and
 * time: a region that is down is not hammered by every write). Whether it queued.
 */
export async function queueChange(tx: StoreTx, arn: string, now: number): Promise<boolean> {
  const secret = await tx.getSecret(arn);
  const replication = secret?.replication;
  if (!secret || !replication || replication.primaryRegion !== undefined || !replication.replicas?.length) return false;
  const seq = replication.seq + 1;
  await tx.putSecret({ ...secret, replication: { ...replication, seq } });
  for (const replica of replication.replicas) {
    const waiting = await tx.getReplicationTask(arn, replica.region);
    await tx.putReplicationTask({
      secretArn: arn,
      region: replica.region,
      accountId: secret.accountId,
      kind: "sync",
      seq,
      attempts: waiting?.kind === "sync" ? waiting.attempts : 0,
      nextAttemptAt: waiting?.kind === "sync" ? waiting.nextAttemptAt : now,
      createdAt: waiting?.createdAt ?? now,
      ...(waiting?.lastError !== undefined ? { lastError: waiting.lastError } : {}),
    });
  }
  return true;
}

/** What of a secret record a replica holds, as text to compare (not the local dates, the rotation lease, or replication itself). */
function replicated(s: SecretRecord | undefined): string {
  if (!s) return "";
  const { lastAccessedAt: _a, rotateAt: _r, replication: _p, rotation, ...rest } = s;
  const { inProgress: _i, ...config } = rotation ?? { inProgress: undefined };
  return JSON.stringify({ ...rest, rotation: rotation && config });
}

function versionState(v: VersionRecord | undefined): string {
  if (!v) return "";
  return JSON.stringify([v.stages, v.valueKind, v.keyArn, v.sealedValue?.toString("base64")]);
}
