import { DEFAULT_PARAMETER_KEY_ALIAS } from "../../crypto/keyring.ts";
import type { KeyRecord, ParameterRecord, ParameterVersionRecord, Tag } from "../../storage/store.ts";
import { CofferError } from "../../shared/errors.ts";
import type { Principal } from "../identity/identity-types.ts";
import { requestTagContext } from "../secrets/secrets-access.ts";
import {
  checkAllowedPattern,
  checkNewName,
  chooseTier,
  compileAllowedPattern,
  isValidLabel,
  messages,
  parameterArn,
  parseName,
  type NamedParameter,
} from "./parameters-fns.ts";
import { nextDue, parsePolicies, policyAttributes, schedulePolicies } from "./parameters-policies.ts";
import { createParameterAccess, type ParametersDeps, type ParametersServiceTx } from "./parameters-access.ts";
import { createParameterReads } from "./parameters-read.ts";
import {
  DEFAULT_DATA_TYPE,
  MAX_LABELS_PER_VERSION,
  MAX_TAGS,
  MAX_VERSIONS,
  type ParameterTier,
  type PutParameterInput,
  type TagTarget,
} from "./parameters-types.ts";

export type { ParameterAccess, ParametersDeps } from "./parameters-access.ts";

export function createParametersService(deps: ParametersDeps) {
  const { store, keyring, clock, region } = deps;
  const access = createParameterAccess(deps);
  const { named, load, mustLoad, useKey, valueAad } = access;

  function checkTags(tags: Tag[]): void {
    if (tags.length > MAX_TAGS) throw new CofferError("TooManyTags", `A parameter can have at most ${MAX_TAGS} tags.`);
    if (tags.some((t) => t.key.toLowerCase().startsWith("aws:"))) {
      throw new CofferError("Validation", "Tag keys that start with aws: are reserved for AWS use.");
    }
  }

  async function resolveKey(accountId: string, keyId: string, tx: ParametersServiceTx): Promise<KeyRecord> {
    try {
      return await keyring.resolve(accountId, keyId, tx);
    } catch (err) {
      if (err instanceof CofferError && err.code === "NotFound") {
        throw new CofferError("InvalidKeyId", `The KMS key ${keyId} does not exist in account ${accountId}.`);
      }
      throw err;
    }
  }

  /** A 101st version pushes out the oldest, unless a label holds it. */
  async function makeRoom(tx: ParametersServiceTx, p: ParameterRecord): Promise<void> {
    if (p.version < MAX_VERSIONS) return;
    const versions = await tx.listParameterVersions(p.arn);
    if (versions.length < MAX_VERSIONS) return;
    const oldest = versions[versions.length - 1];
    if (oldest.labels.length > 0) {
      throw new CofferError(
        "VersionLimitExceeded",
        `You attempted to create a new version of ${p.name} by calling the PutParameter API with the overwrite flag. Version ${oldest.version}, the oldest version, can't be deleted because it has a label associated with it. Move the label to another version of the parameter, and try again.`,
      );
    }
    await tx.deleteParameterVersion(p.arn, oldest.version);
  }

  function tagTarget(principal: Principal, target: TagTarget): NamedParameter {
    if (target.resourceType !== "Parameter") {
      throw new CofferError("InvalidResourceType", `Coffer keeps tags on parameters only (ResourceType Parameter), not ${target.resourceType}.`);
    }
    const n = parseName(target.resourceId, region, principal.accountId);
    if (!n || n.selector) throw new CofferError("InvalidResourceId", "The resource ID is not valid. Verify the ID and try again.");
    return n;
  }

  async function mustLoadForTags(tx: ParametersServiceTx, principal: Principal, n: NamedParameter, action: string, context: Record<string, string | string[]>) {
    const record = await load(tx, principal, n, action, context);
    if (!record) throw new CofferError("InvalidResourceId", "The resource ID is not valid. Verify the ID and try again.");
    return record;
  }

  const service = {
    /** Creates a parameter, or with `overwrite` adds a version; attributes not given carry over from the latest version. */
    async put(principal: Principal, input: PutParameterInput): Promise<{ version: number; tier: ParameterTier }> {
      const name = input.name.trim();
      checkNewName(name, region, principal.accountId);
      if (input.value.length === 0) {
        throw new CofferError("Validation", "1 validation error detected: Value at 'value' failed to satisfy constraint: Member must have length greater than or equal to 1.");
      }
      if (input.dataType !== undefined && input.dataType !== DEFAULT_DATA_TYPE) {
        throw new CofferError("Validation", `The following data type is not supported: ${input.dataType}. Coffer supports the data type text.`);
      }
      if (input.tags?.length && input.overwrite) {
        throw new CofferError(
          "Validation",
          "Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource.",
        );
      }
      if (input.keyId !== undefined && input.type !== undefined && input.type !== "SecureString") {
        throw new CofferError("Validation", "KeyId can be used only with SecureString parameters.");
      }
      checkTags(input.tags ?? []);
      if (input.allowedPattern) compileAllowedPattern(input.allowedPattern);
      const now = clock.now();
      const newPolicies = input.policies === undefined ? undefined : parsePolicies(input.policies, now);
      const arn = parameterArn(region, principal.accountId, name);

      return store.transaction(async (tx) => {
        const existing = await load(tx, principal, { name, arn }, "ssm:PutParameter", {
          "ssm:Overwrite": String(Boolean(input.overwrite)),
          "ssm:Policies": String(input.policies !== undefined),
          ...requestTagContext(input.tags ?? []),
        });
        if (existing && !input.overwrite) {
          throw new CofferError(
            "AlreadyExists",
            "The parameter already exists. To overwrite this request value, set the overwrite option in the request to true.",
          );
        }
        if (!existing && input.type === undefined) {
          throw new CofferError("Validation", "A parameter type is required when you create a parameter.");
        }
        if (existing && input.type !== undefined && input.type !== existing.type) {
          throw new CofferError(
            "TypeMismatch",
            `Parameter Store doesn't support changing a parameter type: ${existing.name} is a ${existing.type}. You must create a new, unique parameter.`,
          );
        }
        const type = input.type ?? existing!.type;
        if (input.keyId !== undefined && type !== "SecureString") {
          throw new CofferError("Validation", "KeyId can be used only with SecureString parameters.");
        }
        // A pattern stays with the parameter: an overwrite that names none (or an empty one) is checked against the stored one.
        const allowedPattern = input.allowedPattern || existing?.allowedPattern;
        checkAllowedPattern(allowedPattern, input.value);
        const policies = newPolicies ?? existing?.policies ?? [];
        const tier = chooseTier(input.tier, existing?.tier, Buffer.byteLength(input.value, "utf8"), policies.length > 0);
        const keyId =
          type !== "SecureString"
            ? undefined
            : (input.keyId ?? (existing?.type === "SecureString" ? existing.keyId : undefined) ?? DEFAULT_PARAMETER_KEY_ALIAS);
        if (existing) await makeRoom(tx, existing);
        const version = (existing?.version ?? 0) + 1;
        const description = input.description ?? existing?.description;
        const dataType = input.dataType ?? existing?.dataType ?? DEFAULT_DATA_TYPE;
        const record: ParameterVersionRecord = {
          parameterArn: arn,
          version,
          createdAt: now,
          createdBy: principal.arn,
          type,
          tier,
          dataType,
          labels: [],
        };
        if (description !== undefined) record.description = description;
        if (allowedPattern !== undefined) record.allowedPattern = allowedPattern;
        if (keyId !== undefined) record.keyId = keyId;
        if (policies.length > 0) record.policies = `[${policies.map((p) => p.text).join(",")}]`;
        if (type === "SecureString") {
          const key = await resolveKey(principal.accountId, keyId!, tx);
          await useKey(principal, key, arn, "kms:GenerateDataKey");
          const envelope = keyring.seal(key, Buffer.from(input.value, "utf8"), valueAad(arn, version));
          Object.assign(record, envelope);
        } else {
          record.value = input.value;
        }
        const scheduled = schedulePolicies(policies, now);
        const parameter: ParameterRecord = {
          arn,
          accountId: principal.accountId,
          name: existing?.name ?? name,
          version,
          type,
          tier,
          dataType,
          policies: scheduled,
          lastModifiedAt: now,
          lastModifiedUser: principal.arn,
          tags: existing?.tags ?? input.tags ?? [],
        };
        if (description !== undefined) parameter.description = description;
        if (allowedPattern !== undefined) parameter.allowedPattern = allowedPattern;
        if (keyId !== undefined) parameter.keyId = keyId;
        const dueAt = nextDue(scheduled);
        if (dueAt !== undefined) parameter.dueAt = dueAt;
        // The parameter row first: a version refers to it.
        await tx.putParameter(parameter);
        await tx.putParameterVersion(record);
        return { version, tier };
      });
    },

    async delete(principal: Principal, input: { name: string }): Promise<void> {
      const n = named(principal, input.name);
      await store.transaction(async (tx) => {
        const record = await mustLoad(tx, principal, n, "ssm:DeleteParameter");
        await tx.deleteParameter(record.arn);
      });
    },

    /** Deletes what it can; names that are not parameters come back as invalid. Any denial fails the whole call. */
    async deleteMany(principal: Principal, input: { names: string[] }): Promise<{ deleted: string[]; invalid: string[] }> {
      return store.transaction(async (tx) => {
        const result = { deleted: [] as string[], invalid: [] as string[] };
        for (const name of [...new Set(input.names)]) {
          let n: NamedParameter | undefined;
          try {
            n = parseName(name, region, principal.accountId);
          } catch (err) {
            // A malformed name is reported with the others, as GetParameters does.
            if (!(err instanceof CofferError && err.code === "Validation")) throw err;
          }
          const record = n && !n.selector ? await load(tx, principal, n, "ssm:DeleteParameters") : undefined;
          if (!record) {
            result.invalid.push(name);
            continue;
          }
          await tx.deleteParameter(record.arn);
          result.deleted.push(name);
        }
        return result;
      });
    },

    /**
     * Attaches labels to a version (the latest unless named); a label on
     * another version moves here. Labels that break the rules come back in
     * invalidLabels and are not attached.
     */
    async label(
      principal: Principal,
      input: { name: string; version?: number; labels: string[] },
    ): Promise<{ invalidLabels: string[]; version: number }> {
      const n = named(principal, input.name);
      return store.transaction(async (tx) => {
        const record = await mustLoad(tx, principal, n, "ssm:LabelParameterVersion");
        const version = input.version ?? record.version;
        const target = await tx.getParameterVersion(record.arn, version);
        if (!target) throw new CofferError("VersionNotFound", messages.versionNotFound(record.name, version));
        const invalidLabels = input.labels.filter((l) => !isValidLabel(l));
        const labels = [...new Set([...target.labels, ...input.labels.filter(isValidLabel)])];
        if (labels.length > MAX_LABELS_PER_VERSION) {
          throw new CofferError(
            "LabelLimitExceeded",
            `A parameter version can have maximum ${MAX_LABELS_PER_VERSION} labels. Move one or more labels to another version and try again.`,
          );
        }
        await tx.putParameterVersion({ ...target, labels });
        return { invalidLabels, version };
      });
    },

    async unlabel(
      principal: Principal,
      input: { name: string; version: number; labels: string[] },
    ): Promise<{ removedLabels: string[]; invalidLabels: string[] }> {
      const n = named(principal, input.name);
      return store.transaction(async (tx) => {
        const record = await mustLoad(tx, principal, n, "ssm:UnlabelParameterVersion");
        const target = await tx.getParameterVersion(record.arn, input.version);
        if (!target) throw new CofferError("VersionNotFound", messages.versionNotFound(record.name, input.version));
        const asked = [...new Set(input.labels)];
        const removedLabels = asked.filter((l) => target.labels.includes(l));
        const invalidLabels = asked.filter((l) => !target.labels.includes(l));
        if (removedLabels.length) await tx.putParameterVersion({ ...target, labels: target.labels.filter((l) => !removedLabels.includes(l)) });
        return { removedLabels, invalidLabels };
      });
    },

    async addTags(principal: Principal, input: TagTarget & { tags: Tag[] }): Promise<void> {
      const n = tagTarget(principal, input);
      await store.transaction(async (tx) => {
        const record = await mustLoadForTags(tx, principal, n, "ssm:AddTagsToResource", requestTagContext(input.tags));
        const merged = new Map(record.tags.map((t) => [t.key, t.value]));
        for (const t of input.tags) merged.set(t.key, t.value);
        const tags = [...merged].map(([key, value]) => ({ key, value }));
        checkTags(tags);
        await tx.putParameter({ ...record, tags });
      });
    },

    async listTags(principal: Principal, input: TagTarget): Promise<Tag[]> {
      const n = tagTarget(principal, input);
      return store.transaction(async (tx) => (await mustLoadForTags(tx, principal, n, "ssm:ListTagsForResource", {})).tags);
    },

    async removeTags(principal: Principal, input: TagTarget & { tagKeys: string[] }): Promise<void> {
      const n = tagTarget(principal, input);
      await store.transaction(async (tx) => {
        const record = await mustLoadForTags(tx, principal, n, "ssm:RemoveTagsFromResource", { "aws:TagKeys": input.tagKeys });
        await tx.putParameter({ ...record, tags: record.tags.filter((t) => !input.tagKeys.includes(t.key)) });
      });
    },

    /**
     * Acts on parameter policies that are due: sends ExpirationNotification and
     * NoChangeNotification events, deletes parameters whose Expiration has come.
     * Each action is recorded (through serviceEvents) before it happens, and a
     * failed record stops it, as for every audited action. Returns how many
     * parameters it deleted.
     */
    async expireDue(): Promise<number> {
      let deleted = 0;
      const now = clock.now();
      for (const p of await store.listParametersDue(now, 100)) {
        const due = p.policies
          .filter((x) => x.status === "Pending" && x.dueAt !== undefined && x.dueAt <= now)
          .sort((a, b) => a.dueAt! - b.dueAt!);
        for (const policy of due) {
          const expiring = policy.type === "Expiration";
          await deps.serviceEvents?.record({
            name: expiring ? "DeleteParameter" : `Parameter${policy.type}`,
            service: "ssm",
            accountId: p.accountId,
            resources: [{ arn: p.arn, type: "AWS::SSM::Parameter" }],
            details: {
              name: p.name,
              policyType: policy.type,
              policy: policyAttributes(policy),
              reason: expiring
                ? "The parameter's Expiration policy took effect."
                : policy.type === "ExpirationNotification"
                  ? "The parameter expires soon."
                  : "The parameter has not changed for the time its NoChangeNotification policy names.",
              lastModifiedDate: new Date(p.lastModifiedAt).toISOString(),
            },
          });
          const acted = await store.transaction(async (tx) => {
            // The parameter may have changed since it was listed: act only on the policy as it still stands.
            const current = await tx.getParameter(p.arn);
            const still = current?.policies.find((x) => x.type === policy.type && x.text === policy.text && x.status === "Pending");
            if (!current || !still || still.dueAt === undefined || still.dueAt > now) return false;
            if (expiring) {
              await tx.deleteParameter(p.arn);
              return true;
            }
            const policies = current.policies.map((x) => (x === still ? { type: x.type, text: x.text, status: "Finished" as const } : x));
            const { dueAt: _old, ...rest } = current;
            const next = nextDue(policies);
            await tx.putParameter(next === undefined ? { ...rest, policies } : { ...rest, policies, dueAt: next });
            return false;
          });
          if (acted) {
            deleted++;
            break;
          }
        }
      }
      return deleted;
    },
  };

  return { ...service, ...createParameterReads(deps, access) };
}

export type ParametersService = ReturnType<typeof createParametersService>;
