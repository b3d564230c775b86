import type { Store, Tag } from "../../storage/store.ts";
import { CofferError } from "../errors.ts";
import type { IdentityService } from "./identity-service.ts";
import type { Authorizer, Principal } from "./identity-types.ts";

/** Role chaining (a session assuming a role) is capped at one hour, as on AWS. */
const CHAINED_MAX_SECONDS = 3600;

export interface AssumeRoleInput {
  roleArn: string;
  roleSessionName: string;
  durationSeconds?: number;
  tags?: Tag[];
  externalId?: string;
}

export interface AssumedRole {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: number;
  assumedRoleArn: string;
  assumedRoleId: string;
}

interface StsDeps {
  store: Pick<Store, "getPrincipal">;
  identity: IdentityService;
  authorizer: Authorizer;
  clock: { now(): number };
}

export function createStsService({ store, identity, authorizer, clock }: StsDeps) {
  return {
    /**
     * Temporary credentials for a role: the role's trust policy must allow the
     * caller (and, when it trusts the caller's whole account, the caller's own
     * policies must allow sts:AssumeRole).
     */
    async assumeRole(caller: Principal, input: AssumeRoleInput): Promise<AssumedRole> {
      const role = await store.getPrincipal(input.roleArn);
      const context: Record<string, string | string[] | undefined> = {
        "sts:ExternalId": input.externalId,
        "sts:RoleSessionName": input.roleSessionName,
        "aws:TagKeys": input.tags?.map((t) => t.key),
      };
      for (const t of input.tags ?? []) context[`aws:RequestTag/${t.key}`] = t.value;
      await authorizer.authorize({
        principal: caller,
        action: "sts:AssumeRole",
        resource: input.roleArn,
        resourcePolicy: role?.kind === "role" ? role.trustPolicy : undefined,
        mode: "trust",
        context,
      });
      if (!role || role.kind !== "role") {
        // Only reached by a caller allowed to assume it, so naming the missing role reveals nothing new.
        throw new CofferError("AccessDenied", `Roles may not be assumed: ${input.roleArn} does not exist.`);
      }
      const max = caller.kind === "assumed-role" ? CHAINED_MAX_SECONDS : (role.maxSessionDuration ?? 3600);
      const duration = input.durationSeconds ?? 3600;
      if (duration < 900 || duration > max) {
        throw new CofferError(
          "Validation",
          `The requested DurationSeconds exceeds the MaxSessionDuration set for this role (${max} seconds); it must be between 900 and ${max}.`,
        );
      }
      const expiration = clock.now() + duration * 1000;
      const sessionArn = `arn:aws:sts::${role.accountId}:assumed-role/${role.name}/${input.roleSessionName}`;
      const key = await identity.createSessionKey({
        accountId: role.accountId,
        sessionArn,
        expiresAt: expiration,
        session: { roleArn: role.arn, roleId: role.id, sessionName: input.roleSessionName, tags: input.tags },
      });
      return {
        accessKeyId: key.accessKeyId,
        secretAccessKey: key.secretAccessKey,
        sessionToken: key.sessionToken,
        expiration,
        assumedRoleArn: sessionArn,
        assumedRoleId: `${role.id}:${input.roleSessionName}`,
      };
    },

    /**
     * Temporary credentials of a role for Coffer's own use (a command rotation
     * function's execution role): no trust check, the operator chose the role.
     */
    async sessionFor(roleArn: string, sessionName: string, seconds: number) {
      const role = await store.getPrincipal(roleArn);
      if (!role || role.kind !== "role") throw new CofferError("InvalidRequest", `The execution role ${roleArn} does not exist.`);
      const sessionArn = `arn:aws:sts::${role.accountId}:assumed-role/${role.name}/${sessionName}`;
      const key = await identity.createSessionKey({
        accountId: role.accountId,
        sessionArn,
        expiresAt: clock.now() + seconds * 1000,
        session: { roleArn: role.arn, roleId: role.id, sessionName },
      });
      return { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey, sessionToken: key.sessionToken };
    },

    /** Who the caller is; needs no permission, as on AWS. */
    async callerIdentity(caller: Principal): Promise<{ account: string; arn: string; userId: string }> {
      let userId = caller.accountId;
      if (caller.kind === "user") userId = (await store.getPrincipal(caller.arn))?.id ?? caller.accessKeyId;
      if (caller.kind === "assumed-role") {
        const role = caller.roleArn ? await store.getPrincipal(caller.roleArn) : undefined;
        userId = `${role?.id ?? caller.accessKeyId}:${caller.sessionName}`;
      }
      return { account: caller.accountId, arn: caller.arn, userId };
    },
  };
}

export type StsService = ReturnType<typeof createStsService>;
