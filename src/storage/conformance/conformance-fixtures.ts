import { test } from "vitest";
import type { SecretRecord, Store, VersionRecord } from "../store.ts";

/** Makes a fresh, empty store; each test gets its own and closes it. */
export type MakeStore = () => Promise<Store>;

/** `it` with a `store` fixture: a fresh store from `makeStore`, closed after the test (failed or not). */
export function storeTest(makeStore: MakeStore) {
  return test.extend<{ store: Store }>({
    // The empty pattern is how vitest reads that this fixture needs no other.
    store: async ({}, use) => {
      const store = await makeStore();
      try {
        await use(store);
      } finally {
        await store.close();
      }
    },
  });
}

export const secret = (n: string, extra: Partial<SecretRecord> = {}): SecretRecord => ({
  arn: `arn:aws:secretsmanager:us-east-1:111122223333:secret:${n}-AbCdEf`,
  accountId: "111122223333",
  name: n,
  createdAt: 1000,
  lastChangedAt: 1000,
  tags: [{ key: "team", value: "a" }],
  ...extra,
});

export const version = (arn: string, id: string, stages: string[], createdAt = 1000): VersionRecord => ({
  secretArn: arn,
  versionId: id,
  createdAt,
  stages,
  keyArn: "arn:aws:kms:us-east-1:111122223333:key/k",
  valueKind: "string",
  sealedValue: Buffer.from([1, 2, 3, id.length]),
  wrappedDataKey: Buffer.from([9, 8, 7]),
});
