import { randomBytes, randomUUID } from "node:crypto";
import { DEFAULT_KEYS, DEFAULT_PARAMETER_KEY_ALIAS, DEFAULT_SECRET_KEY_ALIAS, type Keyring } from "../../crypto/keyring.ts";
import { parsePolicy } from "../../policy/policy-parse.ts";
import { PolicyError } from "../../policy/policy-types.ts";
import type { AliasRecord, KeyMeta, KeyReads, KeyRecord, KeyStore, Tag } from "../../storage/store.ts";
import { CofferError } from "../../shared/errors.ts";
import type { Authorizer, Principal } from "../identity/identity-types.ts";
import { kmsAliasArn, rootArn } from "../../shared/arn.ts";
import { offsetPage } from "../../shared/paging-token.ts";
import { mergeTags } from "../../shared/tags.ts";

/**
 * KMS-style keys: customer keys with key policies, aliases, states, and the
 * Encrypt/Decrypt/GenerateDataKey subset. Using a key needs its key policy to
 * allow the caller (directly, or by delegating to the account's IAM
 * policies). The AWS-managed keys (alias/aws/secretsmanager, alias/aws/ssm)
 * carry the key policy AWS gives them (awsManagedKeyPolicy): any principal of
 * the account may use them through their service, and an explicit Deny in the
 * caller's policies still wins, as everywhere else.
 */

export interface KeyDescription {
  keyId: string;
  arn: string;
  accountId: string;
  createdAt: number;
  meta: KeyMeta;
}

const CIPHERTEXT_VERSION = 1;
const DAY_MS = 86_400_000;
const MAX_TAGS = 50;

/** KMS's rules for a key's tags: keys of 1–128 characters not starting with aws:, values of at most 256. */
function checkTags(tags: Tag[]): void {
  for (const { key, value } of tags) {
    if (key.length < 1 || key.length > 128 || value.length > 256) {
      throw new CofferError("InvalidTag", "A tag key must have 1 to 128 characters and a tag value at most 256.");
    }
    if (key.toLowerCase().startsWith("aws:")) throw new CofferError("InvalidTag", "Tag keys can't start with aws:, which is reserved for AWS use.");
  }
  if (new Set(tags.map((t) => t.key)).size > MAX_TAGS) throw new CofferError("LimitExceeded", `A KMS key can have at most ${MAX_TAGS} tags.`);
}

export function defaultKeyPolicy(accountId: string): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Id: "key-default-1",
    Statement: [
      {
        Sid: "Enable IAM User Permissions",
        Effect: "Allow",
        Principal: { AWS: rootArn(accountId) },
        Action: "kms:*",
        Resource: "*",
      },
    ],
  });
}

/**
 * The key policy of an AWS managed key, as AWS writes it for aws/secretsmanager and aws/ssm:
 * every principal of the account may use the key through the service (no kms permission needed
 * in its own policies), direct use is limited to reading metadata, delegated to IAM. It is
 * evaluated like any key policy, so the caller's explicit Deny (kms:Decrypt on *, say) wins.
 */
export function awsManagedKeyPolicy(accountId: string, service: "secretsmanager" | "ssm", region: string): string {
  // The same text object every time: the authorizer's parsed-policy cache then finds it without rehashing a new string.
  const key = `${accountId}/${service}/${region}`;
  let text = managedPolicies.get(key);
  if (text === undefined) {
    if (managedPolicies.size >= 1000) managedPolicies.clear();
    managedPolicies.set(key, (text = managedKeyPolicyText(accountId, service, region)));
  }
  return text;
}

const managedPolicies = new Map<string, string>();

function managedKeyPolicyText(accountId: string, service: "secretsmanager" | "ssm", region: string): string {
  const name = service === "ssm" ? "AWS Systems Manager" : "AWS Secrets Manager";
  const through = `Allow access through ${name} for all principals in the account that are authorized to use ${name}`;
  return JSON.stringify({
    Version: "2012-10-17",
    Id: `auto-${service}-1`,
    Statement: [
      {
        Sid: through,
        Effect: "Allow",
        Principal: { AWS: "*" },
        Action: ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:CreateGrant", "kms:DescribeKey"],
        Resource: "*",
        Condition: { StringEquals: { "kms:CallerAccount": accountId, "kms:ViaService": `${service}.${region}.amazonaws.com` } },
      },
      {
        // AWS repeats the first Sid here; Coffer's parser, like IAM's, wants them unique.
        Sid: `${through} (data keys)`,
        Effect: "Allow",
        Principal: { AWS: "*" },
        Action: "kms:GenerateDataKey*",
        Resource: "*",
        Condition: { StringEquals: { "kms:CallerAccount": accountId }, StringLike: { "kms:ViaService": `${service}.*.amazonaws.com` } },
      },
      {
        Sid: "Allow direct access to key metadata to the account",
        Effect: "Allow",
        Principal: { AWS: rootArn(accountId) },
        Action: ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"],
        Resource: "*",
      },
    ],
  });
}

/** Encryption context as associated data: keys sorted so the order a client sends them in does not matter. */
function contextAad(context: Record<string, string> | undefined): string {
  return JSON.stringify(Object.entries(context ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function checkPolicy(text: string): void {
  try {
    parsePolicy(text, "key");
  } catch (err) {
    if (err instanceof PolicyError) throw new CofferError("MalformedPolicy", err.message);
    throw err;
  }
}

interface KeysDeps {
  store: KeyStore;
  keyring: Keyring;
  authorizer: Authorizer;
  clock: { now(): number };
  region: string;
}

/** A key or alias ARN: its account, whether it names a key or an alias, and the key ID or alias name. */
const KMS_ARN = /^arn:[^:]+:kms:[^:]*:(\d{12}):(key|alias)\/(.+)$/;

/** Whether a KeyId names an alias (alias/name, or an alias ARN) rather than a key. */
const namesAlias = (keyName: string) => keyName.startsWith("alias/") || KMS_ARN.exec(keyName)?.[2] === "alias";

export function createKeysService({ store, keyring, authorizer, clock, region }: KeysDeps) {
  async function find(caller: Principal, keyName: string): Promise<KeyRecord> {
    let key: KeyRecord | undefined;
    const arn = KMS_ARN.exec(keyName);
    if (arn) {
      key = arn[2] === "key" ? await store.getKey(arn[3]) : await aliasTarget(arn[1], `alias/${arn[3]}`);
      if (key && key.accountId !== arn[1]) key = undefined;
    } else if (keyName.startsWith("alias/")) {
      key = await aliasTarget(caller.accountId, keyName);
    } else {
      key = await store.getKey(keyName);
      if (key && key.accountId !== caller.accountId) key = undefined; // other accounts' keys need their ARN
    }
    if (!key) throw new CofferError("NotFound", `Key '${keyName}' does not exist`);
    return key;
  }

  /** CreateAlias/UpdateAlias: an alias points at a key named by its ID or ARN, never at another alias. */
  async function aliasTargetKey(caller: Principal, targetKeyId: string): Promise<KeyRecord> {
    if (namesAlias(targetKeyId)) {
      throw new CofferError("NotFound", `Invalid keyId ${targetKeyId}: an alias's target is a key ID or key ARN, not an alias`);
    }
    return find(caller, targetKeyId);
  }

  async function aliasTarget(accountId: string, aliasName: string): Promise<KeyRecord | undefined> {
    const alias = await store.getAlias(accountId, aliasName);
    return alias && store.getKey(alias.keyId);
  }

  /**
   * The service an AWS managed key serves. Its description is fixed by the keyring (no caller can
   * make or change an AWS managed key), and unlike its alias it is readable inside the very
   * transaction that creates the key.
   */
  const managedService = (key: KeyRecord): "secretsmanager" | "ssm" =>
    key.meta.description === DEFAULT_KEYS[DEFAULT_PARAMETER_KEY_ALIAS] ? "ssm" : "secretsmanager";

  /** The key policy in force: the key's own, the default one, or an AWS managed key's. */
  async function policyOf(key: KeyRecord): Promise<string> {
    const meta = key.meta;
    if (meta.managedBy === "AWS") return awsManagedKeyPolicy(key.accountId, managedService(key), region);
    return meta.policy ?? defaultKeyPolicy(key.accountId);
  }

  /**
   * Authorises `action` on the key by its key policy and the caller's own policies. No key is
   * exempt: an AWS managed key is judged by its AWS-written policy, so an explicit Deny wins there too.
   */
  async function authorizeUse(caller: Principal, key: KeyRecord, action: string, context?: Record<string, string | undefined>) {
    await authorizer.authorize({
      principal: caller,
      action,
      resource: key.arn,
      resourcePolicy: await policyOf(key),
      mode: "key",
      context: { "kms:CallerAccount": caller.accountId, ...context },
    });
  }

  function requireEnabled(key: KeyRecord): void {
    const { state } = key.meta;
    if (state === "Disabled") throw new CofferError("Disabled", `${key.arn} is disabled.`);
    if (state === "PendingDeletion") throw new CofferError("InvalidState", `${key.arn} is pending deletion.`);
  }

  async function update(caller: Principal, keyName: string, action: string, change: (meta: KeyMeta) => KeyMeta) {
    const key = await find(caller, keyName);
    await authorizeUse(caller, key, action);
    if (key.meta.managedBy === "AWS") {
      throw new CofferError("AccessDenied", `${action} is not permitted on an AWS managed key.`);
    }
    const updated = { ...key, meta: change(key.meta) };
    await store.transaction((tx) => tx.putKey(updated));
    return { keyId: updated.keyId, arn: updated.arn, accountId: updated.accountId, createdAt: updated.createdAt, meta: updated.meta };
  }

  /**
   * The tagging calls take a key ID or key ARN, not an alias, and are not cross-account on AWS:
   * an alias or another account's key ARN names no key the caller can tag.
   */
  function ownKey(caller: Principal, keyName: string): string {
    const arn = KMS_ARN.exec(keyName);
    if (namesAlias(keyName) || (arn && arn[1] !== caller.accountId)) {
      throw new CofferError("NotFound", `Key '${keyName}' does not exist`);
    }
    return keyName;
  }

  /** An alias of the caller's account that a caller may change: not one of AWS's (alias/aws/...). */
  async function customerAlias(tx: KeyReads, caller: Principal, aliasName: string): Promise<AliasRecord> {
    if (aliasName.startsWith("alias/aws/")) {
      throw new CofferError("InvalidAliasName", `${aliasName} is an AWS managed alias; it cannot be changed or deleted.`);
    }
    const alias = await tx.getAlias(caller.accountId, aliasName);
    if (!alias) throw new CofferError("NotFound", `Alias ${kmsAliasArn(region, caller.accountId, aliasName)} is not found.`);
    return alias;
  }

  function notPendingDeletion(meta: KeyMeta): void {
    if (meta.state === "PendingDeletion") throw new CofferError("InvalidState", "The key is pending deletion.");
  }

  const describeKey = (key: KeyRecord): KeyDescription => ({
    keyId: key.keyId,
    arn: key.arn,
    accountId: key.accountId,
    createdAt: key.createdAt,
    meta: key.meta,
  });

  const service = {
    async create(caller: Principal, input: { description?: string; policy?: string; tags?: Tag[] }): Promise<KeyDescription> {
      const keyId = randomUUID();
      await authorizer.authorize({ principal: caller, action: "kms:CreateKey", resource: "*" });
      if (input.policy !== undefined) checkPolicy(input.policy);
      checkTags(input.tags ?? []);
      const meta: KeyMeta = {
        description: input.description ?? "",
        state: "Enabled",
        managedBy: "CUSTOMER",
        policy: input.policy ?? defaultKeyPolicy(caller.accountId),
        tags: mergeTags([], input.tags ?? []),
      };
      const key = keyring.newKey({ keyId, accountId: caller.accountId, meta });
      await store.transaction((tx) => tx.putKey(key));
      return describeKey(key);
    },

    async describe(caller: Principal, keyName: string): Promise<KeyDescription> {
      const key = await find(caller, keyName);
      await authorizeUse(caller, key, "kms:DescribeKey");
      return describeKey(key);
    },

    async list(caller: Principal): Promise<KeyDescription[]> {
      await authorizer.authorize({ principal: caller, action: "kms:ListKeys", resource: "*" });
      return (await store.listKeys(caller.accountId)).map(describeKey);
    },

    async createAlias(caller: Principal, aliasName: string, targetKeyId: string): Promise<void> {
      if (!/^alias\/[a-zA-Z0-9/_-]+$/.test(aliasName) || aliasName.startsWith("alias/aws/")) {
        throw new CofferError("InvalidAliasName", `Alias ${aliasName} is not valid: it must start with alias/ and may not start with alias/aws/.`);
      }
      const key = await aliasTargetKey(caller, targetKeyId);
      await authorizeUse(caller, key, "kms:CreateAlias");
      await store.transaction(async (tx) => {
        if (await tx.getAlias(caller.accountId, aliasName)) {
          throw new CofferError("AlreadyExists", `An alias with the name ${kmsAliasArn(region, caller.accountId, aliasName)} already exists`);
        }
        await tx.putAlias({ accountId: caller.accountId, aliasName, keyId: key.keyId });
      });
    },

    /** UpdateAlias: points a customer alias at another key of the account; both keys' policies must allow it. */
    async updateAlias(caller: Principal, aliasName: string, targetKeyId: string): Promise<void> {
      const target = await aliasTargetKey(caller, targetKeyId);
      await store.transaction(async (tx) => {
        const alias = await customerAlias(tx, caller, aliasName);
        const current = await tx.getKey(alias.keyId);
        if (current) await authorizeUse(caller, current, "kms:UpdateAlias");
        await authorizeUse(caller, target, "kms:UpdateAlias");
        await tx.putAlias({ ...alias, keyId: target.keyId });
      });
    },

    /** DeleteAlias: the key stays; only the name goes. */
    async deleteAlias(caller: Principal, aliasName: string): Promise<void> {
      await store.transaction(async (tx) => {
        const alias = await customerAlias(tx, caller, aliasName);
        const key = await tx.getKey(alias.keyId);
        if (key) await authorizeUse(caller, key, "kms:DeleteAlias");
        await tx.deleteAlias(caller.accountId, aliasName);
      });
    },

    async listAliases(caller: Principal, keyName?: string) {
      await authorizer.authorize({ principal: caller, action: "kms:ListAliases", resource: "*" });
      const keyId = keyName === undefined ? undefined : (await find(caller, keyName)).keyId;
      return (await store.listAliases(caller.accountId))
        .filter((a) => keyId === undefined || a.keyId === keyId)
        .map((a) => ({ aliasName: a.aliasName, aliasArn: kmsAliasArn(region, a.accountId, a.aliasName), targetKeyId: a.keyId }));
    },

    async getPolicy(caller: Principal, keyName: string): Promise<string> {
      const key = await find(caller, keyName);
      await authorizeUse(caller, key, "kms:GetKeyPolicy");
      return policyOf(key);
    },

    async putPolicy(caller: Principal, keyName: string, policy: string) {
      checkPolicy(policy);
      await update(caller, keyName, "kms:PutKeyPolicy", (m) => ({ ...m, policy }));
    },

    async setRotation(caller: Principal, keyName: string, enabled: boolean, periodDays?: number) {
      if (periodDays !== undefined && (periodDays < 90 || periodDays > 2560)) {
        throw new CofferError("InvalidParameter", "RotationPeriodInDays must be between 90 and 2560.");
      }
      await update(caller, keyName, enabled ? "kms:EnableKeyRotation" : "kms:DisableKeyRotation", (m) => {
        if (m.state !== "Enabled") throw new CofferError("InvalidState", "The key must be enabled to change rotation.");
        return { ...m, rotationEnabled: enabled, rotationPeriodInDays: enabled ? (periodDays ?? 365) : undefined };
      });
    },

    async rotationStatus(caller: Principal, keyName: string) {
      const key = await find(caller, keyName);
      await authorizeUse(caller, key, "kms:GetKeyRotationStatus");
      return { enabled: Boolean(key.meta.rotationEnabled), periodDays: key.meta.rotationPeriodInDays };
    },

    /** TagResource: adds tags or changes their values. Not on another account's key, nor on one pending deletion. */
    async tag(caller: Principal, keyName: string, tags: Tag[]): Promise<void> {
      checkTags(tags);
      await update(caller, ownKey(caller, keyName), "kms:TagResource", (m) => {
        notPendingDeletion(m);
        return { ...m, tags: mergeTags(m.tags ?? [], tags, MAX_TAGS, "KMS key") };
      });
    },

    /** UntagResource: a key that is not there is no error, as on AWS. */
    async untag(caller: Principal, keyName: string, tagKeys: string[]): Promise<void> {
      const removed = new Set(tagKeys);
      await update(caller, ownKey(caller, keyName), "kms:UntagResource", (m) => {
        notPendingDeletion(m);
        return { ...m, tags: (m.tags ?? []).filter((t) => !removed.has(t.key)) };
      });
    },

    /** ListResourceTags, a page of at most `limit` (1–50) tags in the order they were added. */
    async listTags(caller: Principal, keyName: string, limit = MAX_TAGS, marker?: string): Promise<{ tags: Tag[]; nextMarker?: string }> {
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_TAGS) throw new CofferError("InvalidParameter", `Limit must be between 1 and ${MAX_TAGS}.`);
      const key = await find(caller, ownKey(caller, keyName));
      await authorizeUse(caller, key, "kms:ListResourceTags");
      const page = offsetPage(key.meta.tags ?? [], limit, marker);
      if (!page) throw new CofferError("InvalidNextToken", "Invalid Marker.");
      return { tags: page.items, nextMarker: page.next };
    },

    async setEnabled(caller: Principal, keyName: string, enabled: boolean) {
      await update(caller, keyName, enabled ? "kms:EnableKey" : "kms:DisableKey", (m) => {
        notPendingDeletion(m);
        return { ...m, state: enabled ? "Enabled" : "Disabled" };
      });
    },

    async scheduleDeletion(caller: Principal, keyName: string, pendingWindowInDays = 30) {
      if (!Number.isInteger(pendingWindowInDays) || pendingWindowInDays < 7 || pendingWindowInDays > 30) {
        throw new CofferError("InvalidParameter", "PendingWindowInDays must be between 7 and 30.");
      }
      const deletionDate = clock.now() + pendingWindowInDays * DAY_MS;
      return update(caller, keyName, "kms:ScheduleKeyDeletion", (m) => {
        if (m.state === "PendingDeletion") throw new CofferError("InvalidState", "The key is already pending deletion.");
        return { ...m, state: "PendingDeletion", deletionDate };
      });
    },

    async cancelDeletion(caller: Principal, keyName: string) {
      // As on AWS, a key whose deletion is cancelled comes back disabled.
      return update(caller, keyName, "kms:CancelKeyDeletion", (m) => {
        if (m.state !== "PendingDeletion") throw new CofferError("InvalidState", "The key is not pending deletion.");
        const { deletionDate: _d, ...rest } = m;
        return { ...rest, state: "Disabled" };
      });
    },

    async encrypt(caller: Principal, input: { keyId: string; plaintext: Buffer; context?: Record<string, string> }) {
      const key = await find(caller, input.keyId);
      await authorizeUse(caller, key, "kms:Encrypt");
      requireEnabled(key);
      const sealed = keyring.sealWithKey(key, input.plaintext, contextAad(input.context));
      const keyIdBytes = Buffer.from(key.keyId, "ascii");
      return {
        keyArn: key.arn,
        ciphertext: Buffer.concat([Buffer.from([CIPHERTEXT_VERSION, keyIdBytes.length]), keyIdBytes, sealed]),
      };
    },

    async decrypt(caller: Principal, input: { ciphertext: Buffer; keyId?: string; context?: Record<string, string> }) {
      const blob = input.ciphertext;
      const invalid = () => new CofferError("DecryptionFailure", "The ciphertext is invalid or was not produced by this KMS.");
      if (blob.length < 2 || blob[0] !== CIPHERTEXT_VERSION || blob.length < 2 + blob[1]) throw invalid();
      const keyId = blob.subarray(2, 2 + blob[1]).toString("ascii");
      const key = await store.getKey(keyId);
      if (!key) throw invalid();
      if (input.keyId !== undefined && (await find(caller, input.keyId)).keyId !== key.keyId) {
        throw new CofferError("IncorrectKey", "The key ID in the request does not identify the key that encrypted the ciphertext.");
      }
      await authorizeUse(caller, key, "kms:Decrypt");
      requireEnabled(key);
      return { keyArn: key.arn, plaintext: keyring.openWithKey(key, blob.subarray(2 + blob[1]), contextAad(input.context)) };
    },

    async generateDataKey(caller: Principal, input: { keyId: string; bytes: number; context?: Record<string, string> }) {
      const plaintext = randomBytes(input.bytes);
      const { keyArn, ciphertext } = await service.encrypt(caller, { keyId: input.keyId, plaintext, context: input.context });
      return { keyArn, ciphertext, plaintext };
    },

    /**
     * Whether `caller` may use `keyArn` for a secret's value through Secrets
     * Manager, or a SecureString parameter's through Parameter Store (`via`):
     * reading needs kms:Decrypt on the key, writing kms:GenerateDataKey, as on
     * AWS; the key must also be enabled.
     */
    async checkSecretKeyUse(
      caller: Principal,
      keyOrArn: KeyRecord | string,
      resourceArn: string,
      action: "kms:Decrypt" | "kms:GenerateDataKey",
      via: "secretsmanager" | "ssm" = "secretsmanager",
    ): Promise<KeyRecord> {
      const key =
        typeof keyOrArn === "string" ? await store.getKey(keyOrArn.slice(keyOrArn.lastIndexOf("/") + 1)) : keyOrArn;
      const [service, thing] = via === "ssm" ? ["Parameter Store", "parameter"] : ["Secrets Manager", "secret"];
      if (!key) throw new CofferError("DecryptionFailure", `The key that encrypted this ${thing} no longer exists.`);
      // The encryption context each service puts on its KMS calls: SecretARN, or PARAMETER_ARN for SecureString parameters.
      await authorizeUse(caller, key, action, {
        "kms:ViaService": `${via}.${region}.amazonaws.com`,
        [via === "ssm" ? "kms:EncryptionContext:PARAMETER_ARN" : "kms:EncryptionContext:SecretARN"]: resourceArn,
      }).catch((err: unknown) => {
        if (err instanceof CofferError && err.code === "AccessDenied") {
          throw new CofferError("AccessDenied", `Access to KMS is not allowed. ${err.message}`);
        }
        throw err;
      });
      const { state } = key.meta;
      if (state !== "Enabled") {
        const why = state === "Disabled" ? "disabled" : "pending deletion";
        throw action === "kms:Decrypt"
          ? new CofferError("DecryptionFailure", `${service} can't decrypt the protected ${thing} text using the provided KMS key: the key is ${why}.`)
          : new CofferError("EncryptionFailure", `${service} can't encrypt the ${thing} with the provided KMS key: the key is ${why}.`);
      }
      // The caller opens with this record rather than fetching the key again.
      return key;
    },

    defaultAlias: DEFAULT_SECRET_KEY_ALIAS,
  };
  return service;
}

export type KeysService = ReturnType<typeof createKeysService>;
