import type { Logger } from "pino";
import { cofferReplicationApi } from "../api/coffer/replication-handlers.ts";
import type { Keyring } from "../crypto/keyring.ts";
import type { Authorizer } from "../services/identity/identity-types.ts";
import { createRegionLinks } from "../services/replication/region-links.ts";
import { createReplicationDelivery } from "../services/replication/replication-delivery.ts";
import { withReplicationOutbox } from "../services/replication/replication-outbox.ts";
import { createReplicationService } from "../services/replication/replication-service.ts";
import type { Store } from "../storage/store.ts";
import { createReplicationPeer } from "./replication-peer.ts";
import { leaseMsOf } from "./scheduler.ts";

/** The scheduler job that delivers the outbox; its lease is the one a change's immediate delivery asks for too. */
export const REPLICATION_JOB = "replication";

/**
 * Multi-region replication, wired (docs/replication.md): the store secrets
 * and rotation write through (the outbox), the replication service and its
 * API for linked regions, and the delivery loop, run by the node holding the
 * replication lease: on its schedule, and at once after a change this node
 * queued (so a change reaches the replicas in about one round trip).
 */
export function startReplication({
  store,
  keyring,
  authorizer,
  clock,
  region,
  log,
  pollSeconds = 1,
  retryMaxSeconds = 10,
}: {
  store: Store;
  keyring: Keyring;
  authorizer: Authorizer;
  clock: { now(): number };
  region: string;
  log: Logger;
  pollSeconds?: number;
  retryMaxSeconds?: number;
}) {
  let lease: ((name: string, ms: number) => Promise<boolean>) | undefined;
  let stopped = false;
  const links = createRegionLinks({ store, keyring, region, clock });
  const delivery = createReplicationDelivery({
    store,
    keyring,
    peer: createReplicationPeer(),
    openLink: (name) => links.open(name),
    clock,
    region,
    maxBackoffMs: retryMaxSeconds * 1000,
    log,
  });
  const leaseMs = leaseMsOf({ name: REPLICATION_JOB, everySeconds: pollSeconds, run: async () => undefined });
  const kick = () => {
    if (stopped || !lease) return;
    void (async () => {
      if (await lease!(`job.${REPLICATION_JOB}`, leaseMs)) await delivery.run();
    })().catch((err: Error) => log.error({ err: { message: err.message } }, "replication delivery failed"));
  };
  const outboxStore = withReplicationOutbox(store, { clock, onQueued: kick });
  const service = createReplicationService({
    store,
    keyring,
    authorizer,
    clock,
    region,
    hasLink: async (name) => (await store.getRegionLink(name)) !== undefined,
    onQueued: kick,
  });
  return {
    outboxStore,
    service,
    api: cofferReplicationApi(service),
    links,
    /** The node's leases (several nodes on one database deliver from one node at a time). */
    useLease(hold: (name: string, ms: number) => Promise<boolean>) {
      lease = hold;
    },
    /** One delivery pass (the scheduler's job, which already holds the lease). */
    deliver: () => (stopped ? Promise.resolve(0) : delivery.run()),
    /** No more deliveries; resolves once the one under way is done. */
    async stop(): Promise<void> {
      stopped = true;
      await delivery.idle();
    },
  };
}
