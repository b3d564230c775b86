import { describe, expect } from "vitest";
import type { RegionLinkRecord, ReplicationTask } from "../store.ts";
import { type MakeStore, secret, storeTest } from "./conformance-fixtures.ts";

const link = (name: string, extra: Partial<RegionLinkRecord> = {}): RegionLinkRecord => ({
  name,
  endpoint: `https://${name}.example:8443`,
  accessKeyId: "AKIAEXAMPLE",
  masterKeyId: "mk1",
  sealedSecretAccessKey: Buffer.from([1, 2, 3, 250]),
  createdAt: 1000,
  ...extra,
});

const task = (arn: string, region: string, extra: Partial<ReplicationTask> = {}): ReplicationTask => ({
  secretArn: arn,
  region,
  accountId: "111122223333",
  kind: "sync",
  seq: 1,
  attempts: 0,
  nextAttemptAt: 1000,
  createdAt: 1000,
  ...extra,
});

/** ReplicationReads and ReplicationWrites: region links and the replication outbox. */
export function exerciseReplicationStore(name: string, makeStore: MakeStore): void {
  describe(`Store contract, replication: ${name}`, () => {
    const it = storeTest(makeStore);

    it("keeps region links by name, with their sealed key byte for byte, replacing and deleting them", async ({ store }) => {
      await store.transaction(async (tx) => {
        await tx.putRegionLink(link("us-west-2"));
        await tx.putRegionLink(link("eu-west-1", { caCertificate: "-----BEGIN CERTIFICATE-----" }));
      });
      expect(await store.getRegionLink("us-west-2")).toEqual(link("us-west-2"));
      expect((await store.listRegionLinks()).map((l) => l.name)).toEqual(["eu-west-1", "us-west-2"]);
      await store.transaction((tx) => tx.putRegionLink(link("us-west-2", { endpoint: "http://other:1" })));
      expect((await store.getRegionLink("us-west-2"))?.endpoint).toBe("http://other:1");
      await store.transaction((tx) => tx.deleteRegionLink("us-west-2"));
      expect(await store.getRegionLink("us-west-2")).toBeUndefined();
      expect((await store.listRegionLinks()).map((l) => l.name)).toEqual(["eu-west-1"]);
    });

    it("keeps one outbox task per secret and region, lists the due ones earliest first, and deletes them", async ({ store }) => {
      const a = secret("a").arn;
      const b = secret("b").arn;
      await store.transaction(async (tx) => {
        await tx.putReplicationTask(task(a, "us-west-2", { nextAttemptAt: 3000 }));
        await tx.putReplicationTask(task(a, "eu-west-1", { nextAttemptAt: 1000 }));
        await tx.putReplicationTask(task(b, "us-west-2", { nextAttemptAt: 2000, kind: "delete" }));
      });
      // Replacing a task keeps one row for the pair.
      await store.transaction((tx) => tx.putReplicationTask(task(a, "us-west-2", { nextAttemptAt: 1500, seq: 2 })));
      expect(await store.getReplicationTask(a, "us-west-2")).toEqual(task(a, "us-west-2", { nextAttemptAt: 1500, seq: 2 }));
      const due = await store.listDueReplicationTasks(2000, 10);
      expect(due.map((t) => [t.secretArn, t.region])).toEqual([
        [a, "eu-west-1"],
        [a, "us-west-2"],
        [b, "us-west-2"],
      ]);
      expect(await store.listDueReplicationTasks(1200, 10)).toHaveLength(1);
      expect(await store.listDueReplicationTasks(5000, 2)).toHaveLength(2);
      expect((await store.listReplicationTasks(a)).map((t) => t.region)).toEqual(["eu-west-1", "us-west-2"]);
      await store.transaction((tx) => tx.deleteReplicationTask(a, "eu-west-1"));
      expect(await store.getReplicationTask(a, "eu-west-1")).toBeUndefined();
      expect(await store.listReplicationTasks(a)).toHaveLength(1);
    });

    it("rolls an outbox task back with the transaction that wrote it", async ({ store }) => {
      const s = secret("c");
      await expect(
        store.transaction(async (tx) => {
          await tx.putSecret(s);
          await tx.putReplicationTask(task(s.arn, "us-west-2"));
          throw new Error("no");
        }),
      ).rejects.toThrow("no");
      expect(await store.getReplicationTask(s.arn, "us-west-2")).toBeUndefined();
      expect(await store.getSecret(s.arn)).toBeUndefined();
    });

    it("keeps a secret's replication state", async ({ store }) => {
      const s = secret("d", { replication: { seq: 3, replicas: [{ region: "us-west-2", status: "InProgress", kmsKeyId: "alias/x" }] } });
      await store.transaction((tx) => tx.putSecret(s));
      expect(await store.getSecret(s.arn)).toEqual(s);
    });
  });
}
