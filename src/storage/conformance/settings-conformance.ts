import { describe, expect } from "vitest";
import { holdLease, releaseLease } from "../lease.ts";
import { type MakeStore, storeTest } from "./conformance-fixtures.ts";

/** SettingReads and SettingWrites, and the leases kept there (lease.ts). */
export function exerciseSettingStore(name: string, makeStore: MakeStore): void {
  describe(`Store contract, settings: ${name}`, () => {
    const it = storeTest(makeStore);

    it("grants a lease to exactly one of the nodes asking at once, renews it for its holder, and hands it over once expired", async ({ store }) => {
      const nodes = ["a", "b", "c", "d"];
      const asks = await Promise.all(nodes.map((node) => holdLease(store, "purge", node, 1000, 5000)));
      const holder = asks[0].node;
      expect(asks.every((l) => l.node === holder && l.until === 6000)).toBe(true);
      const other = holder === "a" ? "b" : "a";
      expect(await holdLease(store, "purge", holder, 1000, 5500)).toEqual({ node: holder, until: 6500 });
      expect((await holdLease(store, "purge", other, 1000, 6400)).node).toBe(holder);
      expect((await holdLease(store, "purge", other, 1000, 6600)).node).toBe(other);
      expect((await holdLease(store, "retention", holder, 1000, 6600)).node).toBe(holder);
      await releaseLease(store, "retention", holder);
      expect((await holdLease(store, "retention", other, 1000, 6601)).node).toBe(other);
    });

    it("stores settings, replacing a value on put", async ({ store }) => {
      await store.transaction((tx) => tx.putSetting("s", "v"));
      expect(await store.getSetting("s")).toBe("v");
      await store.transaction((tx) => tx.putSetting("s", "w"));
      expect(await store.getSetting("s")).toBe("w");
      expect(await store.getSetting("missing")).toBeUndefined();
    });
  });
}
