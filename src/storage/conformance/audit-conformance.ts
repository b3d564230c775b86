import { describe, expect } from "vitest";
import type { AuditQuery, AuditRow } from "../store.ts";
import { type MakeStore, storeTest } from "./conformance-fixtures.ts";

/** AuditReads and AuditWrites: the hash chain and its checkpoints, the alert outbox, first-read marks. */
export function exerciseAuditStore(name: string, makeStore: MakeStore): void {
  describe(`Store contract, audit: ${name}`, () => {
    const it = storeTest(makeStore);

    it("keeps the audit chain append-only and queries it newest first", async ({ store }) => {
      const row = (seq: number, extra: Partial<AuditRow> = {}): AuditRow => ({
        seq,
        kind: "event",
        time: 1000 + seq,
        eventId: `e${seq}`,
        eventName: seq % 2 ? "GetSecretValue" : "PutSecretValue",
        eventSource: "secretsmanager.amazonaws.com",
        accountIds: ["111122223333"],
        username: "alice",
        accessKeyId: "AKIA1",
        readOnly: seq % 2 === 1,
        resources: [{ type: "AWS::SecretsManager::Secret", name: `arn:secret:s${seq}` }],
        record: `{"n":${seq}}`,
        prevHash: String(seq - 1).padStart(64, "0"),
        hash: String(seq).padStart(64, "0"),
        ...extra,
      });
      expect(await store.getAuditHead()).toBeUndefined();
      await store.transaction((tx) =>
        tx.appendAuditRows([row(1), row(2), row(3, { kind: "intent" }), row(4, { accountIds: ["999999999999", "111122223333"] })]),
      );
      await expect(store.transaction((tx) => tx.appendAuditRows([row(2)]))).rejects.toThrow();
      expect((await store.getAuditHead())?.seq).toBe(4);
      expect((await store.listAuditRows(2, 2)).map((r) => r.seq)).toEqual([2, 3]);
      expect(await store.listAuditRows(1, 1)).toEqual([row(1)]);
      const q = (extra: Partial<AuditQuery>) =>
        store.queryAuditEvents({ accountId: "111122223333", limit: 10, ...extra }).then((rows) => rows.map((r) => r.seq));
      expect(await q({})).toEqual([4, 2, 1]);
      expect(await q({ attribute: { key: "EventName", value: "GetSecretValue" } })).toEqual([1]);
      expect(await q({ attribute: { key: "ReadOnly", value: "false" } })).toEqual([4, 2]);
      expect(await q({ attribute: { key: "ResourceName", value: "arn:secret:s2" } })).toEqual([2]);
      expect(await q({ attribute: { key: "ResourceType", value: "AWS::SecretsManager::Secret" } })).toEqual([4, 2, 1]);
      expect(await q({ attribute: { key: "Username", value: "alice" }, startTime: 1002, endTime: 1004 })).toEqual([4, 2]);
      expect(await q({ beforeSeq: 4, limit: 1 })).toEqual([2]);
      expect(await store.queryAuditEvents({ accountId: "999999999999", limit: 10 }).then((r) => r.map((x) => x.seq))).toEqual([4]);

      await store.transaction(async (tx) => {
        await tx.putAuditCheckpoint({ seq: 2, hash: "h2", time: 5, signature: "s" });
        await tx.putAuditCheckpoint({ seq: 4, hash: "h4", time: 6, signature: "t" });
      });
      expect((await store.listAuditCheckpoints()).map((c) => c.seq)).toEqual([2, 4]);
      await store.transaction((tx) => tx.deleteAuditRowsThrough(2));
      expect((await store.listAuditRows(0, 10)).map((r) => r.seq)).toEqual([3, 4]);
      expect((await store.listAuditCheckpoints()).map((c) => c.seq)).toEqual([4]);
    });

    it("keeps the alert outbox and the first-read register", async ({ store }) => {
      const d = { id: "a1", rule: "r", url: "http://x", payload: "{}", attempts: 0, nextAttemptAt: 50, createdAt: 1 };
      await store.transaction(async (tx) => {
        await tx.putAlertDelivery(d);
        await tx.putAlertDelivery({ ...d, id: "a2", nextAttemptAt: 10 });
        await tx.markRead("p", "r1");
        await tx.markRead("p", "r1");
      });
      expect((await store.listDueAlerts(49, 10)).map((x) => x.id)).toEqual(["a2"]);
      expect((await store.listDueAlerts(50, 10)).map((x) => x.id)).toEqual(["a2", "a1"]);
      await store.transaction(async (tx) => {
        await tx.putAlertDelivery({ ...d, attempts: 1, nextAttemptAt: 100, lastError: "503" });
        await tx.deleteAlertDelivery("a2");
      });
      expect(await store.listDueAlerts(99, 10)).toEqual([]);
      expect((await store.listDueAlerts(100, 10))[0]).toMatchObject({ attempts: 1, lastError: "503" });
      expect(await store.hasRead("p", "r1")).toBe(true);
      expect(await store.hasRead("p", "r2")).toBe(false);
    });
  });
}
