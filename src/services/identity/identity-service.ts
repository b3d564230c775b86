import { randomBytes, randomInt } from "node:crypto";
import type { Keyring } from "../../crypto/keyring.ts";
import type { AccessKeyRecord, Store } from "../../storage/store.ts";
import { CofferError } from "../errors.ts";
import type { AuthorizationRequest, Authorizer, Credential, Principal } from "./identity-types.ts";

const BOOTSTRAP_SETTING = "identity.bootstrapped";
const KEY_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/** How long a looked-up credential is trusted before the store is asked again (bounds staleness across nodes). */
const CREDENTIAL_CACHE_MS = 5_000;

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
  const cache = new Map<string, { credential: Credential | undefined; until: number }>();

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
    return { arn: record.principalArn, accountId: record.accountId, accessKeyId: record.accessKeyId, kind };
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

    /** The active credential for an access key id, or undefined (unknown, inactive or expired). */
    async lookupCredential(accessKeyId: string): Promise<Credential | undefined> {
      const now = clock.now();
      const hit = cache.get(accessKeyId);
      if (hit && hit.until > now) return hit.credential;
      const record = await store.getAccessKey(accessKeyId);
      let credential: Credential | undefined;
      if (record && record.status === "Active" && (record.expiresAt === undefined || record.expiresAt > now)) {
        const secret = keyring.openWithMaster(record.masterKeyId, record.sealedSecret, accessKeyId);
        credential = { principal: principalOf(record), secretAccessKey: secret.toString() };
      }
      let until = now + CREDENTIAL_CACHE_MS;
      if (record?.expiresAt !== undefined) until = Math.min(until, record.expiresAt);
      if (cache.size > 10_000) cache.clear();
      cache.set(accessKeyId, { credential, until });
      return credential;
    },

    /** Forget cached credentials, e.g. after a key was deactivated on this node. */
    invalidate(accessKeyId?: string) {
      if (accessKeyId) cache.delete(accessKeyId);
      else cache.clear();
    },
  };
}

export type IdentityService = ReturnType<typeof createIdentityService>;

/**
 * Until identity and resource policies exist, an account's root (the
 * administrator key) may do everything in its own account, and nobody else
 * anything; the denial reads as AWS words it.
 */
export function createRootOnlyAuthorizer(): Authorizer {
  return {
    async authorize({ principal, action, resource }: AuthorizationRequest) {
      const sameAccount = resource === "*" || resource.split(":")[4] === principal.accountId;
      if (principal.kind === "root" && sameAccount) return;
      throw new CofferError(
        "AccessDenied",
        `User: ${principal.arn} is not authorized to perform: ${action} on resource: ${resource} because no identity-based policy allows the ${action} action`,
      );
    },
  };
}
