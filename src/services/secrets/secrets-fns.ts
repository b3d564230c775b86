import { randomInt, timingSafeEqual } from "node:crypto";
import type { SecretRecord, VersionRecord } from "../../storage/store.ts";
import { CofferError } from "../../shared/errors.ts";
import { MAX_TAGS, type SecretDescription, type SecretValue, type Tag } from "./secrets-types.ts";
import { secretArn } from "../../shared/arn.ts";

/** Pure helpers of the secrets service. */

export const DAY_MS = 86_400_000;
export const NAME_PATTERN = /^[A-Za-z0-9/_+=.@-]+$/;
const SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

export const messages = {
  notFound: "Secrets Manager can't find the specified secret.",
  markedForDeletion: "You can't perform this operation on the secret because it was marked for deletion.",
};

export function startOfDay(ms: number): number {
  return ms - (ms % DAY_MS);
}

/** Constant-time comparison of a requested value with a stored version's plaintext. */
export function sameValue(a: SecretValue, b: Buffer, kind: VersionRecord["valueKind"]): boolean {
  const bytes = a.kind === "string" ? Buffer.from(a.text) : a.bytes;
  return a.kind === kind && bytes.length === b.length && timingSafeEqual(bytes, b);
}

export function encodeValue(value: SecretValue): Buffer {
  return value.kind === "string" ? Buffer.from(value.text, "utf8") : value.bytes;
}

/** Associated data binding a version's ciphertext to its secret and version. */
export function versionAad(arn: string, versionId: string): string {
  return `${arn}\n${versionId}`;
}

/** arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 random characters> */
export function newSecretArn(region: string, accountId: string, name: string): string {
  let suffix = "";
  for (let i = 0; i < 6; i++) suffix += SUFFIX_ALPHABET[randomInt(SUFFIX_ALPHABET.length)];
  return secretArn(region, accountId, `${name}-${suffix}`);
}

export function describeRecord(
  secret: SecretRecord,
  versionStages: Record<string, string[]>,
  region: string,
): SecretDescription {
  const d: SecretDescription = {
    arn: secret.arn,
    name: secret.name,
    createdAt: secret.createdAt,
    lastChangedAt: secret.lastChangedAt,
    tags: secret.tags,
    versionStages,
    primaryRegion: secret.replication?.primaryRegion ?? region,
  };
  if (secret.replication?.replicas?.length) d.replicas = secret.replication.replicas;
  if (secret.description !== undefined) d.description = secret.description;
  if (secret.kmsKeyId !== undefined) d.kmsKeyId = secret.kmsKeyId;
  if (secret.lastAccessedAt !== undefined) d.lastAccessedAt = secret.lastAccessedAt;
  if (secret.deletedAt !== undefined) d.deletedAt = secret.deletedAt;
  if (secret.rotation !== undefined) d.rotation = secret.rotation;
  return d;
}

export function validateTags(tags: Tag[]): void {
  if (tags.length > MAX_TAGS) throw new CofferError("InvalidParameter", `A secret can have at most ${MAX_TAGS} tags.`);
  if (tags.some((t) => t.key.toLowerCase().startsWith("aws:"))) {
    throw new CofferError("InvalidParameter", "Tag keys that start with aws: are reserved for AWS use.");
  }
}

