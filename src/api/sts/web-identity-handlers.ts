import type { ApiService, PublicHandler } from "../api-service.ts";
import type { WebIdentityService } from "../../services/identity/oidc-sts.ts";
import type * as T from "./generated/types.ts";

/** STS AssumeRoleWithWebIdentity: unsigned, the token is the proof (docs/workload-identity.md). */
export function webIdentityHandlers(web: WebIdentityService): Record<string, PublicHandler> {
  return {
    async AssumeRoleWithWebIdentity(i: T.AssumeRoleWithWebIdentityRequest, ctx): Promise<T.AssumeRoleWithWebIdentityResponse> {
      const r = await web.assumeRoleWithWebIdentity(
        {
          roleArn: i.RoleArn,
          roleSessionName: i.RoleSessionName,
          webIdentityToken: i.WebIdentityToken,
          durationSeconds: i.DurationSeconds,
          policy: i.Policy,
          policyArns: i.PolicyArns?.map((d) => d.arn ?? ""),
          providerId: i.ProviderId,
          sourceIp: ctx.sourceIp,
          secureTransport: ctx.secureTransport,
        },
        (who) => ctx.identify(who),
      );
      return {
        Credentials: {
          AccessKeyId: r.accessKeyId,
          SecretAccessKey: r.secretAccessKey,
          SessionToken: r.sessionToken,
          Expiration: new Date(r.expiration),
        },
        SubjectFromWebIdentityToken: r.subject,
        AssumedRoleUser: { Arn: r.assumedRoleArn, AssumedRoleId: r.assumedRoleId },
        PackedPolicySize: r.packedPolicySize,
        Provider: r.providerArn,
        Audience: r.audience,
        SourceIdentity: r.sourceIdentity,
      };
    },
  };
}

/** The STS API with AssumeRoleWithWebIdentity added. */
export function withWebIdentity(sts: ApiService, web: WebIdentityService): ApiService {
  return { ...sts, publicHandlers: { ...sts.publicHandlers, ...webIdentityHandlers(web) } };
}
