import { randomUUID } from "node:crypto";
import type { Keyring } from "../../crypto/keyring.ts";
import { randomPassword, type PasswordOptions } from "../../crypto/password.ts";
import type { KeyTx, SecretReads, SecretRecord, SecretTx, Transactional, VersionRecord } from "../../storage/store.ts";
import { CofferError } from "../../shared/errors.ts";
import type { Authorizer, Principal } from "../identity/identity-types.ts";
import type { KeysService } from "../keys/keys-service.ts";
import type { ServiceEventSink } from "../service-events.ts";
import { createSecretLoader, requestTagContext } from "./secrets-access.ts";
import { createSecretLifecycle } from "./secrets-lifecycle.ts";
import { createSecretPolicies } from "./secrets-policies.ts";
import {
  NAME_PATTERN,
  describeRecord,
  encodeValue,
  newSecretArn,
  sameValue,
  startOfDay,
  validateTags,
  versionAad,
} from "./secrets-fns.ts";
import { matchesFilters, paginate, sortSecrets } from "./secrets-list.ts";
import {
  AWSCURRENT,
  MAX_VERSIONS,
  type BatchGetInput,
  type BatchGetResult,
  type CreateSecretInput,
  type GetValueInput,
  type ListSecretsInput,
  type ListVersionsInput,
  type Page,
  type PutValueInput,
  type SecretDescription,
  type SecretRef,
  type SecretValue,
  type SecretVersionValue,
  type UpdateSecretInput,
  type UpdateStageInput,
  type VersionSummary,
  type VersionedRef,
} from "./secrets-types.ts";
import { attachStages, detachStage, versionsToPrune, type StageChanges } from "./secrets-versions.ts";
import { secretArn } from "../../shared/arn.ts";

/** A secrets transaction may create the account's default key, in the same transaction (keyring.resolve). */
export interface SecretsServiceTx extends SecretTx, KeyTx {}
export interface SecretsServiceStore extends SecretReads, Transactional<SecretsServiceTx> {}

export interface SecretsDeps {
  store: SecretsServiceStore;
  keyring: Keyring;
  authorizer: Authorizer;
  /** Reading or writing a value also needs permission on its KMS key. */
  keyAccess: Pick<KeysService, "checkSecretKeyUse">;
  /** Where Coffer's own actions (scheduled deletions) are recorded. */
  serviceEvents?: ServiceEventSink;
  clock: { now(): number };
  region: string;
}

export function createSecretsService(deps: SecretsDeps) {
  const { store, keyring, authorizer, keyAccess, clock, region } = deps;

  /** Resolves a name, full ARN or partial ARN (no random suffix) to a secret the caller's account can name. */
  const { find, load, authorizeOn } = createSecretLoader({ authorizer, region });

  async function writeChanges(tx: SecretsServiceTx, versions: VersionRecord[], changes: StageChanges, skip?: string) {
    for (const [versionId, stages] of changes) {
      if (versionId === skip) continue;
      const v = versions.find((x) => x.versionId === versionId);
      if (v) await tx.putVersion({ ...v, stages });
    }
  }

  /** Whether `version` already holds exactly `value` (a retried request), compared in constant time. */
  async function holds(secretArn: string, version: VersionRecord, value: SecretValue): Promise<boolean> {
    if (version.valueKind === "none") return false;
    const old = await keyring.open(
      { keyArn: version.keyArn, wrappedDataKey: version.wrappedDataKey!, sealedValue: version.sealedValue! },
      versionAad(secretArn, version.versionId),
    );
    return sameValue(value, old, version.valueKind);
  }

  /** Writes the secret and, when a value is given, a new AWSCURRENT version of it. */
  async function saveWithValue(
    principal: Principal,
    tx: SecretsServiceTx,
    secret: SecretRecord,
    value: SecretValue | undefined,
    token: string | undefined,
  ): Promise<VersionedRef> {
    await tx.putSecret(secret);
    const ref: VersionedRef = { arn: secret.arn, name: secret.name };
    if (value) ref.versionId = (await addVersion(principal, tx, secret, value, [AWSCURRENT], token)).versionId;
    return ref;
  }

  /**
   * Adds a version (or fills an AWSPENDING placeholder) carrying `value` and
   * `stages`, moving those labels from other versions, then prunes old
   * deprecated versions. Idempotent on the token: the same token with the same
   * value is a no-op; with another value it is refused.
   */
  async function addVersion(
    principal: Principal,
    tx: SecretsServiceTx,
    secret: SecretRecord,
    value: SecretValue,
    stages: string[],
    token: string | undefined,
  ): Promise<{ versionId: string; stages: string[]; created: boolean }> {
    const versionId = token ?? randomUUID();
    const versions = await tx.listVersions(secret.arn);
    const existing = versions.find((v) => v.versionId === versionId);
    const aad = versionAad(secret.arn, versionId);
    // Key permissions come before the idempotency check: comparing with the stored value is a
    // read of it, so without kms:Decrypt a retried token would tell a right guess from a wrong one.
    const key = await keyring.resolve(secret.accountId, secret.kmsKeyId, tx);
    await keyAccess.checkSecretKeyUse(principal, key, secret.arn, "kms:GenerateDataKey");
    if (existing && existing.valueKind !== "none") {
      await keyAccess.checkSecretKeyUse(principal, existing.keyArn, secret.arn, "kms:Decrypt");
      if (await holds(secret.arn, existing, value)) return { versionId, stages: existing.stages, created: false };
      throw new CofferError(
        "AlreadyExists",
        `You can't modify an existing version, you can only create a new version. VersionId: ${versionId}`,
      );
    }
    const envelope = keyring.seal(key, encodeValue(value), aad);
    const now = clock.now();
    const record: VersionRecord = {
      secretArn: secret.arn,
      versionId,
      createdAt: existing?.createdAt ?? now,
      stages: [],
      keyArn: envelope.keyArn,
      valueKind: value.kind,
      sealedValue: envelope.sealedValue,
      wrappedDataKey: envelope.wrappedDataKey,
    };
    const all = existing ? versions : [record, ...versions];
    const changes = attachStages(all, versionId, stages);
    record.stages = changes.get(versionId) ?? existing?.stages ?? [];
    await tx.putVersion(record);
    await writeChanges(tx, all, changes, versionId);
    const after = all.map((v) => ({ ...v, stages: changes.get(v.versionId) ?? v.stages }));
    for (const v of versionsToPrune(after, MAX_VERSIONS)) await tx.deleteVersion(v.secretArn, v.versionId);
    await tx.putSecret({ ...secret, lastChangedAt: now });
    return { versionId, stages: record.stages, created: true };
  }

  async function readValue(
    principal: Principal,
    secret: SecretRecord,
    input: Omit<GetValueInput, "secretId">,
  ): Promise<SecretVersionValue> {
    let version: VersionRecord | undefined;
    if (input.versionId !== undefined) {
      version = await store.getVersion(secret.arn, input.versionId);
      if (version && input.versionStage !== undefined && !version.stages.includes(input.versionStage)) {
        throw new CofferError("InvalidRequest", "You provided a VersionStage that is not associated to the provided VersionId.");
      }
    } else {
      version = await store.getVersionByStage(secret.arn, input.versionStage ?? AWSCURRENT);
    }
    if (!version || version.valueKind === "none") {
      const what =
        input.versionId !== undefined
          ? `VersionId: ${input.versionId}`
          : `staging label: ${input.versionStage ?? AWSCURRENT}`;
      throw new CofferError("NotFound", `Secrets Manager can't find the specified secret value for ${what}`);
    }
    const key = await keyAccess.checkSecretKeyUse(principal, version.keyArn, secret.arn, "kms:Decrypt");
    const plaintext = await keyring.open(
      { keyArn: version.keyArn, wrappedDataKey: version.wrappedDataKey!, sealedValue: version.sealedValue! },
      versionAad(secret.arn, version.versionId),
      key,
    );
    recordAccess(secret, version);
    return {
      arn: secret.arn,
      name: secret.name,
      versionId: version.versionId,
      value: version.valueKind === "string" ? { kind: "string", text: plaintext.toString("utf8") } : { kind: "binary", bytes: plaintext },
      stages: version.stages,
      createdAt: version.createdAt,
    };
  }

  /** LastAccessedDate writes in flight, one per secret version and day; the reads that show the date wait for them. */
  const accessWrites = new Map<string, Promise<void>>();

  /**
   * LastAccessedDate has day resolution (as on AWS), so a read writes at most
   * once a day per secret and version: concurrent reads share the write, and
   * the answer does not wait for it. It is a convenience date, not a record
   * (the audit trail has the read): a failed write is tried again by the next read.
   */
  function recordAccess(secret: SecretRecord, version: VersionRecord): void {
    const today = startOfDay(clock.now());
    if (secret.lastAccessedAt === today && version.lastAccessedAt === today) return;
    const key = `${today}\n${secret.arn}\n${version.versionId}`;
    if (accessWrites.has(key)) return;
    const write = store
      .transaction(async (tx) => {
        const s = await tx.getSecret(secret.arn);
        const v = await tx.getVersion(secret.arn, version.versionId);
        if (s && s.lastAccessedAt !== today) await tx.putSecret({ ...s, lastAccessedAt: today });
        if (v && v.lastAccessedAt !== today) await tx.putVersion({ ...v, lastAccessedAt: today });
      })
      .catch(() => undefined)
      .finally(() => accessWrites.delete(key));
    accessWrites.set(key, write);
  }

  /** Read-your-writes for the dates: a describe right after a read shows the read's day. */
  async function accessRecorded(): Promise<void> {
    if (accessWrites.size > 0) await Promise.all(accessWrites.values());
  }

  function checkStage(label: string): void {
    if (label.length < 1 || label.length > 256) {
      throw new CofferError("InvalidParameter", "A staging label must be 1 to 256 characters long.");
    }
  }

  const service = {
    async create(principal: Principal, input: CreateSecretInput): Promise<VersionedRef> {
      if (!NAME_PATTERN.test(input.name)) {
        throw new CofferError(
          "Validation",
          "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!",
        );
      }
      validateTags(input.tags ?? []);
      const resource = secretArn(region, principal.accountId, input.name);
      await authorizer.authorize({
        principal,
        action: "secretsmanager:CreateSecret",
        resource,
        context: {
          "secretsmanager:Name": input.name,
          "secretsmanager:KmsKeyId": input.kmsKeyId,
          "secretsmanager:Description": input.description,
          ...requestTagContext(input.tags ?? []),
        },
      });
      if (input.kmsKeyId !== undefined) await keyring.resolve(principal.accountId, input.kmsKeyId);
      return store.transaction(async (tx) => {
        const existing = await tx.getSecretByName(principal.accountId, input.name);
        if (existing) {
          if (existing.purgeAt !== undefined) {
            throw new CofferError(
              "InvalidRequest",
              "You can't create this secret because a secret with this name is already scheduled for deletion.",
            );
          }
          // A retried CreateSecret (same token, same value) succeeds again, as AWS's idempotency promises.
          if (input.clientRequestToken && input.value) {
            const v = await tx.getVersion(existing.arn, input.clientRequestToken);
            if (v && (await holds(existing.arn, v, input.value))) {
              return { arn: existing.arn, name: existing.name, versionId: v.versionId };
            }
          }
          throw new CofferError("AlreadyExists", `The operation failed because the secret ${input.name} already exists.`);
        }
        const now = clock.now();
        const secret: SecretRecord = {
          arn: newSecretArn(region, principal.accountId, input.name),
          accountId: principal.accountId,
          name: input.name,
          createdAt: now,
          lastChangedAt: now,
          tags: input.tags ?? [],
        };
        if (input.description !== undefined) secret.description = input.description;
        if (input.kmsKeyId !== undefined) secret.kmsKeyId = input.kmsKeyId;
        if (input.replicas?.length) secret.replication = { seq: 0, replicas: input.replicas };
        return saveWithValue(principal, tx, secret, input.value, input.clientRequestToken);
      });
    },

    async getValue(principal: Principal, input: GetValueInput): Promise<SecretVersionValue> {
      const secret = await load(store, principal, input.secretId, "secretsmanager:GetSecretValue", {
        context: { "secretsmanager:VersionId": input.versionId, "secretsmanager:VersionStage": input.versionStage },
      });
      return readValue(principal, secret, input);
    },

    async batchGetValue(principal: Principal, input: BatchGetInput): Promise<BatchGetResult> {
      await authorizer.authorize({ principal, action: "secretsmanager:BatchGetSecretValue", resource: "*" });
      const result: BatchGetResult = { values: [], errors: [] };
      let ids: string[];
      if (input.secretIds) {
        ids = input.secretIds;
      } else {
        const page = await service.list(principal, {
          filters: input.filters,
          maxResults: input.maxResults ?? 20,
          nextToken: input.nextToken,
        });
        ids = page.items.map((s) => s.arn);
        if (page.nextToken) result.nextToken = page.nextToken;
      }
      for (const secretId of ids) {
        try {
          result.values.push(await service.getValue(principal, { secretId }));
        } catch (err) {
          if (!(err instanceof CofferError)) throw err;
          result.errors.push({ secretId, code: err.code, message: err.message });
        }
      }
      return result;
    },

    async putValue(principal: Principal, input: PutValueInput): Promise<VersionedRef & { stages: string[] }> {
      const stages = input.stages ?? [AWSCURRENT];
      stages.forEach(checkStage);
      return store.transaction(async (tx) => {
        const secret = await load(tx, principal, input.secretId, "secretsmanager:PutSecretValue");
        // As on AWS, the first version of a secret is AWSCURRENT whatever labels were asked for:
        // a secret must not be left with values none of which is current.
        const versions = await tx.listVersions(secret.arn);
        const hasCurrent = versions.some((v) => v.stages.includes(AWSCURRENT));
        const withCurrent = hasCurrent || stages.includes(AWSCURRENT) ? stages : [...stages, AWSCURRENT];
        const v = await addVersion(principal, tx, secret, input.value, withCurrent, input.clientRequestToken);
        return { arn: secret.arn, name: secret.name, versionId: v.versionId, stages: v.stages };
      });
    },

    async update(principal: Principal, input: UpdateSecretInput): Promise<VersionedRef> {
      return store.transaction(async (tx) => {
        let secret = await load(tx, principal, input.secretId, "secretsmanager:UpdateSecret", {
          context: { "secretsmanager:Description": input.description, "secretsmanager:KmsKeyId": input.kmsKeyId },
        });
        if (input.kmsKeyId !== undefined) await keyring.resolve(secret.accountId, input.kmsKeyId, tx);
        secret = { ...secret, lastChangedAt: clock.now() };
        if (input.description !== undefined) secret.description = input.description;
        if (input.kmsKeyId !== undefined) secret.kmsKeyId = input.kmsKeyId;
        return saveWithValue(principal, tx, secret, input.value, input.clientRequestToken);
      });
    },

    async updateVersionStage(principal: Principal, input: UpdateStageInput): Promise<SecretRef> {
      checkStage(input.stage);
      return store.transaction(async (tx) => {
        const secret = await load(tx, principal, input.secretId, "secretsmanager:UpdateSecretVersionStage", {
          context: { "secretsmanager:VersionStage": input.stage },
        });
        const versions = await tx.listVersions(secret.arn);
        const holder = versions.find((v) => v.stages.includes(input.stage));
        const mustExist = (id: string | undefined) => {
          if (id !== undefined && !versions.some((v) => v.versionId === id)) {
            throw new CofferError("NotFound", `Secrets Manager can't find the specified secret version: ${id}`);
          }
        };
        mustExist(input.moveToVersionId);
        mustExist(input.removeFromVersionId);
        if (input.removeFromVersionId !== undefined && holder?.versionId !== input.removeFromVersionId) {
          throw new CofferError(
            "InvalidParameter",
            `The staging label ${input.stage} is not attached to version ${input.removeFromVersionId}, so it can't be removed from it.`,
          );
        }
        let changes: StageChanges;
        if (input.moveToVersionId !== undefined) {
          if (holder && holder.versionId !== input.moveToVersionId && input.removeFromVersionId === undefined) {
            throw new CofferError(
              "InvalidParameter",
              `The staging label ${input.stage} is currently attached to version ${holder.versionId}. Specify that version as RemoveFromVersionId to move the label.`,
            );
          }
          changes = attachStages(versions, input.moveToVersionId, [input.stage]);
        } else {
          if (input.removeFromVersionId === undefined) {
            throw new CofferError("InvalidParameter", "Specify MoveToVersionId, RemoveFromVersionId, or both.");
          }
          if (input.stage === AWSCURRENT) {
            throw new CofferError(
              "InvalidParameter",
              "You can only move staging label AWSCURRENT to a different secret version. It can't be completely removed.",
            );
          }
          changes = detachStage(versions, input.stage, input.removeFromVersionId);
        }
        await writeChanges(tx, versions, changes);
        await tx.putSecret({ ...secret, lastChangedAt: clock.now() });
        return { arn: secret.arn, name: secret.name };
      });
    },

    async describe(principal: Principal, input: { secretId: string }): Promise<SecretDescription> {
      await accessRecorded();
      const secret = await load(store, principal, input.secretId, "secretsmanager:DescribeSecret", { allowDeleted: true });
      const versionStages: Record<string, string[]> = {};
      for (const v of await store.listVersions(secret.arn)) {
        if (v.stages.length > 0) versionStages[v.versionId] = v.stages;
      }
      return describeRecord(secret, versionStages, region);
    },

    async list(principal: Principal, input: ListSecretsInput): Promise<Page<SecretDescription>> {
      await accessRecorded();
      await authorizer.authorize({ principal, action: "secretsmanager:ListSecrets", resource: "*" });
      const secrets = (await store.listSecrets(principal.accountId)).filter(
        (s) =>
          (input.includePlannedDeletion || s.purgeAt === undefined) && matchesFilters(s, input.filters ?? [], region),
      );
      const page = paginate(sortSecrets(secrets, input), input.maxResults ?? 100, input.nextToken);
      const items: SecretDescription[] = [];
      for (const s of page.items) {
        const versionStages: Record<string, string[]> = {};
        for (const v of await store.listVersions(s.arn)) {
          if (v.stages.length > 0) versionStages[v.versionId] = v.stages;
        }
        items.push(describeRecord(s, versionStages, region));
      }
      return { items, nextToken: page.nextToken };
    },

    async listVersions(
      principal: Principal,
      input: ListVersionsInput,
    ): Promise<SecretRef & Page<VersionSummary>> {
      await accessRecorded();
      const secret = await load(store, principal, input.secretId, "secretsmanager:ListSecretVersionIds", {
        allowDeleted: true,
      });
      const versions = (await store.listVersions(secret.arn)).filter(
        (v) => input.includeDeprecated || v.stages.length > 0,
      );
      const page = paginate(versions, input.maxResults ?? 100, input.nextToken);
      return {
        arn: secret.arn,
        name: secret.name,
        nextToken: page.nextToken,
        items: page.items.map((v) => {
          const summary: VersionSummary = { versionId: v.versionId, stages: v.stages, createdAt: v.createdAt, keyArn: v.keyArn };
          if (v.lastAccessedAt !== undefined) summary.lastAccessedAt = v.lastAccessedAt;
          return summary;
        }),
      };
    },

    async randomPassword(principal: Principal, options: PasswordOptions): Promise<string> {
      await authorizer.authorize({ principal, action: "secretsmanager:GetRandomPassword", resource: "*" });
      return randomPassword(options);
    },
  };
  return {
    ...service,
    ...createSecretLifecycle(deps, { find, load, authorizeOn }),
    ...createSecretPolicies({ store, authorizer, clock }, load),
  };
}

export type SecretsService = ReturnType<typeof createSecretsService>;
