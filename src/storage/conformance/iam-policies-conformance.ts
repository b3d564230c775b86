import { describe, expect } from "vitest";
import type { GroupRecord, ManagedPolicyRecord } from "../store.ts";
import { storeTest, type MakeStore } from "./conformance-fixtures.ts";

/** IamPolicyReads and IamPolicyWrites: customer managed policies with their versions, and IAM groups. */
export function exerciseIamPolicyStore(name: string, makeStore: MakeStore): void {
  describe(`Store contract, managed policies and groups: ${name}`, () => {
    const it = storeTest(makeStore);

    const policy = (n: string, extra: Partial<ManagedPolicyRecord> = {}): ManagedPolicyRecord => ({
      arn: `arn:aws:iam::111122223333:policy/team/${n}`,
      accountId: "111122223333",
      name: n,
      path: "/team/",
      id: `ANPA${n.toUpperCase()}`,
      description: "d",
      createdAt: 1,
      updatedAt: 2,
      defaultVersionId: "v2",
      nextVersion: 3,
      versions: [
        { versionId: "v2", document: '{"Version":"2012-10-17","Statement":[]}', createdAt: 2 },
        { versionId: "v1", document: "{}", createdAt: 1 },
      ],
      tags: [{ key: "team", value: "a" }],
      ...extra,
    });

    it("stores managed policies with their versions, unique by account and name, listed by name", async ({ store }) => {
      const b = policy("b");
      const a = policy("a");
      await store.transaction(async (tx) => {
        await tx.putManagedPolicy(b);
        await tx.putManagedPolicy(a);
        await tx.putManagedPolicy({ ...policy("c"), accountId: "444455556666", arn: "arn:aws:iam::444455556666:policy/c" });
      });
      expect(await store.getManagedPolicy(b.arn)).toEqual(b);
      expect((await store.listManagedPolicies("111122223333")).map((p) => p.name)).toEqual(["a", "b"]);
      await store.transaction(async (tx) => tx.putManagedPolicy({ ...b, defaultVersionId: "v1" }));
      expect((await store.getManagedPolicy(b.arn))?.defaultVersionId).toBe("v1");
      await expect(store.transaction((tx) => tx.putManagedPolicy({ ...b, arn: "arn:aws:iam::111122223333:policy/b" }))).rejects.toThrow();
      await store.transaction((tx) => tx.deleteManagedPolicy(a.arn));
      expect(await store.getManagedPolicy(a.arn)).toBeUndefined();
      expect((await store.listManagedPolicies("111122223333")).map((p) => p.name)).toEqual(["b"]);
    });

    it("stores groups with their policies, unique by account and name; reads in a transaction see its writes", async ({ store }) => {
      const group: GroupRecord = {
        arn: "arn:aws:iam::111122223333:group/dev/devs",
        accountId: "111122223333",
        name: "devs",
        path: "/dev/",
        id: "AGPAEXAMPLE",
        createdAt: 3,
        inlinePolicies: { read: "{}" },
        attachedPolicyArns: ["arn:aws:iam::aws:policy/IAMReadOnlyAccess"],
      };
      const seen = await store.transaction(async (tx) => {
        await tx.putGroup(group);
        await tx.putGroup({ ...group, arn: "arn:aws:iam::111122223333:group/admins", name: "admins", path: "/" });
        return tx.getGroup(group.arn);
      });
      expect(seen).toEqual(group);
      expect(await store.getGroup(group.arn)).toEqual(group);
      expect((await store.listGroups("111122223333")).map((g) => g.name)).toEqual(["admins", "devs"]);
      await expect(store.transaction((tx) => tx.putGroup({ ...group, arn: "arn:aws:iam::111122223333:group/devs" }))).rejects.toThrow();
      await store.transaction((tx) => tx.putGroup({ ...group, attachedPolicyArns: [] }));
      expect((await store.getGroup(group.arn))?.attachedPolicyArns).toEqual([]);
      await store.transaction((tx) => tx.deleteGroup(group.arn));
      expect(await store.getGroup(group.arn)).toBeUndefined();
    });

    it("keeps a principal's attachments, groups and boundary", async ({ store }) => {
      const user = {
        arn: "arn:aws:iam::111122223333:user/alice",
        accountId: "111122223333",
        kind: "user" as const,
        name: "alice",
        path: "/",
        id: "AIDAEXAMPLE",
        createdAt: 5,
        inlinePolicies: {},
        tags: [],
        attachedPolicyArns: ["arn:aws:iam::111122223333:policy/team/b"],
        groupArns: ["arn:aws:iam::111122223333:group/dev/devs"],
        permissionsBoundary: "arn:aws:iam::aws:policy/SecretsManagerReadWrite",
      };
      await store.transaction((tx) => tx.putPrincipal(user));
      expect(await store.getPrincipal(user.arn)).toEqual(user);
    });
  });
}
