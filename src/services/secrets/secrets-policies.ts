import { isPublicPolicy, parsePolicy, validatePolicy } from "../../policy/policy-parse.ts";
import { PolicyError } from "../../policy/policy-types.ts";
import type { SecretStore } from "../../storage/store.ts";
import { CofferError } from "../../shared/errors.ts";
import type { Authorizer, Principal } from "../identity/identity-types.ts";
import type { LoadSecret } from "./secrets-access.ts";
import type { SecretRef } from "./secrets-types.ts";

const PUBLIC_POLICY_MESSAGE =
  'This resource policy contains a statement that grants public access (a principal of "*" without a condition that limits it to your accounts).';

function parsePolicyOrThrow(text: string) {
  try {
    return parsePolicy(text, "resource");
  } catch (err) {
    if (err instanceof PolicyError) throw new CofferError("MalformedPolicy", err.message);
    throw err;
  }
}

/** A secret's resource policy: put (with BlockPublicPolicy), get, delete, validate. */
export function createSecretPolicies(
  { store, authorizer, clock }: { store: SecretStore; authorizer: Authorizer; clock: { now(): number } },
  load: LoadSecret,
) {
  return {
    async putResourcePolicy(
      principal: Principal,
      input: { secretId: string; policy: string; blockPublicPolicy?: boolean },
    ): Promise<SecretRef> {
      const parsed = parsePolicyOrThrow(input.policy);
      return store.transaction(async (tx) => {
        const secret = await load(tx, principal, input.secretId, "secretsmanager:PutResourcePolicy", {
          context: { "secretsmanager:BlockPublicPolicy": String(Boolean(input.blockPublicPolicy)) },
        });
        if (input.blockPublicPolicy && isPublicPolicy(parsed, secret.accountId)) {
          throw new CofferError("PublicPolicy", `${PUBLIC_POLICY_MESSAGE} BlockPublicPolicy is set.`);
        }
        await tx.putSecret({ ...secret, resourcePolicy: input.policy, lastChangedAt: clock.now() });
        return { arn: secret.arn, name: secret.name };
      });
    },

    async getResourcePolicy(principal: Principal, input: { secretId: string }): Promise<SecretRef & { policy?: string }> {
      const secret = await load(store, principal, input.secretId, "secretsmanager:GetResourcePolicy", { allowDeleted: true });
      return { arn: secret.arn, name: secret.name, policy: secret.resourcePolicy };
    },

    async deleteResourcePolicy(principal: Principal, input: { secretId: string }): Promise<SecretRef> {
      return store.transaction(async (tx) => {
        const secret = await load(tx, principal, input.secretId, "secretsmanager:DeleteResourcePolicy");
        const { resourcePolicy: _gone, ...rest } = secret;
        await tx.putSecret({ ...rest, lastChangedAt: clock.now() });
        return { arn: secret.arn, name: secret.name };
      });
    },

    /** Checks a policy's grammar; invalid JSON is MalformedPolicyDocument, other problems are listed. */
    async validateResourcePolicy(
      principal: Principal,
      input: { secretId?: string; policy: string },
    ): Promise<{ passed: boolean; errors: { checkName: string; message: string }[] }> {
      if (input.secretId !== undefined) {
        await load(store, principal, input.secretId, "secretsmanager:ValidateResourcePolicy", { allowDeleted: true });
      } else {
        await authorizer.authorize({ principal, action: "secretsmanager:ValidateResourcePolicy", resource: "*" });
      }
      try {
        JSON.parse(input.policy);
      } catch {
        throw new CofferError("MalformedPolicy", "The resource policy is not valid JSON.");
      }
      const errors = validatePolicy(input.policy, "resource").map((p) => ({
        checkName: "SYNTAX_CHECKING",
        message: p.path ? `${p.path}: ${p.message}` : p.message,
      }));
      // AWS's Zelkova check: a policy that grants access to everyone does not pass, whether or not
      // BlockPublicPolicy would be set when it is put.
      if (errors.length === 0 && isPublicPolicy(parsePolicyOrThrow(input.policy), principal.accountId)) {
        errors.push({ checkName: "BLOCK_PUBLIC_POLICY", message: PUBLIC_POLICY_MESSAGE });
      }
      return { passed: errors.length === 0, errors };
    },
  };
}
