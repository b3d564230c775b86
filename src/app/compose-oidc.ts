import { readFileSync } from "node:fs";
import { withOidcKeys } from "../api/coffer/coffer-oidc.ts";
import { withOidcProviders } from "../api/iam/oidc-handlers.ts";
import { withWebIdentity } from "../api/sts/web-identity-handlers.ts";
import type { ApiService } from "../api/api-service.ts";
import type { IdentityService } from "../services/identity/identity-service.ts";
import type { Authorizer } from "../services/identity/identity-types.ts";
import { createOidcHttp } from "../services/identity/oidc-http.ts";
import { createIssuerKeys } from "../services/identity/oidc-keys.ts";
import { createOidcProviderService } from "../services/identity/oidc-providers.ts";
import { createWebIdentityService } from "../services/identity/oidc-sts.ts";
import { createTokenVerifier } from "../services/identity/oidc-tokens.ts";
import { webhookNetworks } from "../services/webhook/webhook-networks.ts";
import type { Store } from "../storage/store.ts";
import type { Config } from "./config.ts";

/**
 * Workload identity (docs/workload-identity.md): IAM OIDC providers, STS
 * AssumeRoleWithWebIdentity, and the inline-keys admin call, wired onto the
 * IAM, STS and Coffer admin APIs.
 */
export function workloadIdentity(
  config: Config,
  deps: { store: Store; identity: IdentityService; authorizer: Authorizer; clock: { now(): number } },
) {
  const allowHttp = config.oidcAllowHttp === "on";
  const providers = createOidcProviderService({ store: deps.store, authorizer: deps.authorizer, clock: deps.clock, allowHttp });
  const fetchJson = createOidcHttp({
    networks: webhookNetworks(config.oidcAllowedNetworks),
    allowHttp,
    ca: config.oidcCaFile ? readFileSync(config.oidcCaFile, "utf8") : undefined,
  });
  const keys = createIssuerKeys({ fetchJson, clock: deps.clock, allowHttp });
  const verifier = createTokenVerifier({ store: deps.store, keys, clock: deps.clock, allowHttp });
  const web = createWebIdentityService({ store: deps.store, identity: deps.identity, verifier, clock: deps.clock });
  return {
    iam: (api: ApiService) => withOidcProviders(api, providers),
    sts: (api: ApiService) => withWebIdentity(api, web),
    admin: (api: ApiService) => withOidcKeys(api, providers),
  };
}
