import type { SecretReads, SecretRecord, Tag } from "../../storage/store.ts";
import { CofferError } from "../../shared/errors.ts";
import type { Authorizer, Principal } from "../identity/identity-types.ts";
import { messages } from "./secrets-fns.ts";
import { isArn, parseArn, secretArn } from "../../shared/arn.ts";
import { REPLICA_WRITE_REFUSED } from "../replication/replication-types.ts";

/** What a replica secret allows: reads, and its own promotion (src/services/replication/). */
const REPLICA_ACTIONS = new Set([
  "secretsmanager:GetSecretValue",
  "secretsmanager:DescribeSecret",
  "secretsmanager:ListSecretVersionIds",
  "secretsmanager:GetResourcePolicy",
  "secretsmanager:ValidateResourcePolicy",
  "secretsmanager:StopReplicationToReplica",
]);

export type SecretReader = Pick<SecretReads, "getSecret" | "getSecretByName">;
export type LoadOptions = { allowDeleted?: boolean; context?: Record<string, string | string[] | undefined> };
export type LoadSecret = (
  reader: SecretReader,
  principal: Principal,
  secretId: string,
  action: string,
  opts?: LoadOptions,
) => Promise<SecretRecord>;

/** aws:RequestTag/<key> and aws:TagKeys for a request that sets tags. */
export function requestTagContext(tags: Tag[]): Record<string, string | string[]> {
  const context: Record<string, string | string[]> = { "aws:TagKeys": tags.map((t) => t.key) };
  for (const t of tags) context[`aws:RequestTag/${t.key}`] = t.value;
  return context;
}

/**
 * Finding a secret by the id a caller gave and authorising the action on it:
 * the one path every secrets operation takes, so no operation skips a check.
 */
export function createSecretLoader({ authorizer, region }: { authorizer: Authorizer; region: string }) {
  async function find(reader: SecretReader, principal: Principal, secretId: string) {
    if (isArn(secretId)) {
      const arn = parseArn(secretId);
      if (arn?.service === "secretsmanager" && arn.resource.startsWith("secret:")) {
        const exact = await reader.getSecret(secretId);
        if (exact) return exact;
        const partial = await reader.getSecretByName(arn.accountId, arn.resource.slice("secret:".length));
        if (partial && arn.region === region) return partial;
      }
      return undefined;
    }
    return reader.getSecretByName(principal.accountId, secretId);
  }

  /** Looks the secret up, authorises `action` on it, and refuses it if scheduled for deletion unless allowed. */
  async function load(
    reader: SecretReader,
    principal: Principal,
    secretId: string,
    action: string,
    opts: LoadOptions = {},
  ): Promise<SecretRecord> {
    const secret = await find(reader, principal, secretId);
    if (!secret) {
      // Authorise against the ARN the caller named so a denial does not reveal existence.
      const resource = isArn(secretId) ? secretId : secretArn(region, principal.accountId, secretId);
      await authorizer.authorize({ principal, action, resource, context: { "secretsmanager:SecretId": resource } });
      throw new CofferError("NotFound", messages.notFound);
    }
    await authorizeOn(principal, secret, action, opts.context);
    if (secret.replication?.primaryRegion !== undefined && !REPLICA_ACTIONS.has(action)) {
      throw new CofferError("InvalidParameter", REPLICA_WRITE_REFUSED);
    }
    if (secret.purgeAt !== undefined && !opts.allowDeleted) throw new CofferError("InvalidRequest", messages.markedForDeletion);
    return secret;
  }

  /**
   * Authorises `action` on `secret` as it stands (its tags, its resource policy). Tag operations
   * call it a second time with the tags they would leave, as AWS blocks a change that would cost
   * the caller its own access.
   */
  async function authorizeOn(
    principal: Principal,
    secret: SecretRecord,
    action: string,
    extra?: Record<string, string | string[] | undefined>,
  ): Promise<void> {
    const context: Record<string, string | string[] | undefined> = {
      "secretsmanager:SecretId": secret.arn,
      "secretsmanager:Name": secret.name,
      "secretsmanager:KmsKeyId": secret.kmsKeyId,
    };
    for (const t of secret.tags) {
      context[`secretsmanager:ResourceTag/${t.key}`] = t.value;
      context[`aws:ResourceTag/${t.key}`] = t.value;
    }
    await authorizer.authorize({
      principal,
      action,
      resource: secret.arn,
      resourcePolicy: secret.resourcePolicy,
      context: { ...context, ...extra },
    });
  }

  return { find, load: load as LoadSecret, authorizeOn };
}
