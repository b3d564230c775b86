import type { OperationSpec, Shape } from "../../shared/shape-types.ts";
import type { ApiService, Handler } from "../api-service.ts";
import type { OidcProviderService } from "../../services/identity/oidc-providers.ts";

/**
 * Coffer's extension for air-gapped issuers (docs/workload-identity.md): an OIDC provider's
 * public keys given inline (a JWKS), so tokens verify without the server ever fetching them.
 * `PutOpenIDConnectProviderKeys` without `Keys` removes them (keys are fetched again).
 * Authorised as coffer:PutOpenIDConnectProviderKeys / coffer:GetOpenIDConnectProviderKeys on the provider's ARN.
 */

const operations = {
  PutOpenIDConnectProviderKeys: {
    input: "PutOpenIDConnectProviderKeysRequest",
    errors: ["InvalidParameterException", "ResourceNotFoundException", "AccessDeniedException"],
    readOnly: false,
    resources: [{ member: "OpenIDConnectProviderArn", type: "AWS::IAM::OIDCProvider" }],
  },
  GetOpenIDConnectProviderKeys: {
    input: "GetOpenIDConnectProviderKeysRequest",
    output: "GetOpenIDConnectProviderKeysResponse",
    errors: ["ResourceNotFoundException", "AccessDeniedException"],
    readOnly: true,
    resources: [{ member: "OpenIDConnectProviderArn", type: "AWS::IAM::OIDCProvider" }],
  },
} as const satisfies Record<string, OperationSpec>;

const shapes: Record<string, Shape> = {
  ProviderArn: { type: "string", min: 20, max: 2048 },
  KeySet: { type: "string", min: 1, max: 65536 },
  PutOpenIDConnectProviderKeysRequest: {
    type: "structure",
    members: { OpenIDConnectProviderArn: { shape: "ProviderArn" }, Keys: { shape: "KeySet" } },
    required: ["OpenIDConnectProviderArn"],
  },
  GetOpenIDConnectProviderKeysRequest: {
    type: "structure",
    members: { OpenIDConnectProviderArn: { shape: "ProviderArn" } },
    required: ["OpenIDConnectProviderArn"],
  },
  GetOpenIDConnectProviderKeysResponse: { type: "structure", members: { Keys: { shape: "KeySet" } } },
};

/** The Coffer admin API with the inline-keys operations added. */
export function withOidcKeys(admin: ApiService, oidc: OidcProviderService): ApiService {
  const handlers: Record<string, Handler> = {
    async PutOpenIDConnectProviderKeys(p, i: { OpenIDConnectProviderArn: string; Keys?: string }) {
      await oidc.putInlineKeys(p, i.OpenIDConnectProviderArn, i.Keys);
      return {};
    },
    async GetOpenIDConnectProviderKeys(p, i: { OpenIDConnectProviderArn: string }) {
      return { Keys: await oidc.getInlineKeys(p, i.OpenIDConnectProviderArn) };
    },
  };
  return {
    ...admin,
    operations: { ...admin.operations, ...operations },
    shapes: { ...admin.shapes, ...shapes },
    handlers: { ...admin.handlers, ...handlers },
  };
}
