import type { ApiService, Handler } from "../api-service.ts";
import { providerResource, type OidcProviderService } from "../../services/identity/oidc-providers.ts";
import type { OidcProviderRecord, Tag } from "../../storage/store.ts";
import type * as T from "./generated/types.ts";

/**
 * IAM's OpenID Connect provider operations (docs/workload-identity.md), added to the IAM API.
 * GetOpenIDConnectProvider answers the URL without its scheme, as IAM does.
 */

const tagsIn = (tags: T.Tag[] | undefined): Tag[] => tags?.map((t) => ({ key: t.Key, value: t.Value })) ?? [];
const tagsOut = (tags: Tag[]): T.Tag[] | undefined => (tags.length ? tags.map((t) => ({ Key: t.key, Value: t.value })) : undefined);

function providerOut(p: OidcProviderRecord): T.GetOpenIDConnectProviderResponse {
  return {
    Url: providerResource(p.url),
    ClientIDList: p.clientIds,
    ThumbprintList: p.thumbprints,
    CreateDate: new Date(p.createdAt),
    Tags: tagsOut(p.tags),
  };
}

export function oidcProviderHandlers(oidc: OidcProviderService): Record<string, Handler> {
  return {
    async CreateOpenIDConnectProvider(p, i: T.CreateOpenIDConnectProviderRequest): Promise<T.CreateOpenIDConnectProviderResponse> {
      const created = await oidc.create(p, { url: i.Url, clientIds: i.ClientIDList, thumbprints: i.ThumbprintList, tags: tagsIn(i.Tags) });
      return { OpenIDConnectProviderArn: created.arn, Tags: tagsOut(created.tags) };
    },
    async GetOpenIDConnectProvider(p, i: T.GetOpenIDConnectProviderRequest): Promise<T.GetOpenIDConnectProviderResponse> {
      return providerOut(await oidc.get(p, i.OpenIDConnectProviderArn));
    },
    async ListOpenIDConnectProviders(p): Promise<T.ListOpenIDConnectProvidersResponse> {
      return { OpenIDConnectProviderList: (await oidc.list(p)).map((o) => ({ Arn: o.arn })) };
    },
    async DeleteOpenIDConnectProvider(p, i: T.DeleteOpenIDConnectProviderRequest) {
      await oidc.remove(p, i.OpenIDConnectProviderArn);
    },
    async AddClientIDToOpenIDConnectProvider(p, i: T.AddClientIDToOpenIDConnectProviderRequest) {
      await oidc.addClientId(p, i.OpenIDConnectProviderArn, i.ClientID);
    },
    async RemoveClientIDFromOpenIDConnectProvider(p, i: T.RemoveClientIDFromOpenIDConnectProviderRequest) {
      await oidc.removeClientId(p, i.OpenIDConnectProviderArn, i.ClientID);
    },
    async UpdateOpenIDConnectProviderThumbprint(p, i: T.UpdateOpenIDConnectProviderThumbprintRequest) {
      await oidc.updateThumbprints(p, i.OpenIDConnectProviderArn, i.ThumbprintList);
    },
    async TagOpenIDConnectProvider(p, i: T.TagOpenIDConnectProviderRequest) {
      await oidc.tag(p, i.OpenIDConnectProviderArn, tagsIn(i.Tags));
    },
    async UntagOpenIDConnectProvider(p, i: T.UntagOpenIDConnectProviderRequest) {
      await oidc.untag(p, i.OpenIDConnectProviderArn, i.TagKeys);
    },
    async ListOpenIDConnectProviderTags(p, i: T.ListOpenIDConnectProviderTagsRequest): Promise<T.ListOpenIDConnectProviderTagsResponse> {
      const page = await oidc.listTags(p, i.OpenIDConnectProviderArn, { marker: i.Marker, maxItems: i.MaxItems });
      return { Tags: page.items.map((t) => ({ Key: t.key, Value: t.value })), IsTruncated: page.marker !== undefined, Marker: page.marker };
    },
  };
}

/** The IAM API with the OIDC provider operations added. */
export function withOidcProviders(iam: ApiService, oidc: OidcProviderService): ApiService {
  return { ...iam, handlers: { ...iam.handlers, ...oidcProviderHandlers(oidc) } };
}
