import { checkpointKey } from "../audit/audit-log.ts";
import type { Keyring } from "../crypto/keyring.ts";
import { masterKeyId, type MasterKey } from "../crypto/master-key.ts";
import type { Store, StoreTx } from "../storage/store.ts";
import { KEY_CHECK_SETTING } from "./data-dir.ts";

/**
 * How a running server learns a new master key without a restart
 * (docs/master-key.md). `coffer master-key rotate`, holding the current key,
 * writes the new key sealed under the current one (the handoff); each server
 * opens it, seals under the new key from then on and still opens under both,
 * and says so in the handoff. The command then re-wraps everything and
 * removes the handoff in one transaction; a server that sees it gone, with
 * the data's key check naming the new key, forgets the old one.
 */

/** The rotation in progress, if any ("" once finished or abandoned: the store has no setting delete). */
export const HANDOFF_SETTING = "master.handoff";
/** The audit checkpoint key, sealed under the master key (so a rotation keeps the chain verifiable). */
export const AUDIT_KEY_SETTING = "audit.checkpointKey";

export interface Handoff {
  from: string;
  to: string;
  /** The new key, sealed under the `from` key (base64). */
  sealed: string;
  /** The nodes that seal under `to` now. */
  adoptedBy: string[];
  startedAt: number;
}

export const handoffAad = (from: string, to: string) => `coffer master key handoff\n${from}\n${to}`;
const AUDIT_KEY_AAD = "coffer audit checkpoint key";

export async function readHandoff(store: Pick<Store, "getSetting">): Promise<Handoff | undefined> {
  const text = await store.getSetting(HANDOFF_SETTING);
  return text ? (JSON.parse(text) as Handoff) : undefined;
}

/**
 * The audit checkpoint key: sealed in the store under the master key. A data
 * directory without one gets the key earlier versions derived from the master
 * key, so its existing checkpoints stay valid, and from then on it is only
 * re-wrapped, never changed, when the master key rotates.
 */
export async function loadAuditKey(store: Pick<Store, "getSetting" | "transaction">, keyring: Pick<Keyring, "openWithMaster" | "sealWithMaster">, masterKey: MasterKey): Promise<Buffer> {
  const open = (text: string) => {
    const { masterKeyId: id, sealed } = JSON.parse(text) as { masterKeyId: string; sealed: string };
    return keyring.openWithMaster(id, Buffer.from(sealed, "base64"), AUDIT_KEY_AAD);
  };
  const text = await store.getSetting(AUDIT_KEY_SETTING);
  if (text) return open(text);
  return store.transaction(async (tx) => {
    const again = await tx.getSetting(AUDIT_KEY_SETTING);
    if (again) return open(again);
    const key = checkpointKey(masterKey.key);
    const { masterKeyId: id, sealed } = keyring.sealWithMaster(key, AUDIT_KEY_AAD);
    await tx.putSetting(AUDIT_KEY_SETTING, JSON.stringify({ masterKeyId: id, sealed: sealed.toString("base64") }));
    return key;
  });
}

/** Re-wraps the sealed audit key under the keyring's current master key. */
export async function resealAuditKey(tx: Pick<StoreTx, "getSetting" | "putSetting">, keyring: Pick<Keyring, "resealWithMaster">): Promise<number> {
  const text = await tx.getSetting(AUDIT_KEY_SETTING);
  if (!text) return 0;
  const stored = JSON.parse(text) as { masterKeyId: string; sealed: string };
  const next = keyring.resealWithMaster(stored.masterKeyId, Buffer.from(stored.sealed, "base64"), AUDIT_KEY_AAD);
  if (next.masterKeyId === stored.masterKeyId) return 0;
  await tx.putSetting(AUDIT_KEY_SETTING, JSON.stringify({ masterKeyId: next.masterKeyId, sealed: next.sealed.toString("base64") }));
  return 1;
}

/**
 * A server's side of the handoff: `check()` (at start, then every second and
 * whenever another node wrote) takes a new key the handoff offers, and drops
 * the old one once the rotation has finished.
 */
export function createMasterKeyFollower({
  store,
  keyring,
  nodeId,
  log,
}: {
  store: Pick<Store, "getSetting" | "transaction">;
  keyring: Pick<Keyring, "openWithMaster" | "useMasterKey" | "forgetMasterKeys" | "masterKeyIds">;
  nodeId: string;
  log: { info(obj: object, msg: string): void; error(obj: object, msg: string): void };
}) {
  let warned = "";

  async function adopt(h: Handoff): Promise<void> {
    const { current, known } = keyring.masterKeyIds();
    if (h.to === current) return;
    if (!known.includes(h.from)) {
      if (warned !== h.to) log.error({ from: h.from, to: h.to, loaded: current }, "a master key rotation is under way from a key this server does not hold; restart it with the new key");
      warned = h.to;
      return;
    }
    const raw = keyring.openWithMaster(h.from, Buffer.from(h.sealed, "base64"), handoffAad(h.from, h.to));
    if (masterKeyId(raw) !== h.to) {
      raw.fill(0);
      throw new Error("the master key handoff does not hold the key it names");
    }
    // Said before it is done: a rotation abandoned meanwhile (its transaction first) is never switched to.
    const recorded = await store.transaction(async (tx) => {
      const now = await readHandoff(tx);
      if (!now || now.to !== h.to) return false;
      if (!now.adoptedBy.includes(nodeId)) await tx.putSetting(HANDOFF_SETTING, JSON.stringify({ ...now, adoptedBy: [...now.adoptedBy, nodeId] }));
      return true;
    });
    if (!recorded) {
      raw.fill(0);
      return;
    }
    keyring.useMasterKey({ id: h.to, key: raw });
    log.info({ from: h.from, to: h.to }, "master key rotation: sealing under the new master key; both open until the rotation finishes");
  }

  async function finish(): Promise<void> {
    const { current, known } = keyring.masterKeyIds();
    if (known.length === 1) return;
    const check = await store.getSetting(KEY_CHECK_SETTING);
    if (!check || (JSON.parse(check) as { id: string }).id !== current) return;
    // A write empties this process's read cache, which may hold rows as they were sealed before.
    await store.transaction((tx) => tx.putSetting(`master.inUse.${nodeId}`, current));
    keyring.forgetMasterKeys();
    log.info({ masterKeyId: current }, "master key rotation finished: the old master key is forgotten");
  }

  return {
    async check(): Promise<void> {
      const h = await readHandoff(store);
      if (h) await adopt(h);
      else await finish();
    },
  };
}
