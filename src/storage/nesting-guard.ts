import { AsyncLocalStorage } from "node:async_hooks";

/**
 * Marks code running inside a Store transaction, so a nested call fails
 * loudly instead of waiting on itself forever. On only under test (or with
 * COFFER_CHECK_TRANSACTIONS=1): on Node 20 AsyncLocalStorage turns on promise
 * hooks for the whole process, which costs about 15% of GetSecretValue throughput.
 */
export function createNestingGuard() {
  const inside = process.env.VITEST || process.env.COFFER_CHECK_TRANSACTIONS === "1" ? new AsyncLocalStorage<true>() : undefined;
  return {
    /** The error for a transaction called from inside another (check before queueing or taking a connection). */
    nested(): Error | undefined {
      return inside?.getStore() ? new Error("Store.transaction called inside a transaction") : undefined;
    },
    /** Runs the transaction's body marked as inside. */
    mark<T>(fn: () => Promise<T>): Promise<T> {
      return inside ? inside.run(true, fn) : fn();
    },
  };
}
