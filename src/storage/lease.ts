import type { SettingTx, Transactional } from "./store.ts";

/** A lease as it is kept in the settings table: who holds it, and until when (epoch ms). */
export interface Lease {
  node: string;
  until: number;
}

const settingOf = (name: string) => `lease.${name}`;

/**
 * Takes or renews the lease `name` for `node` for `ms`, unless another node
 * holds it unexpired; returns the lease as it stands afterwards (held by
 * `node` or by the other). The read and the write share one serialisable
 * transaction, so of several nodes asking at once exactly one gets it. A
 * node that dies keeps it until `until`; then any node may take it over.
 * Leases compare wall clocks: the nodes' clocks must agree to well within `ms`.
 */
export async function holdLease(store: Transactional<SettingTx>, name: string, node: string, ms: number, now: number): Promise<Lease> {
  return store.transaction(async (tx) => {
    const text = await tx.getSetting(settingOf(name));
    const held = text ? (JSON.parse(text) as Lease) : undefined;
    if (held && held.node !== node && held.until > now) return held;
    const lease = { node, until: now + ms };
    await tx.putSetting(settingOf(name), JSON.stringify(lease));
    return lease;
  });
}

/** Gives the lease up early (a node stopping cleanly), if `node` holds it. */
export async function releaseLease(store: Transactional<SettingTx>, name: string, node: string): Promise<void> {
  await store.transaction(async (tx) => {
    const text = await tx.getSetting(settingOf(name));
    if (text && (JSON.parse(text) as Lease).node === node) await tx.putSetting(settingOf(name), JSON.stringify({ node, until: 0 }));
  });
}

/**
 * One node's leases, asking the store only when the answer can have changed:
 * a lease it holds is renewed once half its time is gone, and one another
 * node holds is asked for again once it has expired.
 */
export function createLeases(store: Transactional<SettingTx>, node: string, clock: { now(): number }) {
  const known = new Map<string, Lease & { ms: number }>();
  return {
    /** Whether this node holds `name` (taking or renewing it for `ms` if it may). */
    async hold(name: string, ms: number): Promise<boolean> {
      const now = clock.now();
      const last = known.get(name);
      if (last && last.ms === ms) {
        if (last.node === node && now < last.until - ms / 2) return true;
        if (last.node !== node && now < last.until) return false;
      }
      const lease = await holdLease(store, name, node, ms, now);
      known.set(name, { ...lease, ms });
      return lease.node === node;
    },
    /** Gives up every lease this node holds (clean stop), so another node takes over at once. */
    async releaseAll(): Promise<void> {
      for (const [name, lease] of known) if (lease.node === node) await releaseLease(store, name, node);
      known.clear();
    },
  };
}

export type Leases = ReturnType<typeof createLeases>;
