import { evaluate } from "../../policy/policy-evaluate.ts";
import { parsePolicy } from "../../policy/policy-parse.ts";
import { PolicyError } from "../../policy/policy-types.ts";
import { parseArn } from "../../shared/arn.ts";
import { CofferError } from "../../shared/errors.ts";
import type { IamPolicyReads, IdentityReads, WebIdentityInfo } from "../../storage/store.ts";
import type { IdentityService } from "./identity-service.ts";
import { providerResource } from "./oidc-providers.ts";
import type { createTokenVerifier } from "./oidc-tokens.ts";
import { issueRoleSession, packedSize, sessionPoliciesFor, type AssumedRole } from "./sts-service.ts";

/**
 * STS AssumeRoleWithWebIdentity (docs/workload-identity.md): the request is not signed; the
 * caller proves who it is with a token from an OIDC issuer that the role's account registered as
 * a provider. The token is verified first (oidc-tokens.ts), then the role's trust policy must
 * allow sts:AssumeRoleWithWebIdentity for Principal {"Federated": <provider ARN>}, with the
 * token's claims as condition keys named as AWS names them: `<issuer host/path>:sub`, `:aud`,
 * `:amr`, and aws:FederatedProvider.
 */

export interface WebIdentityInput {
  roleArn: string;
  roleSessionName: string;
  webIdentityToken: string;
  durationSeconds?: number;
  policy?: string;
  policyArns?: string[];
  providerId?: string;
  /** The request's source address and transport, for aws:SourceIp and aws:SecureTransport. */
  sourceIp?: string;
  secureTransport?: boolean;
}

export interface WebIdentityRole extends AssumedRole {
  subject: string;
  providerArn: string;
  audience: string;
}

/** Told once the token verified, before the trust policy is asked: the request's audit identity. */
export type OnVerified = (who: WebIdentityInfo & { accountId: string }) => void;

type TokenVerifier = ReturnType<typeof createTokenVerifier>;

const DENIED = "Not authorized to perform sts:AssumeRoleWithWebIdentity";

export function createWebIdentityService({
  store,
  identity,
  verifier,
  clock,
}: {
  store: Pick<IdentityReads, "getPrincipal"> & Pick<IamPolicyReads, "getManagedPolicy">;
  identity: Pick<IdentityService, "createSessionKey">;
  verifier: TokenVerifier;
  clock: { now(): number };
}) {
  return {
    async assumeRoleWithWebIdentity(input: WebIdentityInput, onVerified?: OnVerified): Promise<WebIdentityRole> {
      if (input.providerId !== undefined) {
        throw new CofferError("InvalidParameter", "ProviderId is only for OAuth 2.0 providers, which Coffer does not serve; leave it out for an OpenID Connect provider.");
      }
      const roleParts = parseArn(input.roleArn);
      if (!roleParts || roleParts.service !== "iam" || !roleParts.resource.startsWith("role/") || !/^\d{12}$/.test(roleParts.accountId)) {
        throw new CofferError("Validation", `${input.roleArn.slice(0, 256)} is not a valid role ARN.`);
      }
      const packedPolicySize = packedSize(input, []);

      const verified = await verifier.verify(input.webIdentityToken, roleParts.accountId);
      const { provider, subject, audience, claims } = verified;
      onVerified?.({ providerArn: provider.arn, subject, audience, accountId: provider.accountId });

      const role = await store.getPrincipal(input.roleArn);
      // The same answer for a missing role and one that does not trust the token: nothing to probe.
      if (!role || role.kind !== "role" || role.trustPolicy === undefined) throw new CofferError("AccessDenied", DENIED);
      let trust;
      try {
        trust = parsePolicy(role.trustPolicy, "trust");
      } catch (err) {
        if (err instanceof PolicyError) throw new CofferError("AccessDenied", DENIED);
        throw err;
      }
      const prefix = providerResource(provider.url);
      const amr = claims.amr;
      const now = clock.now();
      const context: Record<string, string | string[] | undefined> = {
        [`${prefix}:sub`]: subject,
        [`${prefix}:aud`]: audience,
        [`${prefix}:amr`]: Array.isArray(amr) ? amr.map(String) : typeof amr === "string" ? amr : undefined,
        "aws:FederatedProvider": provider.arn,
        "sts:RoleSessionName": input.roleSessionName,
        "aws:CurrentTime": new Date(now).toISOString(),
        "aws:EpochTime": String(Math.floor(now / 1000)),
        "aws:SourceIp": input.sourceIp,
        "aws:SecureTransport": input.secureTransport === undefined ? undefined : String(input.secureTransport),
      };
      const decision = evaluate(
        { identityPolicies: [], resourcePolicy: trust, mode: "trust" },
        {
          principal: { arn: provider.arn, accountId: provider.accountId, isRoot: false },
          action: "sts:AssumeRoleWithWebIdentity",
          resource: role.arn,
          context,
        },
      );
      if (decision.effect !== "Allow") throw new CofferError("AccessDenied", DENIED);

      const webIdentity: WebIdentityInfo = { providerArn: provider.arn, subject, audience };
      // After the trust check, as for AssumeRole: which managed policies exist is not for a token the role does not trust.
      const policies = await sessionPoliciesFor(input, store, role.accountId);
      const issued = await issueRoleSession(identity, role, input, {
        max: role.maxSessionDuration ?? 3600,
        now,
        packedPolicySize,
        session: { ...(policies ? { policies } : {}), webIdentity },
      });
      return { ...issued, ...webIdentity };
    },
  };
}

export type WebIdentityService = ReturnType<typeof createWebIdentityService>;
