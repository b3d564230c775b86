import { createHash, randomBytes, randomInt } from "node:crypto";
import type { Keyring } from "../../crypto/keyring.ts";
import type { AccessKeyRecord, Store } from "../../storage/store.ts";
import { CofferError } from "../errors.ts";
import type { Credential, Principal } from "./identity-types.ts";

const BOOTSTRAP_SETTING = "identity.bootstrapped";
const KEY_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/** How long a looked-up credential is trusted before the store is asked again (bounds staleness across nodes). */
const CREDENTIAL_CACHE_MS = 5_000;

/** What an assumed-role session's temporary key remembers. */
export interface SessionInfo {
  roleArn: string;
  roleId: string;
  sessionName: string;
  tags?: { key: string; value: string }[];
  /** SHA-256 (hex) of the session token; the token itself is never stored. */
  tokenHash: string;
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

export interface NewAccessKey {
  accessKeyId: string;
  secretAccessKey: string;
  principalArn: string;
}

interface IdentityDeps {
  store: Pick<Store, "transaction" | "getAccessKey" | "getSetting">;
  keyring: Pick<Keyring, "sealWithMaster" | "openWithMaster">;
  clock: { now(): number };
}

export function rootArn(accountId: string): string {
  return `arn:aws:iam::${accountId}:root`;
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

export function createIdentityService({ store, keyring, clock }: IdentityDeps) {
  const cache = new Map<string, { credential: Credential | undefined; expiresAt?: number; until: number }>();

  async function createAccessKey(principal: Omit<Principal, "accessKeyId">): Promise<NewAccessKey> {
    const accessKeyId = newAccessKeyId("AKIA");
    const secretAccessKey = newSecretAccessKey();
    const { masterKeyId, sealed } = keyring.sealWithMaster(Buffer.from(secretAccessKey), accessKeyId);
    const record: AccessKeyRecord = {
      accessKeyId,
      principalArn: principal.arn,
      accountId: principal.accountId,
      status: "Active",
      createdAt: clock.now(),
      masterKeyId,
      sealedSecret: sealed,
    };
    await store.transaction((tx) => tx.putAccessKey(record));
    return { accessKeyId, secretAccessKey, principalArn: principal.arn };
  }

  function principalOf(record: AccessKeyRecord): Principal {
    const kind = record.principalArn.endsWith(":root")
      ? "root"
      : record.principalArn.includes(":assumed-role/")
        ? "assumed-role"
        : "user";
    const principal: Principal = { arn: record.principalArn, accountId: record.accountId, accessKeyId: record.accessKeyId, kind };
    const session = record.session as SessionInfo | undefined;
    if (session) {
      principal.roleArn = session.roleArn;
      principal.sessionName = session.sessionName;
      principal.sessionTags = session.tags;
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
      const key = await createAccessKey({ arn: rootArn(accountId), accountId, kind: "root" });
      await store.transaction((tx) => tx.putSetting(BOOTSTRAP_SETTING, new Date(clock.now()).toISOString()));
      return key;
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
        ({ credential, expiresAt } = hit);
      } else {
        const record = await store.getAccessKey(accessKeyId);
        if (record && record.status === "Active") {
          const secret = keyring.openWithMaster(record.masterKeyId, record.sealedSecret, accessKeyId);
          credential = { principal: principalOf(record), secretAccessKey: secret.toString() };
          const session = record.session as SessionInfo | undefined;
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
      const { masterKeyId, sealed } = keyring.sealWithMaster(Buffer.from(secretAccessKey), accessKeyId);
      const session: SessionInfo = { ...input.session, tokenHash: sha256Hex(sessionToken) };
      await store.transaction((tx) =>
        tx.putAccessKey({
          accessKeyId,
          principalArn: input.sessionArn,
          accountId: input.accountId,
          status: "Active",
          createdAt: clock.now(),
          masterKeyId,
          sealedSecret: sealed,
          expiresAt: input.expiresAt,
          session: session as unknown as Record<string, unknown>,
        }),
      );
      return { accessKeyId, secretAccessKey, sessionToken, principalArn: input.sessionArn };
    },

    /** Forget cached credentials, e.g. after a key was deactivated on this node. */
    invalidate(accessKeyId?: string) {
      if (accessKeyId) cache.delete(accessKeyId);
      else cache.clear();
    },
  };
}

export type IdentityService = ReturnType<typeof createIdentityService>;
