import { describe, expect } from "vitest";
import type { SecretRecord } from "../store.ts";
import { type MakeStore, secret, storeTest, version } from "./conformance-fixtures.ts";

/** Store.transaction: atomic, isolated, serialisable, not nestable (tested through secrets and settings). */
export function exerciseTransactions(name: string, makeStore: MakeStore): void {
  describe(`Store contract, transactions: ${name}`, () => {
    const it = storeTest(makeStore);

    it("rolls back everything a failed transaction wrote", async ({ store }) => {
      const s = secret("r");
      await expect(
        store.transaction(async (tx) => {
          await tx.putSecret(s);
          await tx.putVersion(version(s.arn, "v1", ["AWSCURRENT"]));
          throw new Error("boom");
        }),
      ).rejects.toThrow("boom");
      expect(await store.getSecret(s.arn)).toBeUndefined();
      expect(await store.getVersion(s.arn, "v1")).toBeUndefined();
    });

    it("shows a transaction its own writes and hides them from readers until commit", async ({ store }) => {
      const s = secret("iso");
      let seenInside: SecretRecord | undefined;
      let seenOutside: SecretRecord | undefined = s;
      await store.transaction(async (tx) => {
        await tx.putSecret(s);
        seenInside = await tx.getSecret(s.arn);
        seenOutside = await store.getSecret(s.arn);
      });
      expect(seenInside).toEqual(s);
      expect(seenOutside).toBeUndefined();
      expect(await store.getSecret(s.arn)).toEqual(s);
    });

    it("refuses a transaction nested in another rather than deadlocking", async ({ store }) => {
      await expect(store.transaction(() => store.transaction(async () => 1))).rejects.toThrow(/inside a transaction/);
      expect(await store.transaction(async () => 2)).toBe(2);
    });

    it("serialises concurrent transactions (no lost updates)", async ({ store }) => {
      await store.transaction((tx) => tx.putSetting("counter", "0"));
      await Promise.all(
        Array.from({ length: 20 }, () =>
          store.transaction(async (tx) => {
            const n = Number(await tx.getSetting("counter"));
            await new Promise((r) => setTimeout(r, 1));
            await tx.putSetting("counter", String(n + 1));
          }),
        ),
      );
      expect(await store.getSetting("counter")).toBe("20");
    });
  });
}
