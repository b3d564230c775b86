import { formatArn, parseArn } from "../../shared/arn.ts";
import { CofferError } from "../../shared/errors.ts";
import { decodePageToken, encodePageToken } from "../../shared/paging-token.ts";
import { mergeTags } from "../../shared/tags.ts";
import type { OidcProviderReads, OidcProviderRecord, OidcProviderStore, Tag } from "../../storage/store.ts";
import type { Authorizer, Principal } from "./identity-types.ts";
import { parseInlineKeys } from "./oidc-keys.ts";

/**
 * IAM OpenID Connect identity providers, per account (docs/workload-identity.md). Creating one
 * contacts nobody: the issuer's keys are fetched when a token is presented
 * (oidc-keys.ts), or given inline (a Coffer extension, for clusters the server cannot reach).
 */

/** IAM's quotas: providers per account, client IDs per provider, thumbprints per provider, tags. */
const MAX_PROVIDERS = 100;
const MAX_CLIENT_IDS = 100;
const MAX_THUMBPRINTS = 5;
const MAX_TAGS = 50;

export interface OidcProviderDeps {
  store: OidcProviderStore;
  authorizer: Authorizer;
  clock: { now(): number };
  /** The operator allows http:// issuers (tests only; docs/configuration.md). */
  allowHttp: boolean;
  /** Told after every change, so cached provider lookups elsewhere are dropped. */
  onChange?: () => void;
}

/** The resource part of a provider's ARN: the issuer URL without its scheme. */
export function providerResource(url: string): string {
  return url.replace(/^https?:\/\//, "");
}

export function providerArn(accountId: string, url: string): string {
  return formatArn({ service: "iam", region: "", accountId, resource: `oidc-provider/${providerResource(url)}` });
}

function checkUrl(url: string, allowHttp: boolean): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CofferError("InvalidParameter", "The URL of the OpenID Connect provider is not valid.");
  }
  const schemeOk = parsed.protocol === "https:" || (allowHttp && parsed.protocol === "http:");
  if (!schemeOk || !url.startsWith(`${parsed.protocol}//`)) {
    throw new CofferError("InvalidParameter", "The URL of the OpenID Connect provider must begin with https://.");
  }
  if (parsed.search || parsed.hash || url.includes("?") || url.includes("#") || parsed.username || parsed.password || !parsed.hostname) {
    throw new CofferError("InvalidParameter", "The URL of the OpenID Connect provider may have a host and a path, but no query, fragment or user information.");
  }
}

function checkThumbprints(list: string[]): string[] {
  if (list.length > MAX_THUMBPRINTS) {
    throw new CofferError("LimitExceeded", `Cannot exceed quota for ThumbprintsPerOpenIdConnectProvider: ${MAX_THUMBPRINTS}`);
  }
  for (const t of list) {
    if (!/^[0-9A-Fa-f]{40}$/.test(t)) throw new CofferError("InvalidParameter", "A thumbprint must be 40 hexadecimal characters.");
  }
  return [...new Set(list)];
}

function checkClientIds(list: string[]): string[] {
  const unique = [...new Set(list)];
  if (unique.length > MAX_CLIENT_IDS) {
    throw new CofferError("LimitExceeded", `Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: ${MAX_CLIENT_IDS}`);
  }
  return unique;
}

const notFound = (arn: string) => new CofferError("NotFound", `OpenIDConnect Provider not found for arn ${arn}`);

export function createOidcProviderService({ store, authorizer, clock, allowHttp, onChange }: OidcProviderDeps) {
  const write: OidcProviderStore["transaction"] = (fn) => store.transaction(fn).finally(() => onChange?.());

  /**
   * The provider, once the caller may do `action` on its ARN: authorised first, so a caller
   * without the permission learns nothing of whether it exists (another account's provider
   * is denied: IAM resources are not shared across accounts).
   */
  async function authorizedGet(reader: OidcProviderReads, caller: Principal, arn: string, action: string): Promise<OidcProviderRecord> {
    if (parseArn(arn)?.service !== "iam" || !parseArn(arn)!.resource.startsWith("oidc-provider/")) {
      throw new CofferError("InvalidParameter", `ARN ${arn} is not valid.`);
    }
    await authorizer.authorize({ principal: caller, action, resource: arn });
    const found = await reader.getOidcProvider(arn);
    if (!found || found.accountId !== caller.accountId) throw notFound(arn);
    return found;
  }

  async function update(caller: Principal, arn: string, action: string, change: (p: OidcProviderRecord) => OidcProviderRecord): Promise<void> {
    await write(async (tx) => {
      const found = await authorizedGet(tx, caller, arn, action);
      await tx.putOidcProvider(change(found));
    });
  }

  return {
    async create(caller: Principal, input: { url: string; clientIds?: string[]; thumbprints?: string[]; tags?: Tag[] }): Promise<OidcProviderRecord> {
      checkUrl(input.url, allowHttp);
      const arn = providerArn(caller.accountId, input.url);
      await authorizer.authorize({
        principal: caller,
        action: "iam:CreateOpenIDConnectProvider",
        resource: arn,
        context: {
          "aws:TagKeys": input.tags?.map((t) => t.key),
          ...Object.fromEntries((input.tags ?? []).map((t) => [`aws:RequestTag/${t.key}`, t.value])),
        },
      });
      const record: OidcProviderRecord = {
        arn,
        accountId: caller.accountId,
        url: input.url,
        clientIds: checkClientIds(input.clientIds ?? []),
        thumbprints: checkThumbprints(input.thumbprints ?? []),
        tags: mergeTags([], input.tags ?? [], MAX_TAGS),
        createdAt: clock.now(),
      };
      return write(async (tx) => {
        const existing = await tx.listOidcProviders(caller.accountId);
        if (existing.some((p) => p.arn === arn)) {
          throw new CofferError("AlreadyExists", `Provider with url ${input.url} already exists.`);
        }
        if (existing.length >= MAX_PROVIDERS) {
          throw new CofferError("LimitExceeded", `Cannot exceed quota for OpenIdConnectProvidersPerAccount: ${MAX_PROVIDERS}`);
        }
        await tx.putOidcProvider(record);
        return record;
      });
    },

    get(caller: Principal, arn: string): Promise<OidcProviderRecord> {
      return authorizedGet(store, caller, arn, "iam:GetOpenIDConnectProvider");
    },

    async list(caller: Principal): Promise<OidcProviderRecord[]> {
      await authorizer.authorize({ principal: caller, action: "iam:ListOpenIDConnectProviders", resource: "*" });
      return store.listOidcProviders(caller.accountId);
    },

    async remove(caller: Principal, arn: string): Promise<void> {
      await write(async (tx) => {
        const found = await authorizedGet(tx, caller, arn, "iam:DeleteOpenIDConnectProvider");
        await tx.deleteOidcProvider(found.arn);
      });
    },

    /** Adding a client ID the provider has already is no change, as on IAM. */
    addClientId(caller: Principal, arn: string, clientId: string) {
      return update(caller, arn, "iam:AddClientIDToOpenIDConnectProvider", (p) => ({ ...p, clientIds: checkClientIds([...p.clientIds, clientId]) }));
    },

    /** Removing a client ID the provider does not have is no change, as on IAM. */
    removeClientId(caller: Principal, arn: string, clientId: string) {
      return update(caller, arn, "iam:RemoveClientIDFromOpenIDConnectProvider", (p) => ({ ...p, clientIds: p.clientIds.filter((c) => c !== clientId) }));
    },

    updateThumbprints(caller: Principal, arn: string, thumbprints: string[]) {
      const list = checkThumbprints(thumbprints);
      return update(caller, arn, "iam:UpdateOpenIDConnectProviderThumbprint", (p) => ({ ...p, thumbprints: list }));
    },

    tag(caller: Principal, arn: string, tags: Tag[]) {
      return update(caller, arn, "iam:TagOpenIDConnectProvider", (p) => ({ ...p, tags: mergeTags(p.tags, tags, MAX_TAGS) }));
    },

    untag(caller: Principal, arn: string, keys: string[]) {
      return update(caller, arn, "iam:UntagOpenIDConnectProvider", (p) => ({ ...p, tags: p.tags.filter((t) => !keys.includes(t.key)) }));
    },

    async listTags(caller: Principal, arn: string, page: { marker?: string; maxItems?: number }): Promise<{ items: Tag[]; marker?: string }> {
      const found = await authorizedGet(store, caller, arn, "iam:ListOpenIDConnectProviderTags");
      const start = page.marker ? decodePageToken(page.marker, "number") : 0;
      if (start === undefined) throw new CofferError("InvalidParameter", "Invalid Marker.");
      const max = page.maxItems ?? 100;
      const items = found.tags.slice(start, start + max);
      return start + max < found.tags.length ? { items, marker: encodePageToken(start + max) } : { items };
    },

    /**
     * Coffer extension: the issuer's public keys given inline (a JWKS), for an issuer the server
     * cannot or should not reach; tokens are then verified against these alone. `undefined`
     * removes them (keys are fetched from the issuer again).
     */
    putInlineKeys(caller: Principal, arn: string, jwks: string | undefined) {
      if (jwks !== undefined) parseInlineKeys(jwks);
      return update(caller, arn, "coffer:PutOpenIDConnectProviderKeys", (p) => {
        const { inlineKeys: _old, ...rest } = p;
        return jwks === undefined ? rest : { ...rest, inlineKeys: jwks };
      });
    },

    async getInlineKeys(caller: Principal, arn: string): Promise<string | undefined> {
      return (await authorizedGet(store, caller, arn, "coffer:GetOpenIDConnectProviderKeys")).inlineKeys;
    },
  };
}

export type OidcProviderService = ReturnType<typeof createOidcProviderService>;
