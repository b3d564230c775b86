import { randomBytes, randomInt } from "node:crypto";
import type { Keyring } from "../../crypto/keyring.ts";
import type { AccessKeyRecord, IdentityReads, IdentityTx, SessionInfo, SettingReads, SettingTx, Transactional } from "../../storage/store.ts";
import { CofferError } from "../../shared/errors.ts";
import type { Credential, Principal } from "./identity-types.ts";
import { rootArn } from "../../shared/arn.ts";
import { sha256Hex } from "../../shared/sha256.ts";

export { rootArn };

const BOOTSTRAP_SETTING = "identity.bootstrapped";
const KEY_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/** How long a looked-up credential is trusted before the store is asked again (bounds staleness across nodes). */
const CREDENTIAL_CACHE_MS = 5_000;

/** Marks a data directory whose access keys are sealed with the owner-binding AAD (accessKeyAad). */
const AAD_SETTING = "identity.accessKeyAad";
const AAD_VERSION = "2";

/** JSON with object keys sorted, so the same record always gives the same text. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

/**
 * The associated data an access key's secret is sealed with: its id, its owner, and for temporary
 * credentials their expiry and everything the session decides (role and its unique id, tags,
 * session policies). A row copied onto another principal, or a session edited in the database,
 * no longer opens. Status is left out: it legitimately changes.
 */
export function accessKeyAad(record: Pick<AccessKeyRecord, "accessKeyId" | "principalArn" | "accountId" | "expiresAt" | "session">): string {
  return canonical(["coffer-access-key", AAD_VERSION, record.accessKeyId, record.principalArn, record.accountId, record.expiresAt ?? null, record.session ?? null]);
}

/**
 * Master key rotation: every access key's secret sealed again under the
 * keyring's current master key, in the caller's transaction. A key whose
 * secret opens under no known master key is left as it is (it does not
 * authenticate either way). Returns how many were sealed again.
 */
export async function resealAccessKeys(
  tx: Pick<IdentityTx, "listAllAccessKeys" | "putAccessKey">,
  keyring: Pick<Keyring, "resealWithMaster">,
): Promise<number> {
  let count = 0;
  for (const record of await tx.listAllAccessKeys()) {
    let next: { masterKeyId: string; sealed: Buffer };
    try {
      next = keyring.resealWithMaster(record.masterKeyId, record.sealedSecret, accessKeyAad(record));
    } catch (err) {
      if (err instanceof CofferError && err.code === "DecryptionFailure") continue;
      throw err;
    }
    if (next.masterKeyId === record.masterKeyId) continue;
    await tx.putAccessKey({ ...record, masterKeyId: next.masterKeyId, sealedSecret: next.sealed });
    count++;
  }
  return count;
}

export interface NewAccessKey {
  accessKeyId: string;
  secretAccessKey: string;
  principalArn: string;
}

/** Identity, and the settings that mark one-time start-up work (bootstrap, re-sealing) in the same transaction. */
export interface IdentityServiceTx extends IdentityTx, SettingTx {}
export interface IdentityServiceStore extends IdentityReads, SettingReads, Transactional<IdentityServiceTx> {}

interface IdentityDeps {
  store: IdentityServiceStore;
  keyring: Pick<Keyring, "sealWithMaster" | "openWithMaster">;
  clock: { now(): number };
  /** Told whether each credential lookup was answered from memory (metrics). */
  onCacheLookup?: (hit: boolean) => void;
}


/** AKIA/ASIA followed by 16 characters of base32, as AWS access key ids look. */
function newAccessKeyId(prefix: "AKIA" | "ASIA"): string {
  let id = prefix;
  for (let i = 0; i < 16; i++) id += KEY_ID_ALPHABET[randomInt(KEY_ID_ALPHABET.length)];
  return id;
}

/** 40 characters, like AWS secret access keys. */
function newSecretAccessKey(): string {
  return randomBytes(30).toString("base64").replace(/\+/g, "A").replace(/\//g, "B");
}

export function createIdentityService({ store, keyring, clock, onCacheLookup }: IdentityDeps) {
  const cache = new Map<string, { credential: Credential | undefined; expiresAt?: number; until: number }>();

  function sealed(record: Omit<AccessKeyRecord, "masterKeyId" | "sealedSecret">, secretAccessKey: string): AccessKeyRecord {
    const { masterKeyId, sealed } = keyring.sealWithMaster(Buffer.from(secretAccessKey), accessKeyAad(record));
    return { ...record, masterKeyId, sealedSecret: sealed };
  }

  /** The secret of a stored key, or undefined when the row does not open as it stands (moved, edited). */
  function openSecret(record: AccessKeyRecord): string | undefined {
    try {
      return keyring.openWithMaster(record.masterKeyId, record.sealedSecret, accessKeyAad(record)).toString();
    } catch (err) {
      if (err instanceof CofferError && err.code === "DecryptionFailure") return undefined;
      throw err;
    }
  }

  /** A session's role must still be the one it was issued for (same unique id). */
  async function roleStillThere(session: SessionInfo): Promise<boolean> {
    const role = await store.getPrincipal(session.roleArn);
    return role?.kind === "role" && role.id === session.roleId;
  }

  /** A new long-term key for the principal, sealed, and the record to store. */
  function newAccessKey(principal: Omit<Principal, "accessKeyId">): { key: NewAccessKey; record: AccessKeyRecord } {
    const accessKeyId = newAccessKeyId("AKIA");
    const secretAccessKey = newSecretAccessKey();
    const record = sealed({
      accessKeyId,
      principalArn: principal.arn,
      accountId: principal.accountId,
      status: "Active",
      createdAt: clock.now(),
    }, secretAccessKey);
    return { key: { accessKeyId, secretAccessKey, principalArn: principal.arn }, record };
  }

  async function createAccessKey(principal: Omit<Principal, "accessKeyId">): Promise<NewAccessKey> {
    const { key, record } = newAccessKey(principal);
    await store.transaction((tx) => tx.putAccessKey(record));
    return key;
  }

  function principalOf(record: AccessKeyRecord): Principal {
    const kind = record.principalArn.endsWith(":root")
      ? "root"
      : record.principalArn.includes(":assumed-role/")
        ? "assumed-role"
        : "user";
    const principal: Principal = { arn: record.principalArn, accountId: record.accountId, accessKeyId: record.accessKeyId, kind };
    const { session } = record;
    if (session) {
      principal.roleArn = session.roleArn;
      principal.roleId = session.roleId;
      principal.sessionName = session.sessionName;
      principal.sessionTags = session.tags;
      if (session.transitiveTagKeys?.length) principal.transitiveTagKeys = session.transitiveTagKeys;
      if (session.policies) principal.sessionPolicies = session.policies;
      if (session.webIdentity) principal.webIdentity = session.webIdentity;
      if (session.sourceIdentity !== undefined) principal.sourceIdentity = session.sourceIdentity;
    }
    return principal;
  }

  return {
    /**
     * First start: creates the administrator key (the default account's root)
     * and returns it, once. Later starts return undefined.
     */
    async bootstrap(accountId: string): Promise<NewAccessKey | undefined> {
      if (await store.getSetting(BOOTSTRAP_SETTING)) return undefined;
      const { key, record } = newAccessKey({ arn: rootArn(accountId), accountId, kind: "root" });
      // One transaction: of several nodes starting together on an empty shared database, one creates the administrator.
      return store.transaction(async (tx) => {
        if (await tx.getSetting(BOOTSTRAP_SETTING)) return undefined;
        await tx.putAccessKey(record);
        await tx.putSetting(BOOTSTRAP_SETTING, new Date(clock.now()).toISOString());
        return key;
      });
    },

    createAccessKey,

    /**
     * The active credential for an access key id, or undefined (unknown or
     * inactive). Temporary credentials past their expiry are ExpiredToken.
     */
    async lookupCredential(accessKeyId: string): Promise<Credential | undefined> {
      const now = clock.now();
      const hit = cache.get(accessKeyId);
      let credential: Credential | undefined;
      let expiresAt: number | undefined;
      if (hit && hit.until > now) {
        onCacheLookup?.(true);
        ({ credential, expiresAt } = hit);
      } else {
        onCacheLookup?.(false);
        const record = await store.getAccessKey(accessKeyId);
        const secret = record && record.status === "Active" ? openSecret(record) : undefined;
        const session = record?.session;
        if (record && secret !== undefined && (!session || (await roleStillThere(session)))) {
          credential = { principal: principalOf(record), secretAccessKey: secret };
          if (session) credential.sessionTokenHash = session.tokenHash;
        }
        expiresAt = record?.expiresAt;
        if (cache.size > 10_000) cache.clear();
        cache.set(accessKeyId, { credential, expiresAt, until: now + CREDENTIAL_CACHE_MS });
      }
      if (credential && expiresAt !== undefined && expiresAt <= now) {
        throw new CofferError("ExpiredToken", "The security token included in the request is expired");
      }
      return credential;
    },

    /** Temporary credentials for an assumed-role session, valid until `expiresAt`. */
    async createSessionKey(input: {
      accountId: string;
      sessionArn: string;
      expiresAt: number;
      session: Omit<SessionInfo, "tokenHash">;
    }): Promise<NewAccessKey & { sessionToken: string }> {
      const accessKeyId = newAccessKeyId("ASIA");
      const secretAccessKey = newSecretAccessKey();
      const sessionToken = randomBytes(96).toString("base64");
      const session: SessionInfo = { ...input.session, tokenHash: sha256Hex(sessionToken) };
      // Through JSON, as the store keeps it, so the AAD is computed over exactly what is read back.
      const stored = JSON.parse(JSON.stringify(session)) as SessionInfo;
      const record = sealed(
        {
          accessKeyId,
          principalArn: input.sessionArn,
          accountId: input.accountId,
          status: "Active",
          createdAt: clock.now(),
          expiresAt: input.expiresAt,
          session: stored,
        },
        secretAccessKey,
      );
      await store.transaction((tx) => tx.putAccessKey(record));
      return { accessKeyId, secretAccessKey, sessionToken, principalArn: input.sessionArn };
    },

    /**
     * Start-up, once per data directory: re-seals keys an earlier version sealed with only their
     * key id as AAD, binding them to the owner their row names now. Afterwards the old form is
     * never accepted. Returns how many keys were re-sealed.
     */
    async sealLegacyAccessKeys(): Promise<number> {
      if ((await store.getSetting(AAD_SETTING)) === AAD_VERSION) return 0;
      return store.transaction(async (tx) => {
        let count = 0;
        for (const record of await tx.listAllAccessKeys()) {
          if (openSecret(record) !== undefined) continue;
          let secret: Buffer;
          try {
            secret = keyring.openWithMaster(record.masterKeyId, record.sealedSecret, record.accessKeyId);
          } catch {
            continue; // neither form opens: left as it is, it will not authenticate
          }
          const { masterKeyId: _m, sealedSecret: _s, ...rest } = record;
          await tx.putAccessKey(sealed(rest, secret.toString()));
          count++;
        }
        await tx.putSetting(AAD_SETTING, AAD_VERSION);
        return count;
      });
    },

    /** Forget cached credentials, e.g. after a key was deactivated on this node. */
    invalidate(accessKeyId?: string) {
      if (accessKeyId) cache.delete(accessKeyId);
      else cache.clear();
    },
  };
}

export type IdentityService = ReturnType<typeof createIdentityService>;
