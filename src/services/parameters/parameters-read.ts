import type { ParameterReads as StoredParameterReads, ParameterRecord, ParameterVersionRecord } from "../../storage/store.ts";
import { CofferError } from "../../shared/errors.ts";
import type { Principal } from "../identity/identity-types.ts";
import {
  checkFilters,
  decodeToken,
  encodeToken,
  matchesFilter,
  messages,
  normalizePath,
  parameterArn,
  type CheckedFilter,
  type NamedParameter,
} from "./parameters-fns.ts";
import type { ParameterAccess, ParametersDeps } from "./parameters-access.ts";
import {
  REFERENCE_PREFIX,
  type DescribeInput,
  type GetByPathInput,
  type HistoryInput,
  type InlinePolicy,
  type Page,
  type ParameterDescription,
  type ParameterHistoryEntry,
  type ParameterValue,
} from "./parameters-types.ts";

/** Page sizes when the caller names none, as on AWS. */
const BY_PATH_PAGE = 10;
const DESCRIBE_PAGE = 50;
const HISTORY_PAGE = 50;
/** Rows one by-path or describe call reads from the store before it answers (with a token) however few matched. */
const SCAN_BUDGET = 1000;
const SCAN_BATCH = 100;

/** A secret version id (a UUID, or any 32-64 character client token) rather than a staging label. */
const VERSION_ID = /^[a-zA-Z0-9-]{32,64}$/;

/**
 * The reads of Parameter Store: GetParameter(s), GetParametersByPath,
 * DescribeParameters, GetParameterHistory. Each authorises through `access`
 * before it reveals anything; a SecureString value is decrypted only when the
 * caller asked for it and holds kms:Decrypt on its key.
 */
export function createParameterReads(deps: ParametersDeps, access: ParameterAccess) {
  const { store, region, secrets } = deps;
  const { named, load, valueOf } = access;

  function policiesOf(p: ParameterRecord): InlinePolicy[] {
    return p.policies.map((x) => ({ text: x.text, type: x.type, status: x.status }));
  }

  function describeOf(p: ParameterRecord): ParameterDescription {
    const d: ParameterDescription = {
      name: p.name,
      arn: p.arn,
      type: p.type,
      lastModifiedAt: p.lastModifiedAt,
      lastModifiedUser: p.lastModifiedUser,
      version: p.version,
      tier: p.tier,
      policies: policiesOf(p),
      dataType: p.dataType,
    };
    if (p.keyId !== undefined) d.keyId = p.keyId;
    if (p.description !== undefined) d.description = p.description;
    if (p.allowedPattern !== undefined) d.allowedPattern = p.allowedPattern;
    return d;
  }

  async function valueFor(
    principal: Principal,
    p: ParameterRecord,
    v: ParameterVersionRecord,
    decrypt: boolean,
    selector?: string,
  ): Promise<ParameterValue> {
    const out: ParameterValue = {
      name: p.name,
      arn: p.arn,
      type: v.type,
      value: await valueOf(principal, p.arn, v, decrypt),
      version: v.version,
      lastModifiedAt: v.createdAt,
      dataType: v.dataType,
    };
    if (selector !== undefined) out.selector = selector;
    return out;
  }

  /** The version a selector names, or the latest. */
  async function versionFor(reader: Pick<StoredParameterReads, "getParameterVersion" | "getParameterVersionByLabel">, p: ParameterRecord, n: NamedParameter) {
    const s = n.selector;
    const v = !s
      ? await reader.getParameterVersion(p.arn, p.version)
      : s.kind === "version"
        ? await reader.getParameterVersion(p.arn, s.version)
        : await reader.getParameterVersionByLabel(p.arn, s.label);
    if (!v) throw new CofferError("VersionNotFound", messages.versionNotFound(p.name, s ? s.text.slice(1) : p.version));
    return v;
  }

  /**
   * /aws/reference/secretsmanager/<secret-id>[:<stage or version id>]: the
   * secret's value, read through Secrets Manager's own checks (its
   * permission, its resource policy, kms:Decrypt on its key) after
   * ssm:GetParameter on the reference name.
   */
  async function getReference(principal: Principal, name: string, withDecryption: boolean, action: string): Promise<ParameterValue> {
    const rest = name.slice(REFERENCE_PREFIX.length);
    let secretId = rest;
    let selector: string | undefined;
    // A secret name has no ":"; an ARN has six before its name.
    const cut = rest.startsWith("arn:") ? nthIndexOf(rest, ":", 7) : rest.indexOf(":");
    if (cut >= 0) {
      secretId = rest.slice(0, cut);
      selector = rest.slice(cut + 1);
    }
    const referenceName = REFERENCE_PREFIX + secretId;
    if (!secretId || selector === "") throw new CofferError("NotFound", messages.notFound(name));
    await deps.authorizer.authorize({
      principal,
      action,
      resource: parameterArn(region, principal.accountId, referenceName),
    });
    if (!withDecryption) {
      throw new CofferError("Validation", "WithDecryption flag must be True for retrieving a Secret Manager secret.");
    }
    const stage = selector !== undefined && !VERSION_ID.test(selector) ? selector : undefined;
    const versionId = selector !== undefined && VERSION_ID.test(selector) ? selector : undefined;
    const source = await secrets.getValue(principal, { secretId, versionStage: stage, versionId }).catch((err: unknown) => {
      if (err instanceof CofferError && err.code === "NotFound") {
        throw new CofferError(selector ? "VersionNotFound" : "NotFound", selector ? messages.versionNotFound(referenceName, selector) : messages.notFound(referenceName));
      }
      throw err;
    });
    const out: ParameterValue = {
      name: referenceName,
      arn: source.arn,
      type: "SecureString",
      value: source.value.kind === "string" ? source.value.text : source.value.bytes.toString("base64"),
      version: 0,
      lastModifiedAt: source.createdAt,
      dataType: "text",
      source,
    };
    if (selector !== undefined) out.selector = `:${selector}`;
    return out;
  }

  /** GetParameter authorises ssm:GetParameter on the parameter, GetParameters ssm:GetParameters on each. */
  async function getOne(principal: Principal, name: string, withDecryption: boolean, action: string): Promise<ParameterValue> {
    if (name.trim().startsWith(REFERENCE_PREFIX)) return getReference(principal, name.trim(), withDecryption, action);
    const n = named(principal, name, true);
    const p = await load(store, principal, n, action);
    if (!p) throw new CofferError("NotFound", messages.notFound(name));
    const v = await versionFor(store, p, n);
    return valueFor(principal, p, v, withDecryption, n.selector?.text);
  }

  /**
   * Walks an account's parameters under `path` in name order from `after`,
   * keeping those `keep` accepts, until `max` are kept or the scan budget is
   * spent. The token resumes after the last name read.
   */
  async function scan<T>(
    accountId: string,
    path: string,
    recursive: boolean,
    after: string | undefined,
    max: number,
    keep: (p: ParameterRecord) => Promise<T | undefined>,
  ): Promise<Page<T>> {
    const items: T[] = [];
    let read = 0;
    let cursor = after;
    for (;;) {
      const batch = await store.listParametersByPath(accountId, path, { recursive, after: cursor, limit: SCAN_BATCH });
      for (let i = 0; i < batch.length; i++) {
        const p = batch[i];
        cursor = p.name;
        read++;
        const item = await keep(p);
        if (item !== undefined) items.push(item);
        if (items.length === max || read >= SCAN_BUDGET) {
          const more = i < batch.length - 1 || batch.length === SCAN_BATCH;
          return more ? { items, nextToken: encodeToken(cursor) } : { items };
        }
      }
      if (batch.length < SCAN_BATCH) return { items };
    }
  }

  return {
    /** GetParameter: a name or ARN, optionally with ":<version>" or ":<label>". */
    async get(principal: Principal, input: { name: string; withDecryption?: boolean }): Promise<ParameterValue> {
      return getOne(principal, input.name, input.withDecryption ?? false, "ssm:GetParameter");
    },

    /**
     * GetParameters: what exists comes back, in alphabetical order of name
     * (as AWS documents: not the order asked); names that are not parameters
     * (malformed, or naming a missing version or label) come back as
     * invalid, in the order asked. A denial on any of them fails the call, as on AWS.
     */
    async getMany(
      principal: Principal,
      input: { names: string[]; withDecryption?: boolean },
    ): Promise<{ parameters: ParameterValue[]; invalid: string[] }> {
      const result = { parameters: [] as ParameterValue[], invalid: [] as string[] };
      for (const name of [...new Set(input.names)]) {
        try {
          result.parameters.push(await getOne(principal, name, input.withDecryption ?? false, "ssm:GetParameters"));
        } catch (err) {
          const malformed = err instanceof CofferError && err.code === "Validation" && err.message === messages.invalidName;
          if (malformed || (err instanceof CofferError && (err.code === "NotFound" || err.code === "VersionNotFound"))) result.invalid.push(name);
          else throw err;
        }
      }
      // Code-unit order, stable: one name asked at two versions keeps the order asked.
      result.parameters.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      return result;
    },

    /**
     * GetParametersByPath: authorised once on the path (as AWS does: the
     * resource is the path's ARN), answered from a range of the name index,
     * so its cost follows the branch, not the account.
     */
    async getByPath(principal: Principal, input: GetByPathInput): Promise<Page<ParameterValue>> {
      const path = normalizePath(input.path);
      const filters = checkFilters(input.filters, "byPath");
      // "/prod/app/" is authorised as arn:...:parameter/prod/app; "/" as arn:...:parameter/
      const resource = parameterArn(region, principal.accountId, path === "/" ? "/" : path.slice(0, -1));
      await deps.authorizer.authorize({ principal, action: "ssm:GetParametersByPath", resource });
      const after = decodeToken<string>(input.nextToken, "string");
      const labels = filters.find((f) => f.key === "Label");
      const others = filters.filter((f) => f.key !== "Label");
      const decrypt = input.withDecryption ?? false;
      return scan(principal.accountId, path, input.recursive ?? false, after, input.maxResults ?? BY_PATH_PAGE, async (p) => {
        if (!others.every((f) => matchesFilter(p, f))) return undefined;
        if (labels) {
          for (const label of labels.values) {
            const v = await store.getParameterVersionByLabel(p.arn, label);
            if (v) return valueFor(principal, p, v, decrypt, `:${label}`);
          }
          return undefined;
        }
        const v = await store.getParameterVersion(p.arn, p.version);
        return v && valueFor(principal, p, v, decrypt);
      });
    },

    /** DescribeParameters: metadata only (never a value), any parameter of the account that passes the filters. */
    async describe(principal: Principal, input: DescribeInput): Promise<Page<ParameterDescription>> {
      if (input.shared) {
        throw new CofferError("Validation", "Coffer does not share parameters between accounts: Shared must be false or absent.");
      }
      const filters: CheckedFilter[] = checkFilters(input.filters, "describe");
      await deps.authorizer.authorize({ principal, action: "ssm:DescribeParameters", resource: "*" });
      const after = decodeToken<string>(input.nextToken, "string");
      // A single Path filter value narrows the range read; others are checked per parameter.
      const pathFilter = filters.find((f) => f.key === "Path");
      const onePath = pathFilter && pathFilter.values.length === 1 ? pathFilter : undefined;
      const root = onePath ? normalizePath(onePath.values[0]) : "/";
      const recursive = onePath ? onePath.option === "Recursive" : true;
      return scan(principal.accountId, root, recursive, after, input.maxResults ?? DESCRIBE_PAGE, async (p) =>
        filters.every((f) => matchesFilter(p, f)) ? describeOf(p) : undefined,
      );
    },

    /** GetParameterHistory: every kept version, oldest first, with its labels. */
    async history(principal: Principal, input: HistoryInput): Promise<Page<ParameterHistoryEntry>> {
      const n = named(principal, input.name);
      const p = await load(store, principal, n, "ssm:GetParameterHistory");
      if (!p) throw new CofferError("NotFound", messages.notFound(input.name));
      const after = decodeToken<number>(input.nextToken, "number") ?? 0;
      const max = input.maxResults ?? HISTORY_PAGE;
      const versions = (await store.listParameterVersions(p.arn)).reverse().filter((v) => v.version > after);
      const page = versions.slice(0, max);
      const items: ParameterHistoryEntry[] = [];
      for (const v of page) {
        const entry: ParameterHistoryEntry = {
          name: p.name,
          arn: p.arn,
          type: v.type,
          lastModifiedAt: v.createdAt,
          lastModifiedUser: v.createdBy,
          version: v.version,
          tier: v.tier,
          policies: versionPolicies(v, p),
          dataType: v.dataType,
          value: await valueOf(principal, p.arn, v, input.withDecryption ?? false),
          labels: v.labels,
        };
        if (v.keyId !== undefined) entry.keyId = v.keyId;
        if (v.description !== undefined) entry.description = v.description;
        if (v.allowedPattern !== undefined) entry.allowedPattern = v.allowedPattern;
        items.push(entry);
      }
      return versions.length > max ? { items, nextToken: encodeToken(page[page.length - 1].version) } : { items };
    },
  };
}

/** The policies a version was written with; the status is the parameter's own while the policy still stands. */
function versionPolicies(v: ParameterVersionRecord, p: ParameterRecord): InlinePolicy[] {
  if (!v.policies) return [];
  const list = JSON.parse(v.policies) as { Type?: string }[];
  return list.map((x) => {
    const text = JSON.stringify(x);
    const current = p.policies.find((c) => c.text === text);
    return { text, type: String(x.Type), status: current?.status ?? "Finished" };
  });
}

function nthIndexOf(text: string, ch: string, n: number): number {
  let at = -1;
  for (let i = 0; i < n; i++) {
    at = text.indexOf(ch, at + 1);
    if (at < 0) return -1;
  }
  return at;
}

export type ParameterReads = ReturnType<typeof createParameterReads>;
