import { describe, expect } from "vitest";
import type { ParameterRecord, ParameterVersionRecord } from "../store.ts";
import { storeTest, type MakeStore } from "./conformance-fixtures.ts";

/** ParameterReads and ParameterWrites: parameters by path, their versions and labels, and when their policies are due. */
export function exerciseParameterStore(name: string, makeStore: MakeStore): void {
  describe(`Store contract, parameters: ${name}`, () => {
    const it = storeTest(makeStore);

    const parameter = (n: string, extra: Partial<ParameterRecord> = {}): ParameterRecord => ({
      arn: `arn:aws:ssm:us-east-1:111122223333:parameter/${n.replace(/^\//, "")}`,
      accountId: "111122223333",
      name: n,
      version: 1,
      type: "String",
      tier: "Standard",
      dataType: "text",
      policies: [],
      lastModifiedAt: 1000,
      lastModifiedUser: "arn:aws:iam::111122223333:root",
      tags: [],
      ...extra,
    });
    const parameterVersion = (arn: string, v: number, labels: string[] = []): ParameterVersionRecord => ({
      parameterArn: arn,
      version: v,
      createdAt: 1000 + v,
      createdBy: "arn:aws:iam::111122223333:root",
      type: "String",
      tier: "Standard",
      dataType: "text",
      labels,
      value: `v${v}`,
    });

    it("lists parameters by path: recursive or one level, in name order, after a name, from any account's own", async ({ store }) => {
      const names = ["/a/b/c", "/a/b/d/e", "/a/b", "/a/bc", "/a/b0", "/a/b/c2", "/z", "plain", "/a/b/d/f"];
      await store.transaction(async (tx) => {
        for (const n of names) await tx.putParameter(parameter(n));
        await tx.putParameter({ ...parameter("/a/b/other-account"), accountId: "999999999999", arn: "arn:other" });
      });
      const list = async (path: string, recursive: boolean, after?: string, limit = 100) =>
        (await store.listParametersByPath("111122223333", path, { recursive, after, limit })).map((p) => p.name);
      expect(await list("/a/b/", true)).toEqual(["/a/b/c", "/a/b/c2", "/a/b/d/e", "/a/b/d/f"]);
      expect(await list("/a/b/", false)).toEqual(["/a/b/c", "/a/b/c2"]);
      expect(await list("/a/b/", true, "/a/b/c2", 2)).toEqual(["/a/b/d/e", "/a/b/d/f"]);
      expect(await list("/a/b/", true, undefined, 1)).toEqual(["/a/b/c"]);
      expect(await list("/a/", false)).toEqual(["/a/b", "/a/b0", "/a/bc"]);
      expect(await list("/", false)).toEqual(["/z", "plain"]);
      expect((await list("/", true)).length).toBe(names.length);
      expect(await list("/q/", true)).toEqual([]);
      expect((await store.getParameter(parameter("/a/b").arn))?.name).toBe("/a/b");
      await expect(store.transaction((tx) => tx.putParameter({ ...parameter("/a/b"), arn: "arn:dup" }))).rejects.toThrow();
    });

    it("keeps parameter versions newest first with their labels, moves a label, deletes a version and a parameter", async ({ store }) => {
      const p = parameter("/v/p", { version: 3, policies: [{ type: "Expiration", text: "{}", status: "Pending", dueAt: 50 }], dueAt: 50 });
      await store.transaction(async (tx) => {
        await tx.putParameter(p);
        await tx.putParameterVersion(parameterVersion(p.arn, 1, ["old"]));
        await tx.putParameterVersion(parameterVersion(p.arn, 2, ["prod", "blue"]));
        await tx.putParameterVersion({
          ...parameterVersion(p.arn, 3),
          type: "SecureString",
          value: undefined,
          keyArn: "arn:aws:kms:us-east-1:111122223333:key/k",
          sealedValue: Buffer.from([1, 2, 3]),
          wrappedDataKey: Buffer.from([4, 5]),
        });
      });
      expect(await store.getParameter(p.arn)).toEqual(p);
      const versions = await store.listParameterVersions(p.arn);
      expect(versions.map((v) => [v.version, v.labels])).toEqual([[3, []], [2, ["blue", "prod"]], [1, ["old"]]]);
      const v3 = await store.getParameterVersion(p.arn, 3);
      expect(Buffer.compare(v3!.sealedValue!, Buffer.from([1, 2, 3]))).toBe(0);
      expect(Buffer.compare(v3!.wrappedDataKey!, Buffer.from([4, 5]))).toBe(0);
      expect(v3!.value).toBeUndefined();
      expect((await store.getParameterVersion(p.arn, 1))?.value).toBe("v1");
      expect((await store.getParameterVersionByLabel(p.arn, "prod"))?.version).toBe(2);
      expect(await store.getParameterVersionByLabel(p.arn, "nope")).toBeUndefined();

      await store.transaction((tx) => tx.putParameterVersion({ ...parameterVersion(p.arn, 3), labels: ["prod"] }));
      expect((await store.getParameterVersionByLabel(p.arn, "prod"))?.version).toBe(3);
      expect((await store.getParameterVersion(p.arn, 2))?.labels).toEqual(["blue"]);

      expect((await store.listParametersDue(49, 10)).length).toBe(0);
      expect((await store.listParametersDue(50, 10)).map((x) => x.name)).toEqual(["/v/p"]);
      await store.transaction(async (tx) => {
        await tx.deleteParameterVersion(p.arn, 1);
        await tx.putParameter({ ...p, dueAt: undefined });
      });
      expect(await store.getParameterVersionByLabel(p.arn, "old")).toBeUndefined();
      expect((await store.listParameterVersions(p.arn)).map((v) => v.version)).toEqual([3, 2]);
      expect(await store.listParametersDue(100, 10)).toEqual([]);
      await store.transaction((tx) => tx.deleteParameter(p.arn));
      expect(await store.getParameter(p.arn)).toBeUndefined();
      expect(await store.listParameterVersions(p.arn)).toEqual([]);
      expect(await store.getParameterVersionByLabel(p.arn, "prod")).toBeUndefined();
    });
  });
}
