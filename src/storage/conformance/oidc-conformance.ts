import { describe, expect } from "vitest";
import type { OidcProviderRecord } from "../store.ts";
import { storeTest, type MakeStore } from "./conformance-fixtures.ts";

/** OidcProviderReads and OidcProviderWrites: IAM OpenID Connect identity providers. */
export function exerciseOidcProviderStore(name: string, makeStore: MakeStore): void {
  describe(`Store contract, OIDC providers: ${name}`, () => {
    const it = storeTest(makeStore);

    const provider: OidcProviderRecord = {
      arn: "arn:aws:iam::111122223333:oidc-provider/issuer.example.com/id/B",
      accountId: "111122223333",
      url: "https://issuer.example.com/id/B",
      clientIds: ["sts.amazonaws.com"],
      thumbprints: ["0".repeat(40)],
      tags: [{ key: "team", value: "a" }],
      createdAt: 5,
    };

    it("stores providers per account, listed by ARN, replaced and deleted by ARN", async ({ store }) => {
      const first = { ...provider, arn: "arn:aws:iam::111122223333:oidc-provider/a.example.com", url: "https://a.example.com" };
      const elsewhere = { ...provider, arn: "arn:aws:iam::444455556666:oidc-provider/issuer.example.com/id/B", accountId: "444455556666" };
      await store.transaction(async (tx) => {
        await tx.putOidcProvider(provider);
        await tx.putOidcProvider(first);
        await tx.putOidcProvider(elsewhere);
      });
      expect(await store.getOidcProvider(provider.arn)).toEqual(provider);
      expect((await store.listOidcProviders("111122223333")).map((p) => p.arn)).toEqual([first.arn, provider.arn]);
      expect(await store.listOidcProviders("444455556666")).toEqual([elsewhere]);

      const keys = '{"keys":[{"kty":"EC","crv":"P-256","x":"x","y":"y"}]}';
      await store.transaction((tx) => tx.putOidcProvider({ ...provider, clientIds: ["a", "b"], inlineKeys: keys }));
      const replaced = await store.getOidcProvider(provider.arn);
      expect(replaced?.clientIds).toEqual(["a", "b"]);
      expect(replaced?.inlineKeys).toBe(keys);
      expect(await store.listOidcProviders("111122223333")).toHaveLength(2);

      await store.transaction((tx) => tx.deleteOidcProvider(provider.arn));
      expect(await store.getOidcProvider(provider.arn)).toBeUndefined();
      expect(await store.getOidcProvider(elsewhere.arn)).toEqual(elsewhere);
    });

    it("keeps nothing a failed transaction wrote", async ({ store }) => {
      await expect(
        store.transaction(async (tx) => {
          await tx.putOidcProvider(provider);
          expect(await tx.getOidcProvider(provider.arn)).toEqual(provider);
          throw new Error("abandoned");
        }),
      ).rejects.toThrow("abandoned");
      expect(await store.getOidcProvider(provider.arn)).toBeUndefined();
    });
  });
}
