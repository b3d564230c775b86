import { exerciseAuditStore } from "./conformance/audit-conformance.ts";
import type { MakeStore } from "./conformance/conformance-fixtures.ts";
import { exerciseIdentityStore } from "./conformance/identity-conformance.ts";
import { exerciseIamPolicyStore } from "./conformance/iam-policies-conformance.ts";
import { exerciseKeyStore } from "./conformance/keys-conformance.ts";
import { exerciseOidcProviderStore } from "./conformance/oidc-conformance.ts";
import { exerciseParameterStore } from "./conformance/parameters-conformance.ts";
import { exerciseReplicationStore } from "./conformance/replication-conformance.ts";
import { exerciseSecretStore } from "./conformance/secrets-conformance.ts";
import { exerciseSettingStore } from "./conformance/settings-conformance.ts";
import { exerciseTransactions } from "./conformance/transactions-conformance.ts";

export {
  exerciseAuditStore,
  exerciseIdentityStore,
  exerciseIamPolicyStore,
  exerciseKeyStore,
  exerciseOidcProviderStore,
  exerciseParameterStore,
  exerciseReplicationStore,
  exerciseSecretStore,
  exerciseSettingStore,
  exerciseTransactions,
  type MakeStore,
};

/**
 * The Store contract, written against the interface alone: one suite per
 * domain of store.ts (conformance/<domain>-conformance.ts) and one for
 * transactions. Each backend's test calls exerciseStore with a factory for a
 * fresh, empty store and adds only what is specific to it.
 */
export function exerciseStore(name: string, makeStore: MakeStore): void {
  exerciseTransactions(name, makeStore);
  exerciseSecretStore(name, makeStore);
  exerciseParameterStore(name, makeStore);
  exerciseIdentityStore(name, makeStore);
  exerciseIamPolicyStore(name, makeStore);
  exerciseKeyStore(name, makeStore);
  exerciseOidcProviderStore(name, makeStore);
  exerciseAuditStore(name, makeStore);
  exerciseSettingStore(name, makeStore);
  exerciseReplicationStore(name, makeStore);
}
