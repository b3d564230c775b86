import { describe, expect } from "vitest";
import type { KeyRecord } from "../store.ts";
import { storeTest, type MakeStore } from "./conformance-fixtures.ts";

/** KeyReads and KeyWrites: KMS-style keys with their typed metadata, and aliases. */
export function exerciseKeyStore(name: string, makeStore: MakeStore): void {
  describe(`Store contract, keys: ${name}`, () => {
    const it = storeTest(makeStore);

    it("stores keys with their metadata, and aliases", async ({ store }) => {
      const key: KeyRecord = {
        keyId: "k1",
        arn: "arn:aws:kms:us-east-1:111122223333:key/k1",
        accountId: "111122223333",
        createdAt: 7,
        masterKeyId: "m1",
        sealedMaterial: Buffer.from([5, 5]),
        meta: { description: "d", state: "Enabled", managedBy: "CUSTOMER", policy: "{}", rotationEnabled: true, rotationPeriodInDays: 90, tags: [] },
      };
      await store.transaction(async (tx) => {
        await tx.putKey(key);
        await tx.putAlias({ accountId: "111122223333", aliasName: "alias/a", keyId: "k1" });
      });
      expect((await store.getKey("k1"))?.meta).toEqual(key.meta);
      expect((await store.listKeys("111122223333")).length).toBe(1);
      expect(await store.getAlias("111122223333", "alias/a")).toEqual({
        accountId: "111122223333",
        aliasName: "alias/a",
        keyId: "k1",
      });
      expect((await store.listAliases("111122223333")).length).toBe(1);
      await store.transaction(async (tx) => {
        await tx.putKey({ ...key, meta: { ...key.meta, state: "PendingDeletion", deletionDate: 99 } });
        await tx.deleteAlias("111122223333", "alias/a");
      });
      expect((await store.getKey("k1"))?.meta).toMatchObject({ state: "PendingDeletion", deletionDate: 99 });
      expect(await store.getAlias("111122223333", "alias/a")).toBeUndefined();
    });
  });
}
