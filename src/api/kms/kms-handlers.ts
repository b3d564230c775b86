import type { ApiService, Handler } from "../api-service.ts";
import { errorMapper } from "../api-errors.ts";
import { CofferError, type ErrorCode } from "../../shared/errors.ts";
import type { KeyDescription, KeysService } from "../../services/keys/keys-service.ts";
import { metadata, operations } from "./generated/operations.ts";
import { shapes } from "./generated/shapes.ts";
import type * as T from "./generated/types.ts";

/** The KMS subset Coffer serves (awsJson 1.1, X-Amz-Target TrentService.*). */

const kmsErrors: Partial<Record<ErrorCode, { type: string; status: number }>> = {
  NotFound: { type: "NotFoundException", status: 400 },
  AlreadyExists: { type: "AlreadyExistsException", status: 400 },
  InvalidState: { type: "KMSInvalidStateException", status: 400 },
  Disabled: { type: "DisabledException", status: 400 },
  DecryptionFailure: { type: "InvalidCiphertextException", status: 400 },
  MalformedPolicy: { type: "MalformedPolicyDocumentException", status: 400 },
  InvalidAliasName: { type: "InvalidAliasNameException", status: 400 },
  IncorrectKey: { type: "IncorrectKeyException", status: 400 },
  InvalidParameter: { type: "ValidationException", status: 400 },
  LimitExceeded: { type: "LimitExceededException", status: 400 },
  InvalidTag: { type: "TagException", status: 400 },
  InvalidNextToken: { type: "InvalidMarkerException", status: 400 },
  Internal: { type: "KMSInternalException", status: 500 },
};

export const kmsError = errorMapper(kmsErrors, "json");

function keyMetadata(k: KeyDescription): T.KeyMetadata {
  return {
    AWSAccountId: k.accountId,
    KeyId: k.keyId,
    Arn: k.arn,
    CreationDate: new Date(k.createdAt),
    Enabled: k.meta.state === "Enabled",
    Description: k.meta.description,
    KeyUsage: "ENCRYPT_DECRYPT",
    KeyState: k.meta.state,
    DeletionDate: k.meta.deletionDate === undefined ? undefined : new Date(k.meta.deletionDate),
    Origin: "AWS_KMS",
    KeyManager: k.meta.managedBy,
    CustomerMasterKeySpec: "SYMMETRIC_DEFAULT",
    KeySpec: "SYMMETRIC_DEFAULT",
    EncryptionAlgorithms: ["SYMMETRIC_DEFAULT"],
    MultiRegion: false,
  };
}

function onlySymmetric(spec: string | undefined, usage: string | undefined): void {
  if ((spec !== undefined && spec !== "SYMMETRIC_DEFAULT") || (usage !== undefined && usage !== "ENCRYPT_DECRYPT")) {
    throw new CofferError("InvalidParameter", "Coffer supports symmetric ENCRYPT_DECRYPT keys (SYMMETRIC_DEFAULT) only.");
  }
}

export function kmsApi(keys: KeysService): ApiService {
  const handlers: Record<string, Handler> = {
    async CreateKey(p, i: T.CreateKeyRequest): Promise<T.CreateKeyResponse> {
      onlySymmetric(i.KeySpec ?? i.CustomerMasterKeySpec, i.KeyUsage);
      const key = await keys.create(p, {
        description: i.Description,
        policy: i.Policy,
        tags: i.Tags?.map((t) => ({ key: t.TagKey, value: t.TagValue })),
      });
      return { KeyMetadata: keyMetadata(key) };
    },
    async DescribeKey(p, i: T.DescribeKeyRequest): Promise<T.DescribeKeyResponse> {
      return { KeyMetadata: keyMetadata(await keys.describe(p, i.KeyId)) };
    },
    async ListKeys(p): Promise<T.ListKeysResponse> {
      return { Keys: (await keys.list(p)).map((k) => ({ KeyId: k.keyId, KeyArn: k.arn })), Truncated: false };
    },
    async CreateAlias(p, i: T.CreateAliasRequest) {
      await keys.createAlias(p, i.AliasName, i.TargetKeyId);
    },
    async UpdateAlias(p, i: T.UpdateAliasRequest) {
      await keys.updateAlias(p, i.AliasName, i.TargetKeyId);
    },
    async DeleteAlias(p, i: T.DeleteAliasRequest) {
      await keys.deleteAlias(p, i.AliasName);
    },
    async ListAliases(p, i: T.ListAliasesRequest): Promise<T.ListAliasesResponse> {
      const aliases = await keys.listAliases(p, i.KeyId);
      return {
        Aliases: aliases.map((a) => ({ AliasName: a.aliasName, AliasArn: a.aliasArn, TargetKeyId: a.targetKeyId })),
        Truncated: false,
      };
    },
    async GetKeyPolicy(p, i: T.GetKeyPolicyRequest): Promise<T.GetKeyPolicyResponse> {
      return { Policy: await keys.getPolicy(p, i.KeyId), PolicyName: "default" };
    },
    async PutKeyPolicy(p, i: T.PutKeyPolicyRequest) {
      await keys.putPolicy(p, i.KeyId, i.Policy);
    },
    async EnableKeyRotation(p, i: T.EnableKeyRotationRequest) {
      await keys.setRotation(p, i.KeyId, true, i.RotationPeriodInDays);
    },
    async DisableKeyRotation(p, i: T.DisableKeyRotationRequest) {
      await keys.setRotation(p, i.KeyId, false);
    },
    async GetKeyRotationStatus(p, i: T.GetKeyRotationStatusRequest): Promise<T.GetKeyRotationStatusResponse> {
      const r = await keys.rotationStatus(p, i.KeyId);
      return { KeyRotationEnabled: r.enabled, RotationPeriodInDays: r.periodDays };
    },
    async TagResource(p, i: T.TagResourceRequest) {
      await keys.tag(p, i.KeyId, i.Tags.map((t) => ({ key: t.TagKey, value: t.TagValue })));
    },
    async UntagResource(p, i: T.UntagResourceRequest) {
      await keys.untag(p, i.KeyId, i.TagKeys);
    },
    async ListResourceTags(p, i: T.ListResourceTagsRequest): Promise<T.ListResourceTagsResponse> {
      const page = await keys.listTags(p, i.KeyId, i.Limit, i.Marker);
      return {
        Tags: page.tags.map((t) => ({ TagKey: t.key, TagValue: t.value })),
        NextMarker: page.nextMarker,
        Truncated: page.nextMarker !== undefined,
      };
    },
    async EnableKey(p, i: T.EnableKeyRequest) {
      await keys.setEnabled(p, i.KeyId, true);
    },
    async DisableKey(p, i: T.DisableKeyRequest) {
      await keys.setEnabled(p, i.KeyId, false);
    },
    async ScheduleKeyDeletion(p, i: T.ScheduleKeyDeletionRequest): Promise<T.ScheduleKeyDeletionResponse> {
      const k = await keys.scheduleDeletion(p, i.KeyId, i.PendingWindowInDays);
      return { KeyId: k.arn, DeletionDate: new Date(k.meta.deletionDate!), KeyState: k.meta.state, PendingWindowInDays: i.PendingWindowInDays ?? 30 };
    },
    async CancelKeyDeletion(p, i: T.CancelKeyDeletionRequest): Promise<T.CancelKeyDeletionResponse> {
      return { KeyId: (await keys.cancelDeletion(p, i.KeyId)).arn };
    },
    async Encrypt(p, i: T.EncryptRequest): Promise<T.EncryptResponse> {
      const r = await keys.encrypt(p, { keyId: i.KeyId, plaintext: Buffer.from(i.Plaintext), context: i.EncryptionContext });
      return { CiphertextBlob: r.ciphertext, KeyId: r.keyArn, EncryptionAlgorithm: "SYMMETRIC_DEFAULT" };
    },
    async Decrypt(p, i: T.DecryptRequest): Promise<T.DecryptResponse> {
      if (!i.CiphertextBlob) throw new CofferError("InvalidParameter", "CiphertextBlob is required.");
      const r = await keys.decrypt(p, { ciphertext: Buffer.from(i.CiphertextBlob), keyId: i.KeyId, context: i.EncryptionContext });
      return { KeyId: r.keyArn, Plaintext: r.plaintext, EncryptionAlgorithm: "SYMMETRIC_DEFAULT" };
    },
    async GenerateDataKey(p, i: T.GenerateDataKeyRequest): Promise<T.GenerateDataKeyResponse> {
      if ((i.NumberOfBytes === undefined) === (i.KeySpec === undefined)) {
        throw new CofferError("InvalidParameter", "Specify either KeySpec or NumberOfBytes, but not both.");
      }
      const bytes = i.NumberOfBytes ?? (i.KeySpec === "AES_128" ? 16 : 32);
      const r = await keys.generateDataKey(p, { keyId: i.KeyId, bytes, context: i.EncryptionContext });
      return { CiphertextBlob: r.ciphertext, Plaintext: r.plaintext, KeyId: r.keyArn };
    },
  };
  return { metadata, shapes, operations, handlers, errorFor: kmsError };
}
