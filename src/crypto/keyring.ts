import { randomUUID } from "node:crypto";
import { CofferError } from "../shared/errors.ts";
import type { KeyMeta, KeyReads, KeyRecord, KeyStore, KeyTx } from "../storage/store.ts";
import { open, randomKey, seal } from "./aead.ts";
import type { MasterKey } from "./master-key.ts";
import { kmsKeyArn } from "../shared/arn.ts";

/** The alias every account's default secret key carries, as on AWS. */
export const DEFAULT_SECRET_KEY_ALIAS = "alias/aws/secretsmanager";
/** The default key of SecureString parameters, as on AWS. */
export const DEFAULT_PARAMETER_KEY_ALIAS = "alias/aws/ssm";

/** AWS-managed default keys: created in an account the first time something names them. */
export const DEFAULT_KEYS: Record<string, string> = {
  [DEFAULT_SECRET_KEY_ALIAS]: "Default key that protects my Secrets Manager data",
  [DEFAULT_PARAMETER_KEY_ALIAS]: "Default key that protects my SSM parameters when no other key is defined",
};

export interface Envelope {
  keyArn: string;
  wrappedDataKey: Buffer;
  sealedValue: Buffer;
}

export interface Keyring {
  /**
   * Finds the key a secret names (key id, key ARN, alias name or alias ARN) in
   * the account; with no name, the account's default key. The AWS-managed
   * default keys (alias/aws/secretsmanager, alias/aws/ssm) are created on first use.
   */
  resolve(accountId: string, keyName?: string, tx?: KeyTx): Promise<KeyRecord>;
  /** Seals `plaintext` under a fresh data key, wrapped by `key`; `aad` binds the ciphertext to its place. */
  seal(key: KeyRecord, plaintext: Buffer, aad: string): Envelope;
  /**
   * Opens an envelope sealed by `seal` with the same `aad`. `key`: the
   * envelope's key record when the caller already holds it (it is looked up
   * otherwise); it must be the key `envelope.keyArn` names.
   */
  open(envelope: Envelope, aad: string, key?: KeyRecord): Promise<Buffer>;
  /** A new key: fresh material sealed under the master key (the caller stores it). */
  newKey(input: { keyId: string; accountId: string; meta: KeyMeta }): KeyRecord;
  /** KMS Encrypt: seals up to 4 KiB directly under a key's material. */
  sealWithKey(key: KeyRecord, plaintext: Buffer, aad: string): Buffer;
  openWithKey(key: KeyRecord, sealed: Buffer, aad: string): Buffer;
  /** Seals a small secret (an access key's secret) directly under the master key. */
  sealWithMaster(plaintext: Buffer, aad: string): { masterKeyId: string; sealed: Buffer };
  openWithMaster(masterKeyId: string, sealed: Buffer, aad: string): Buffer;
  /**
   * Master key rotation (docs/master-key.md): `next` becomes the key that
   * seals; every key this keyring knew still opens, until forgetMasterKeys().
   */
  useMasterKey(next: MasterKey): void;
  /** Drops (and zero-fills) every master key but the one that seals. */
  forgetMasterKeys(): void;
  /** The id of the master key that seals, and of every one that opens. */
  masterKeyIds(): { current: string; known: string[] };
  /** Something sealed under a known master key, sealed again under the current one (unchanged if it is already). */
  resealWithMaster(masterKeyId: string, sealed: Buffer, aad: string): { masterKeyId: string; sealed: Buffer };
  /** A key record whose material is sealed under the current master key. */
  resealKey(key: KeyRecord): KeyRecord;
}

interface KeyringDeps {
  store: Pick<KeyStore, "transaction" | "getKey" | "getAlias">;
  masterKey: MasterKey;
  region: string;
  clock: { now(): number };
  /** Unwrapped data keys kept in memory (default 1024; 0 keeps none). */
  dataKeyCacheSize?: number;
}

/** How long an unwrapped data key stays in memory after its last use. */
const DATA_KEY_TTL_MS = 5 * 60_000;

interface CachedDataKey {
  keyArn: string;
  wrapped: Buffer;
  dataKey: Buffer;
  lastUsed: number;
}

/**
 * Three tiers, as KMS and Secrets Manager do it: the master key wraps each
 * KMS-style key's material; a key's material wraps each version's data key;
 * the data key seals the value. Rotating the master key re-wraps key
 * material only. Unwrapped key material is cached in memory, and so are
 * recently used data keys (per version: its AAD, checked against the wrapped
 * bytes), so a read of a hot secret is one AES open, not two. The data key
 * cache is bounded (LRU), in memory only, entries unused for 5 minutes are
 * dropped, and every dropped key is zero-filled. It never decides access: the
 * key record is still looked up (a deleted key fails) and callers check the
 * key's state and permissions before opening, as without it.
 */
export function createKeyring({ store, masterKey: first, region, clock, dataKeyCacheSize = 1024 }: KeyringDeps): Keyring {
  // The key that seals, and every key that opens (more than one only while the master key rotates).
  let masterKey = first;
  const masterKeys = new Map<string, MasterKey>([[first.id, first]]);
  const material = new Map<string, Buffer>();
  const dataKeys = new Map<string, CachedDataKey>();

  function forgetDataKey(aad: string, entry: CachedDataKey) {
    dataKeys.delete(aad);
    entry.dataKey.fill(0);
  }

  /** The unwrapped data key of an envelope: from the cache when the same wrapped bytes were opened lately. */
  function dataKeyOf(key: KeyRecord, envelope: Envelope, aad: string): { dataKey: Buffer; cached: boolean } {
    const now = clock.now();
    const hit = dataKeys.get(aad);
    if (hit) {
      if (hit.keyArn === key.arn && hit.wrapped.equals(envelope.wrappedDataKey) && now - hit.lastUsed < DATA_KEY_TTL_MS) {
        // Most recently used last: Map order is the LRU order.
        dataKeys.delete(aad);
        dataKeys.set(aad, hit);
        hit.lastUsed = now;
        return { dataKey: hit.dataKey, cached: true };
      }
      forgetDataKey(aad, hit);
    }
    const dataKey = open(unwrapMaterial(key), envelope.wrappedDataKey, `${key.arn}\n${aad}`);
    if (dataKeyCacheSize <= 0) return { dataKey, cached: false };
    // The oldest entries first: evict past the bound, and any unused past the TTL.
    for (const [oldAad, old] of dataKeys) {
      if (dataKeys.size < dataKeyCacheSize && now - old.lastUsed < DATA_KEY_TTL_MS) break;
      forgetDataKey(oldAad, old);
    }
    dataKeys.set(aad, { keyArn: key.arn, wrapped: Buffer.from(envelope.wrappedDataKey), dataKey, lastUsed: now });
    return { dataKey, cached: true };
  }

  function unwrapMaterial(key: KeyRecord): Buffer {
    let m = material.get(key.keyId);
    if (!m) {
      m = openWithMaster(key.masterKeyId, key.sealedMaterial, key.arn);
      material.set(key.keyId, m);
    }
    return m;
  }

  function openWithMaster(masterKeyId: string, sealed: Buffer, aad: string): Buffer {
    const key = masterKeys.get(masterKeyId);
    if (!key) {
      throw new CofferError(
        "DecryptionFailure",
        `This item is sealed under master key ${masterKeyId}, but the loaded master key is ${masterKey.id}.`,
      );
    }
    return open(key.key, sealed, aad);
  }

  function resealWithMaster(masterKeyId: string, sealed: Buffer, aad: string): { masterKeyId: string; sealed: Buffer } {
    if (masterKeyId === masterKey.id) return { masterKeyId, sealed };
    const plain = openWithMaster(masterKeyId, sealed, aad);
    try {
      return { masterKeyId: masterKey.id, sealed: seal(masterKey.key, plain, aad) };
    } finally {
      plain.fill(0);
    }
  }

  async function findKey(
    reader: Pick<KeyReads, "getKey" | "getAlias">,
    accountId: string,
    keyName: string,
  ): Promise<KeyRecord | undefined> {
    const arnMatch = /^arn:[^:]+:kms:[^:]*:(\d{12}):(key|alias)\/(.+)$/.exec(keyName);
    if (arnMatch) {
      const [, account, kind, rest] = arnMatch;
      if (kind === "key") return reader.getKey(rest);
      return findKey(reader, account, `alias/${rest}`);
    }
    if (keyName.startsWith("alias/")) {
      const alias = await reader.getAlias(accountId, keyName);
      return alias && reader.getKey(alias.keyId);
    }
    const key = await reader.getKey(keyName);
    return key && key.accountId === accountId ? key : undefined;
  }

  function newKey({ keyId, accountId, meta }: { keyId: string; accountId: string; meta: KeyMeta }): KeyRecord {
    const arn = kmsKeyArn(region, accountId, keyId);
    return {
      keyId,
      arn,
      accountId,
      createdAt: clock.now(),
      masterKeyId: masterKey.id,
      sealedMaterial: seal(masterKey.key, randomKey(), arn),
      meta,
    };
  }

  async function createDefaultKey(tx: KeyTx, accountId: string, aliasName: string): Promise<KeyRecord> {
    const existing = await tx.getAlias(accountId, aliasName);
    if (existing) return (await tx.getKey(existing.keyId))!;
    const keyId = randomUUID();
    const key = newKey({
      keyId,
      accountId,
      meta: { description: DEFAULT_KEYS[aliasName], managedBy: "AWS", state: "Enabled" },
    });
    await tx.putKey(key);
    await tx.putAlias({ accountId, aliasName, keyId });
    return key;
  }

  return {
    async resolve(accountId, keyName, tx) {
      const name = keyName ?? DEFAULT_SECRET_KEY_ALIAS;
      const key = await findKey(tx ?? store, accountId, name);
      if (key) return key;
      if (Object.hasOwn(DEFAULT_KEYS, name)) {
        return tx ? createDefaultKey(tx, accountId, name) : store.transaction((t) => createDefaultKey(t, accountId, name));
      }
      throw new CofferError("NotFound", `The KMS key ${keyName} can't be found in account ${accountId}.`);
    },

    seal(key, plaintext, aad) {
      const dataKey = randomKey();
      try {
        return {
          keyArn: key.arn,
          wrappedDataKey: seal(unwrapMaterial(key), dataKey, `${key.arn}\n${aad}`),
          sealedValue: seal(dataKey, plaintext, aad),
        };
      } finally {
        dataKey.fill(0);
      }
    },

    async open(envelope, aad, known) {
      const keyId = envelope.keyArn.slice(envelope.keyArn.lastIndexOf("/") + 1);
      const key = known && known.keyId === keyId ? known : await store.getKey(keyId);
      if (!key) throw new CofferError("DecryptionFailure", "The key that encrypted this secret no longer exists.");
      const { dataKey, cached } = dataKeyOf(key, envelope, aad);
      try {
        return open(dataKey, envelope.sealedValue, aad);
      } finally {
        if (!cached) dataKey.fill(0);
      }
    },

    newKey,

    sealWithKey(key, plaintext, aad) {
      // Domain-separated from data-key wrapping, so no KMS ciphertext can ever pass for a wrapped data key.
      return seal(unwrapMaterial(key), plaintext, `kms\n${key.arn}\n${aad}`);
    },

    openWithKey(key, sealed, aad) {
      return open(unwrapMaterial(key), sealed, `kms\n${key.arn}\n${aad}`);
    },

    sealWithMaster(plaintext, aad) {
      return { masterKeyId: masterKey.id, sealed: seal(masterKey.key, plaintext, aad) };
    },

    openWithMaster,

    useMasterKey(next) {
      masterKeys.set(next.id, next);
      masterKey = next;
    },

    forgetMasterKeys() {
      for (const [id, key] of masterKeys) {
        if (id === masterKey.id) continue;
        key.key.fill(0);
        masterKeys.delete(id);
      }
    },

    masterKeyIds: () => ({ current: masterKey.id, known: [...masterKeys.keys()] }),

    resealWithMaster,

    resealKey(key) {
      const { masterKeyId, sealed } = resealWithMaster(key.masterKeyId, key.sealedMaterial, key.arn);
      return masterKeyId === key.masterKeyId ? key : { ...key, masterKeyId, sealedMaterial: sealed };
    },
  };
}
