import { evaluate } from "../../policy/policy-evaluate.ts";
import { parsePolicy } from "../../policy/policy-parse.ts";
import { PolicyError } from "../../policy/policy-types.ts";
import { parseArn } from "../../shared/arn.ts";
import { CofferError } from "../../shared/errors.ts";
import type { IamPolicyReads, IdentityReads, Tag, WebIdentityInfo } from "../../storage/store.ts";
import type { IdentityService } from "./identity-service.ts";
import { providerResource } from "./oidc-providers.ts";
import type { createTokenVerifier } from "./oidc-tokens.ts";
import { checkSessionTags, issueRoleSession, packedSize, requestTagContext, sessionPoliciesFor, type AssumedRole } from "./sts-service.ts";

/**
 * STS AssumeRoleWithWebIdentity (docs/workload-identity.md): the request is not signed; the
 * caller proves who it is with a token from an OIDC issuer that the role's account registered as
 * a provider. The token is verified first (oidc-tokens.ts), then the role's trust policy must
 * allow sts:AssumeRoleWithWebIdentity for Principal {"Federated": <provider ARN>}, with the
 * token's claims as condition keys named as AWS names them: `<issuer host/path>:sub`, `:aud`,
 * `:amr`, and aws:FederatedProvider. Session tags and a source identity come in the token's AWS
 * claims, and need sts:TagSession and sts:SetSourceIdentity as AssumeRole's do.
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
export type OnVerified = (
  who: WebIdentityInfo & { accountId: string; principalTags?: Record<string, string>; transitiveTagKeys?: string[]; sourceIdentity?: string },
) => void;

type TokenVerifier = ReturnType<typeof createTokenVerifier>;

const DENIED = "Not authorized to perform sts:AssumeRoleWithWebIdentity";

/** The claim AWS reads session tags from: {"principal_tags": {key: [value]}, "transitive_tag_keys": [key]}. */
export const TAGS_CLAIM = "https://aws.amazon.com/tags";
const TAG_KEY = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u;
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u;
const MAX_SESSION_TAGS = 50;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The claim AWS reads a source identity from: a string, as AssumeRole's SourceIdentity. */
export const SOURCE_IDENTITY_CLAIM = "https://aws.amazon.com/source_identity";
const SOURCE_IDENTITY = /^[\w+=,.@-]{2,64}$/;

/** What a verified token asks its session to carry: session tags and a source identity, held to STS's limits for its parameters. */
export function tokenSessionClaims(claims: Record<string, unknown>): { tags: Tag[]; transitiveTagKeys?: string[]; sourceIdentity?: string } {
  const sourceIdentity = claims[SOURCE_IDENTITY_CLAIM];
  if (sourceIdentity !== undefined && (typeof sourceIdentity !== "string" || !SOURCE_IDENTITY.test(sourceIdentity))) {
    throw new CofferError(
      "InvalidIdentityToken",
      `The web identity token's ${SOURCE_IDENTITY_CLAIM} claim is not valid: it must be 2 to 64 letters, digits or _+=,.@- characters.`,
    );
  }
  return { ...tokenSessionTags(claims[TAGS_CLAIM]), ...(sourceIdentity !== undefined ? { sourceIdentity } : {}) };
}

function tokenSessionTags(claim: unknown): { tags: Tag[]; transitiveTagKeys?: string[] } {
  if (claim === undefined) return { tags: [] };
  const bad = (why: string) => new CofferError("InvalidIdentityToken", `The web identity token's ${TAGS_CLAIM} claim is not valid: ${why}.`);
  if (!isObject(claim)) throw bad("it must be an object");
  const principalTags = claim.principal_tags ?? {};
  if (!isObject(principalTags)) throw bad("principal_tags must be an object of tag keys to values");
  const tags = Object.entries(principalTags).map(([key, given]) => {
    const value = Array.isArray(given) && given.length === 1 ? given[0] : given;
    if (typeof value !== "string") throw bad(`the tag ${JSON.stringify(key.slice(0, 128))} must have one string value`);
    if (!TAG_KEY.test(key) || !TAG_VALUE.test(value)) throw bad(`the tag ${JSON.stringify(key.slice(0, 128))} is not a valid session tag`);
    return { key, value };
  });
  if (tags.length > MAX_SESSION_TAGS) throw bad(`it holds more than ${MAX_SESSION_TAGS} tags`);
  const transitive = claim.transitive_tag_keys;
  if (transitive === undefined) return { tags };
  if (!Array.isArray(transitive) || !transitive.every((k) => typeof k === "string")) throw bad("transitive_tag_keys must be an array of tag keys");
  return { tags, transitiveTagKeys: transitive };
}

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
        throw new CofferError(
          "InvalidParameter",
          "ProviderId is only for OAuth 2.0 providers, which Coffer does not serve; leave it out for an OpenID Connect provider.",
        );
      }
      const roleParts = parseArn(input.roleArn);
      if (!roleParts || roleParts.service !== "iam" || !roleParts.resource.startsWith("role/") || !/^\d{12}$/.test(roleParts.accountId)) {
        throw new CofferError("Validation", `${input.roleArn.slice(0, 256)} is not a valid role ARN.`);
      }
      const verified = await verifier.verify(input.webIdentityToken, roleParts.accountId);
      const { provider, subject, audience, claims } = verified;
      let asked: ReturnType<typeof tokenSessionClaims> | undefined;
      try {
        asked = tokenSessionClaims(claims);
      } finally {
        // The request's audit identity, even when a claim is refused; with the tags and source identity when they are not.
        const principalTags = asked?.tags.length ? Object.fromEntries(asked.tags.map((t) => [t.key, t.value])) : undefined;
        onVerified?.({
          providerArn: provider.arn,
          subject,
          audience,
          accountId: provider.accountId,
          ...(principalTags ? { principalTags, ...(asked?.transitiveTagKeys ? { transitiveTagKeys: asked.transitiveTagKeys } : {}) } : {}),
          ...(asked?.sourceIdentity !== undefined ? { sourceIdentity: asked.sourceIdentity } : {}),
        });
      }
      const { tags, transitiveTagKeys, sourceIdentity } = asked;
      const { transitive } = checkSessionTags(tags, transitiveTagKeys);
      const packedPolicySize = packedSize(input, tags);

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
        ...(tags.length > 0 ? requestTagContext(tags, transitiveTagKeys) : {}),
        "sts:SourceIdentity": sourceIdentity,
      };
      const allows = (action: string) =>
        evaluate(
          { identityPolicies: [], resourcePolicy: trust, mode: "trust" },
          { principal: { arn: provider.arn, accountId: provider.accountId, isRoot: false }, action, resource: role.arn, context },
        ).effect === "Allow";
      // A token that carries session tags needs sts:TagSession too, and one with a source identity
      // sts:SetSourceIdentity, as AssumeRole's Tags and SourceIdentity do.
      const needs = [
        "sts:AssumeRoleWithWebIdentity",
        ...(tags.length > 0 ? ["sts:TagSession"] : []),
        ...(sourceIdentity !== undefined ? ["sts:SetSourceIdentity"] : []),
      ];
      if (!needs.every(allows)) throw new CofferError("AccessDenied", DENIED);

      const webIdentity: WebIdentityInfo = { providerArn: provider.arn, subject, audience };
      // After the trust check, as for AssumeRole: which managed policies exist is not for a token the role does not trust.
      const policies = await sessionPoliciesFor(input, store, role.accountId);
      const issued = await issueRoleSession(identity, role, input, {
        max: role.maxSessionDuration ?? 3600,
        now,
        packedPolicySize,
        session: {
          ...(tags.length ? { tags } : {}),
          ...(transitive.length ? { transitiveTagKeys: transitive } : {}),
          ...(policies ? { policies } : {}),
          ...(sourceIdentity !== undefined ? { sourceIdentity } : {}),
          webIdentity,
        },
      });
      return { ...issued, ...webIdentity };
    },
  };
}

export type WebIdentityService = ReturnType<typeof createWebIdentityService>;
