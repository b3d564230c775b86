import type { SecretStore } from "../../storage/store.ts";
import { parseArn } from "../../shared/arn.ts";
import { CofferError } from "../../shared/errors.ts";
import type { Principal } from "../identity/identity-types.ts";
import type { ServiceEventSink } from "../service-events.ts";
import { requestTagContext, type createSecretLoader } from "./secrets-access.ts";
import { DAY_MS, validateTags } from "./secrets-fns.ts";
import { mergeTags } from "../../shared/tags.ts";
import type { DeleteSecretInput, SecretRef, Tag } from "./secrets-types.ts";
import { deleteWithReplicasRefused } from "../replication/replication-types.ts";
import type { SecretRecord } from "../../storage/store.ts";

/** As on AWS, a primary is deleted only once its replica regions are removed. */
function refuseWithReplicas(secret: SecretRecord): void {
  const replicas = secret.replication?.replicas ?? [];
  if (replicas.length > 0) throw new CofferError("InvalidParameter", deleteWithReplicasRefused(secret.arn, replicas.map((r) => r.region)));
}

/** A secret's life after creation: delete (with a recovery window), restore, purge, and its tags. */
export function createSecretLifecycle(
  { store, clock, serviceEvents }: { store: SecretStore; clock: { now(): number }; serviceEvents?: ServiceEventSink },
  { find, load, authorizeOn }: ReturnType<typeof createSecretLoader>,
) {
  return {
    async delete(principal: Principal, input: DeleteSecretInput): Promise<SecretRef & { deletionDate: number }> {
      if (input.forceDeleteWithoutRecovery && input.recoveryWindowInDays !== undefined) {
        throw new CofferError(
          "InvalidParameter",
          "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
        );
      }
      const days = input.recoveryWindowInDays ?? 30;
      if (!Number.isInteger(days) || days < 7 || days > 30) {
        throw new CofferError("InvalidParameter", "RecoveryWindowInDays value must be between 7 and 30 days (inclusive).");
      }
      return store.transaction(async (tx) => {
        const now = clock.now();
        const context = {
          "secretsmanager:ForceDeleteWithoutRecovery": String(Boolean(input.forceDeleteWithoutRecovery)),
          "secretsmanager:RecoveryWindowInDays": String(days),
        };
        if (input.forceDeleteWithoutRecovery) {
          const found = await find(tx, principal, input.secretId);
          if (!found) {
            // Force-deleting a secret that is already gone succeeds, as on AWS.
            await load(tx, principal, input.secretId, "secretsmanager:DeleteSecret", { context }).catch((err) => {
              if (!(err instanceof CofferError) || err.code !== "NotFound") throw err;
            });
            const named = parseArn(input.secretId);
            const name = named ? named.resource.slice(named.resource.indexOf(":") + 1) : input.secretId;
            return { arn: named ? input.secretId : "", name, deletionDate: now };
          }
          const secret = await load(tx, principal, input.secretId, "secretsmanager:DeleteSecret", {
            allowDeleted: true,
            context,
          });
          refuseWithReplicas(secret);
          await tx.deleteSecret(secret.arn);
          return { arn: secret.arn, name: secret.name, deletionDate: now };
        }
        const secret = await load(tx, principal, input.secretId, "secretsmanager:DeleteSecret", { context });
        refuseWithReplicas(secret);
        const purgeAt = now + days * DAY_MS;
        await tx.putSecret({ ...secret, deletedAt: now, purgeAt });
        return { arn: secret.arn, name: secret.name, deletionDate: purgeAt };
      });
    },

    async restore(principal: Principal, input: { secretId: string }): Promise<SecretRef> {
      return store.transaction(async (tx) => {
        const secret = await load(tx, principal, input.secretId, "secretsmanager:RestoreSecret", { allowDeleted: true });
        const { deletedAt: _deleted, purgeAt: _purge, ...restored } = secret;
        await tx.putSecret({ ...restored, lastChangedAt: clock.now() });
        return { arn: secret.arn, name: secret.name };
      });
    },

    async tag(principal: Principal, input: { secretId: string; tags: Tag[] }): Promise<void> {
      await store.transaction(async (tx) => {
        const secret = await load(tx, principal, input.secretId, "secretsmanager:TagResource", {
          context: requestTagContext(input.tags),
        });
        const tags = mergeTags(secret.tags, input.tags);
        validateTags(tags);
        // AWS blocks a tag change that would cost the caller its own permission on the secret.
        await authorizeOn(principal, { ...secret, tags }, "secretsmanager:TagResource", requestTagContext(input.tags));
        await tx.putSecret({ ...secret, tags, lastChangedAt: clock.now() });
      });
    },

    async untag(principal: Principal, input: { secretId: string; tagKeys: string[] }): Promise<void> {
      await store.transaction(async (tx) => {
        const secret = await load(tx, principal, input.secretId, "secretsmanager:UntagResource", {
          context: { "aws:TagKeys": input.tagKeys },
        });
        const tags = secret.tags.filter((t) => !input.tagKeys.includes(t.key));
        await authorizeOn(principal, { ...secret, tags }, "secretsmanager:UntagResource", { "aws:TagKeys": input.tagKeys });
        await tx.putSecret({ ...secret, tags, lastChangedAt: clock.now() });
      });
    },

    /** Removes secrets whose recovery window has ended; returns how many. */
    async purgeDue(): Promise<number> {
      const due = await store.listSecretsDueForPurge(clock.now());
      for (const s of due) {
        // Recorded first: Coffer's own actions are audited like requests, and fail closed the same way.
        await serviceEvents?.record({
          name: "DeleteSecret",
          service: "secretsmanager",
          accountId: s.accountId,
          resources: [{ arn: s.arn, type: "AWS::SecretsManager::Secret" }],
          details: { reason: "The recovery window ended.", deletedDate: new Date(s.deletedAt ?? 0).toISOString() },
        });
        await store.transaction(async (tx) => {
          const current = await tx.getSecret(s.arn);
          if (current?.purgeAt !== undefined && current.purgeAt <= clock.now()) await tx.deleteSecret(s.arn);
        });
      }
      return due.length;
    },
  };
}
