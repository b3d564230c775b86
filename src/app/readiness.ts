import type { MasterKey } from "../crypto/master-key.ts";
import type { Store } from "../storage/store.ts";
import { masterKeyStillOpens } from "./data-dir.ts";

interface ReadinessDeps {
  store: Pick<Store, "getSetting" | "sync">;
  masterKey: MasterKey;
  /** Undefined while the audit trail can be written (audit-log.ts `unhealthy`); absent with auditing off. */
  audit?: { unhealthy(): Promise<string | undefined> };
  log: { warn(obj: object, msg: string): void; info(msg: string): void };
}

/**
 * GET /ready: why this node cannot serve requests, or undefined. In order:
 * the store answers a trivial read (after catching up with other nodes on a
 * shared database), the master key in memory is still the one the data is
 * sealed under, and the audit trail can be written (requests fail closed
 * without it). The reason given over HTTP is one fixed sentence per
 * component, since /ready needs no credentials; the details go to the log,
 * once per change.
 */
export function createReadiness({ store, masterKey, audit, log }: ReadinessDeps): () => Promise<string | undefined> {
  let last: string | undefined;

  async function check(): Promise<{ reason: string; detail?: string } | undefined> {
    let opens: boolean;
    try {
      await store.sync?.();
      opens = await masterKeyStillOpens(store, masterKey);
    } catch (err) {
      return { reason: "store: the database cannot be read", detail: (err as Error).message };
    }
    if (!opens) return { reason: "master key: the key this server holds no longer opens its data (rotated or replaced elsewhere)" };
    const auditFailure = await audit?.unhealthy();
    if (auditFailure !== undefined) return { reason: "audit: the audit trail cannot be written, so requests fail closed", detail: auditFailure };
    return undefined;
  }

  return async () => {
    const outcome = await check();
    const reason = outcome?.reason;
    if (reason !== last) {
      if (outcome) log.warn({ reason, detail: outcome.detail }, "not ready");
      else log.info("ready again");
      last = reason;
    }
    return reason;
  };
}
