import { existsSync, renameSync } from "node:fs";
import { join, resolve } from "node:path";
import { seal } from "../crypto/aead.ts";
import { createKeyring } from "../crypto/keyring.ts";
import { loadMasterKey, type MasterKey, type MasterKeySource } from "../crypto/master-key.ts";
import { resealAccessKeys } from "../services/identity/identity-service.ts";
import { resealFunctionSecrets } from "../services/rotation/rotation-registry.ts";
import { resealRegionLinks } from "../services/replication/region-links.ts";
import type { Store } from "../storage/store.ts";
import { masterKeySource, openExisting } from "./compose.ts";
import { requireData } from "./open-store.ts";
import type { Config } from "./config.ts";
import { KEY_CHECK_SETTING, keyCheck, tryServerLock } from "./data-dir.ts";
import { HANDOFF_SETTING, handoffAad, loadAuditKey, readHandoff, resealAuditKey, type Handoff } from "./master-key-handoff.ts";
import { asOperator } from "./operator-audit.ts";

export interface RotationReport {
  from: string;
  to: string;
  keys: number;
  accessKeys: number;
  functionSecrets: number;
  auditKey: number;
  /** The nodes that took the new key while the rotation ran. */
  adoptedBy: string[];
}

/**
 * Re-wraps everything sealed under `current` (KMS-style key material,
 * access-key secrets, webhook keys, the audit key) under `next`, without
 * touching secret values: their data keys are wrapped by key material, which
 * does not change. `nodes` running servers must take the new key through the
 * handoff first (master-key-handoff.ts), so none of them is ever left unable
 * to open what it reads; if none does within `waitMs`, nothing has changed
 * and the rotation is abandoned. The re-wrap is one transaction: the data is
 * never half under one key and half under the other.
 */
export async function rotateMasterKey(
  store: Store,
  current: MasterKey,
  next: MasterKey,
  { region, nodes, waitMs, pollMs = 200, progress }: { region: string; nodes: number; waitMs: number; pollMs?: number; progress?: (line: string) => void },
): Promise<RotationReport> {
  if (next.id === current.id) throw new Error(`The new master key is the one in use (${current.id}); give a different one.`);
  const keyring = createKeyring({ store, masterKey: current, region, clock: { now: () => Date.now() } });
  // A rotation that stopped half-way may have left servers sealing under its key: that one must still open.
  const earlier = await readHandoff(store);
  if (earlier && earlier.from === current.id && earlier.to !== next.id) {
    const raw = keyring.openWithMaster(earlier.from, Buffer.from(earlier.sealed, "base64"), handoffAad(earlier.from, earlier.to));
    keyring.useMasterKey({ id: earlier.to, key: raw });
  }
  keyring.useMasterKey(next);

  const handoff: Handoff = {
    from: current.id,
    to: next.id,
    sealed: seal(current.key, next.key, handoffAad(current.id, next.id)).toString("base64"),
    adoptedBy: [],
    startedAt: Date.now(),
  };
  await store.transaction((tx) => tx.putSetting(HANDOFF_SETTING, JSON.stringify(handoff)));
  let adoptedBy: string[] = [];
  if (nodes > 0) {
    progress?.(`waiting for ${nodes} running server(s) to take the new master key ${next.id}`);
    const deadline = Date.now() + waitMs;
    for (;;) {
      adoptedBy = (await readHandoff(store))?.adoptedBy ?? [];
      if (adoptedBy.length >= nodes || Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, pollMs));
    }
    if (adoptedBy.length === 0) {
      await store.transaction(async (tx) => {
        // Taken at the last moment: go on rather than strand what that node sealed.
        adoptedBy = (await readHandoff(tx))?.adoptedBy ?? [];
        if (adoptedBy.length === 0) await tx.putSetting(HANDOFF_SETTING, "");
      });
      if (adoptedBy.length === 0) {
        throw new Error(
          `No running server took the new master key within ${Math.round(waitMs / 1000)} s: the rotation is abandoned and nothing changed. ` +
            "Is the server an older Coffer? Stop it and rotate offline, or give --wait-seconds more time.",
        );
      }
    }
    if (adoptedBy.length < nodes) progress?.(`only ${adoptedBy.join(", ")} took the new key; the others must restart with it`);
  }

  const counts = await store.transaction(async (tx) => {
    let keys = 0;
    const accounts = new Set((await tx.listAllAccessKeys()).map((k) => k.accountId));
    for (const accountId of accounts) {
      for (const key of await tx.listKeys(accountId)) {
        const resealed = keyring.resealKey(key);
        if (resealed === key) continue;
        await tx.putKey(resealed);
        keys++;
      }
    }
    const accessKeys = await resealAccessKeys(tx, keyring);
    const functionSecrets = await resealFunctionSecrets(tx, keyring);
    await resealRegionLinks(tx, keyring);
    const auditKey = await resealAuditKey(tx, keyring);
    await tx.putSetting(KEY_CHECK_SETTING, JSON.stringify(keyCheck(next)));
    await tx.putSetting(HANDOFF_SETTING, "");
    return { keys, accessKeys, functionSecrets, auditKey };
  });
  keyring.forgetMasterKeys();
  return { from: current.id, to: next.id, ...counts, adoptedBy };
}

/** Where the new master key comes from: at most one of these; none means a fresh key file replacing the current one. */
export interface NewKeyOptions {
  newKeyFile?: string;
  /** base64, like COFFER_MASTER_KEY. */
  newKey?: string;
  newPassphrase?: string;
  newKeyCommand?: string[];
}

/**
 * `coffer master-key rotate` on a data directory: proves the current key,
 * loads (or makes) the new one, rotates beside a running server (which takes
 * the new key through the handoff) or with the server's lock held when none
 * runs, then puts a new key file or salt in place of the old one.
 */
export async function rotateDataDirMasterKey(
  config: Config,
  options: NewKeyOptions,
  { nodes, waitSeconds, progress }: { nodes?: number; waitSeconds: number; progress(line: string): void },
): Promise<RotationReport & { next: string }> {
  const given = [options.newKeyFile, options.newKey, options.newPassphrase, options.newKeyCommand].filter((v) => v !== undefined);
  if (given.length > 1) throw new Error("Give the new master key one way only: --new-key-file, COFFER_NEW_MASTER_KEY, COFFER_NEW_MASTER_PASSPHRASE or --new-key-command.");
  const source = masterKeySource(config);
  if (given.length === 0 && source.kind !== "file") {
    throw new Error("This data directory's master key does not come from a key file: say where the new one comes from (--new-key-file, COFFER_NEW_MASTER_KEY, COFFER_NEW_MASTER_PASSPHRASE or --new-key-command).");
  }
  requireData(config);
  if (config.databaseUrl && nodes === undefined) {
    throw new Error("On PostgreSQL, say how many nodes run: --nodes N (each takes the new key before anything is re-wrapped; 0 when all are stopped).");
  }
  // No server running: hold its lock, so none starts half-way through.
  const lock = tryServerLock(config.dataDir);
  let store: Store | undefined;
  try {
    const opened = await openExisting(config).catch((err: Error) => {
      const pending = [source.kind === "file" ? `${source.path}.new` : "", join(config.dataDir, "master.salt.new")].find((f) => f && existsSync(f));
      if (!pending) throw err;
      throw new Error(`${err.message} If a rotation stopped after it committed, its new key (or salt) is in ${pending}: move it over ${pending.slice(0, -4)}.`);
    });
    store = opened.store;
    const pendingFile = source.kind === "file" ? `${source.path}.new` : undefined;
    const pendingSalt = join(config.dataDir, "master.salt.new");
    const nextSource: MasterKeySource = options.newKeyFile
      ? { kind: "file", path: resolve(options.newKeyFile) }
      : options.newKey
        ? { kind: "env", base64: options.newKey }
        : options.newPassphrase
          ? { kind: "passphrase", passphrase: options.newPassphrase, saltPath: pendingSalt }
          : options.newKeyCommand
            ? { kind: "command", argv: options.newKeyCommand }
            : { kind: "file", path: pendingFile! };
    // A key file or salt is made when missing; one left by an interrupted rotation is used again.
    const next = await loadMasterKey(nextSource, { create: true });
    const auditKey = await loadAuditKey(store, createKeyring({ store, masterKey: opened.masterKey, region: config.region, clock: { now: () => Date.now() } }), opened.masterKey);
    const openStore = store;
    const report = await asOperator(
      { store, auditKey, region: config.region },
      { eventName: "RotateMasterKey", command: "coffer master-key rotate", accountId: config.accountId, details: { fromKeyId: opened.masterKey.id, toKeyId: next.id } },
      () => rotateMasterKey(openStore, opened.masterKey, next, { region: config.region, nodes: nodes ?? (lock ? 0 : 1), waitMs: waitSeconds * 1000, progress }),
      ({ keys, accessKeys, functionSecrets, auditKey: auditKeys, adoptedBy }) => ({ rewrapped: { keys, accessKeys, functionSecrets, auditKey: auditKeys }, adoptedBy }),
    );
    // Committed: the new key file or salt takes the old one's place (the old key no longer opens anything).
    if (given.length === 0) renameSync(pendingFile!, source.kind === "file" ? source.path : pendingFile!);
    if (options.newPassphrase) renameSync(pendingSalt, join(config.dataDir, "master.salt"));
    const left = (await opened.sealedKeyIds()).filter((id) => id !== next.id);
    if (left.length > 0) progress(`warning: rows sealed under ${left.join(", ")} remain (keys of an account without access keys?); they no longer open`);
    return { ...report, next: describe(given.length === 0 ? source : nextSource) };
  } finally {
    await store?.close();
    lock?.release();
  }
}

function describe(source: MasterKeySource): string {
  switch (source.kind) {
    case "file":
      return `the key file ${source.path}`;
    case "env":
      return "the key given in COFFER_NEW_MASTER_KEY";
    case "passphrase":
      return "the new passphrase";
    case "command":
      return `the key command ${source.argv[0]}`;
  }
}
