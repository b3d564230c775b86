import { describe, expect } from "vitest";
import { storeTest, type MakeStore } from "./conformance-fixtures.ts";

/** IdentityReads and IdentityWrites: IAM users and roles, and access keys. */
export function exerciseIdentityStore(name: string, makeStore: MakeStore): void {
  describe(`Store contract, identity: ${name}`, () => {
    const it = storeTest(makeStore);

    it("stores users and roles, unique by account, kind and name", async ({ store }) => {
      const user = {
        arn: "arn:aws:iam::111122223333:user/dev/alice",
        accountId: "111122223333",
        kind: "user" as const,
        name: "alice",
        path: "/dev/",
        id: "AIDAEXAMPLE",
        createdAt: 5,
        inlinePolicies: { read: '{"Version":"2012-10-17","Statement":[]}' },
        tags: [{ key: "team", value: "a" }],
      };
      const role = {
        ...user,
        arn: "arn:aws:iam::111122223333:role/app",
        kind: "role" as const,
        name: "app",
        path: "/",
        id: "AROAEXAMPLE",
        trustPolicy: "{}",
        maxSessionDuration: 3600,
      };
      await store.transaction(async (tx) => {
        await tx.putPrincipal(user);
        await tx.putPrincipal(role);
      });
      expect(await store.getPrincipal(user.arn)).toEqual(user);
      expect((await store.listPrincipals("111122223333", "role")).map((p) => p.name)).toEqual(["app"]);
      expect((await store.listPrincipals("111122223333", "user")).map((p) => p.name)).toEqual(["alice"]);
      await store.transaction((tx) => tx.putPrincipal({ ...user, inlinePolicies: {} }));
      expect((await store.getPrincipal(user.arn))?.inlinePolicies).toEqual({});
      await expect(
        store.transaction((tx) => tx.putPrincipal({ ...user, arn: "arn:aws:iam::111122223333:user/alice" })),
      ).rejects.toThrow();
      await store.transaction((tx) => tx.deletePrincipal(role.arn));
      expect(await store.getPrincipal(role.arn)).toBeUndefined();
    });

    it("stores access keys, long-term and temporary with their session", async ({ store }) => {
      const session = {
        roleArn: "arn:aws:iam::111122223333:role/r",
        roleId: "AROAEXAMPLE",
        sessionName: "s",
        tags: [{ key: "k", value: "v" }],
        transitiveTagKeys: ["k"],
        policies: ["{}"],
        policyArns: ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
        tokenHash: "0".repeat(64),
      };
      await store.transaction(async (tx) => {
        await tx.putAccessKey({
          accessKeyId: "AKIA1",
          principalArn: "arn:aws:iam::111122223333:root",
          accountId: "111122223333",
          status: "Active",
          createdAt: 3,
          masterKeyId: "m1",
          sealedSecret: Buffer.from([1]),
        });
        await tx.putAccessKey({
          accessKeyId: "ASIA2",
          principalArn: "arn:aws:iam::111122223333:root",
          accountId: "111122223333",
          status: "Active",
          createdAt: 4,
          masterKeyId: "m1",
          sealedSecret: Buffer.from([2]),
          expiresAt: 99,
          session,
        });
      });
      expect((await store.getAccessKey("ASIA2"))?.session).toEqual(session);
      expect((await store.listAccessKeys("arn:aws:iam::111122223333:root")).map((k) => k.accessKeyId)).toEqual([
        "AKIA1",
        "ASIA2",
      ]);
      expect((await store.listAllAccessKeys()).map((k) => k.accessKeyId)).toEqual(["AKIA1", "ASIA2"]);
      await store.transaction(async (tx) => {
        await tx.putAccessKey({ ...(await tx.getAccessKey("AKIA1"))!, status: "Inactive" });
        await tx.deleteAccessKey("ASIA2");
      });
      expect((await store.getAccessKey("AKIA1"))?.status).toBe("Inactive");
      expect(await store.getAccessKey("ASIA2")).toBeUndefined();
    });
  });
}
