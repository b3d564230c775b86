import type { ApiService, Handler } from "../api-service.ts";
import { errorMapper } from "../api-errors.ts";
import type { ErrorCode } from "../../shared/errors.ts";
import type { StsService } from "../../services/identity/sts-service.ts";
import { metadata, operations } from "./generated/operations.ts";
import { shapes } from "./generated/shapes.ts";
import type * as T from "./generated/types.ts";

const stsErrors: Partial<Record<ErrorCode, { type: string; status: number }>> = {
  MalformedPolicy: { type: "MalformedPolicyDocument", status: 400 },
  InvalidParameter: { type: "InvalidParameterValue", status: 400 },
  LimitExceeded: { type: "PackedPolicyTooLarge", status: 400 },
  InvalidIdentityToken: { type: "InvalidIdentityToken", status: 400 },
  ExpiredIdentityToken: { type: "ExpiredTokenException", status: 400 },
  IdpRejectedClaim: { type: "IDPRejectedClaim", status: 403 },
  IdpCommunicationError: { type: "IDPCommunicationError", status: 400 },
};

export const stsError = errorMapper(stsErrors, "query");

/** STS over the Query protocol: AssumeRole and GetCallerIdentity. */
export function stsApi(sts: StsService): ApiService {
  const handlers: Record<string, Handler> = {
    async AssumeRole(p, i: T.AssumeRoleRequest): Promise<T.AssumeRoleResponse> {
      const r = await sts.assumeRole(p, {
        roleArn: i.RoleArn,
        roleSessionName: i.RoleSessionName,
        durationSeconds: i.DurationSeconds,
        tags: i.Tags?.map((t) => ({ key: t.Key, value: t.Value })),
        transitiveTagKeys: i.TransitiveTagKeys,
        externalId: i.ExternalId,
        policy: i.Policy,
        policyArns: i.PolicyArns?.map((d) => d.arn ?? ""),
        sourceIdentity: i.SourceIdentity,
      });
      return {
        Credentials: {
          AccessKeyId: r.accessKeyId,
          SecretAccessKey: r.secretAccessKey,
          SessionToken: r.sessionToken,
          Expiration: new Date(r.expiration),
        },
        AssumedRoleUser: { Arn: r.assumedRoleArn, AssumedRoleId: r.assumedRoleId },
        PackedPolicySize: r.packedPolicySize,
        SourceIdentity: r.sourceIdentity,
      };
    },
    async GetCallerIdentity(p): Promise<T.GetCallerIdentityResponse> {
      const who = await sts.callerIdentity(p);
      return { Account: who.account, Arn: who.arn, UserId: who.userId };
    },
  };
  return { metadata, shapes, operations, handlers, errorFor: stsError };
}
