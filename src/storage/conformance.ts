import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type {
  AuditQuery,
  AuditRow,
  ParameterRecord,
  ParameterVersionRecord,
  SecretRecord,
  Store,
  VersionRecord,
} from "./store.ts";
import { holdLease, releaseLease } from "./lease.ts";

/**
 * The Store contract, written against the interface alone. Each backend's
 * test calls exerciseStore with a factory for a fresh, empty store and adds
 * only what is specific to it.
 */
export function exerciseStore(name: string, makeStore: () => Promise<Store>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await makeStore();
    });
    afterEach(async () => {
      await store.close();
    });

    const secret = (n: string, extra: Partial<SecretRecord> = {}): SecretRecord => ({
      arn: `arn:aws:secretsmanager:us-east-1:111122223333:secret:${n}-AbCdEf`,
      accountId: "111122223333",
      name: n,
      createdAt: 1000,
      lastChangedAt: 1000,
      tags: [{ key: "team", value: "a" }],
      ...extra,
    });
    const version = (arn: string, id: string, stages: string[], createdAt = 1000): VersionRecord => ({
      secretArn: arn,
      versionId: id,
      createdAt,
      stages,
      keyArn: "arn:aws:kms:us-east-1:111122223333:key/k",
      valueKind: "string",
      sealedValue: Buffer.from([1, 2, 3, id.length]),
      wrappedDataKey: Buffer.from([9, 8, 7]),
    });

    it("round-trips a secret, by ARN and by name, and lists an account's secrets by name", async () => {
      const rotation: SecretRecord["rotation"] = {
        enabled: true,
        functionArn: "arn:aws:lambda:us-east-1:111122223333:function:f",
        rules: { scheduleExpression: "rate(4 hours)", duration: "2h" },
        lastRotatedAt: 10,
        nextRotationAt: 20,
        inProgress: { token: "t", step: 2, attempts: 1, startedAt: 15, claim: { node: "n1", until: 30 } },
        lastError: "e",
      };
      const b = secret("b", { description: "d", kmsKeyId: "alias/x", resourcePolicy: "{}", rotation, rotateAt: 20 });
      await store.transaction(async (tx) => {
        await tx.putSecret(b);
        await tx.putSecret(secret("a"));
        await tx.putSecret({ ...secret("c"), accountId: "999999999999", arn: "arn:other" });
      });
      expect(await store.getSecret(b.arn)).toEqual(b);
      expect(await store.getSecretByName("111122223333", "b")).toEqual(b);
      expect(await store.getSecretByName("999999999999", "b")).toBeUndefined();
      expect((await store.listSecrets("111122223333")).map((s) => s.name)).toEqual(["a", "b"]);
    });

    it("replaces a secret on put and finds it due for purge", async () => {
      const s = secret("s");
      await store.transaction((tx) => tx.putSecret(s));
      await store.transaction((tx) => tx.putSecret({ ...s, deletedAt: 5, purgeAt: 50 }));
      expect((await store.getSecret(s.arn))?.purgeAt).toBe(50);
      expect(await store.listSecretsDueForPurge(49)).toEqual([]);
      expect((await store.listSecretsDueForPurge(50)).map((x) => x.name)).toEqual(["s"]);
    });

    it("finds secrets due for rotation, earliest first", async () => {
      await store.transaction(async (tx) => {
        await tx.putSecret(secret("late", { rotateAt: 300 }));
        await tx.putSecret(secret("early", { rotateAt: 100 }));
        await tx.putSecret(secret("never"));
      });
      expect(await store.listSecretsDueForRotation(99, 10)).toEqual([]);
      expect((await store.listSecretsDueForRotation(300, 10)).map((x) => x.name)).toEqual(["early", "late"]);
      expect((await store.listSecretsDueForRotation(300, 1)).map((x) => x.name)).toEqual(["early"]);
      await store.transaction(async (tx) => tx.putSecret({ ...(await tx.getSecret(secret("early").arn))!, rotateAt: undefined }));
      expect((await store.listSecretsDueForRotation(300, 10)).map((x) => x.name)).toEqual(["late"]);
    });

    it("keeps versions with their stages, newest first, and finds a version by stage", async () => {
      const s = secret("v");
      await store.transaction(async (tx) => {
        await tx.putSecret(s);
        await tx.putVersion(version(s.arn, "v1", ["AWSPREVIOUS"], 1));
        await tx.putVersion(version(s.arn, "v2", ["AWSCURRENT", "custom"], 2));
        await tx.putVersion({ ...version(s.arn, "v3", [], 3), valueKind: "none", sealedValue: undefined, wrappedDataKey: undefined });
      });
      const versions = await store.listVersions(s.arn);
      expect(versions.map((v) => [v.versionId, v.stages])).toEqual([
        ["v3", []],
        ["v2", ["AWSCURRENT", "custom"]],
        ["v1", ["AWSPREVIOUS"]],
      ]);
      expect(versions[0].sealedValue).toBeUndefined();
      expect((await store.getVersionByStage(s.arn, "AWSCURRENT"))?.versionId).toBe("v2");
      const v2 = await store.getVersion(s.arn, "v2");
      expect(Buffer.compare(v2!.sealedValue!, Buffer.from([1, 2, 3, 2]))).toBe(0);
      expect(await store.getVersionByStage(s.arn, "AWSPENDING")).toBeUndefined();
    });

    it("moves a stage when another version is written with it", async () => {
      const s = secret("m");
      await store.transaction(async (tx) => {
        await tx.putSecret(s);
        await tx.putVersion(version(s.arn, "v1", ["AWSCURRENT"]));
        await tx.putVersion(version(s.arn, "v2", ["AWSCURRENT"]));
      });
      expect((await store.getVersion(s.arn, "v1"))?.stages).toEqual([]);
      expect((await store.getVersionByStage(s.arn, "AWSCURRENT"))?.versionId).toBe("v2");
    });

    it("deletes a version, and a secret with all its versions", async () => {
      const s = secret("d");
      await store.transaction(async (tx) => {
        await tx.putSecret(s);
        await tx.putVersion(version(s.arn, "v1", ["AWSPREVIOUS"]));
        await tx.putVersion(version(s.arn, "v2", ["AWSCURRENT"]));
        await tx.deleteVersion(s.arn, "v1");
      });
      expect((await store.listVersions(s.arn)).map((v) => v.versionId)).toEqual(["v2"]);
      expect(await store.getVersionByStage(s.arn, "AWSPREVIOUS")).toBeUndefined();
      await store.transaction((tx) => tx.deleteSecret(s.arn));
      expect(await store.getSecret(s.arn)).toBeUndefined();
      expect(await store.listVersions(s.arn)).toEqual([]);
    });

    it("rolls back everything a failed transaction wrote", async () => {
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

    it("shows a transaction its own writes and hides them from readers until commit", async () => {
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

    it("refuses a transaction nested in another rather than deadlocking", async () => {
      await expect(store.transaction(() => store.transaction(async () => 1))).rejects.toThrow(/inside a transaction/);
      expect(await store.transaction(async () => 2)).toBe(2);
    });

    it("serialises concurrent transactions (no lost updates)", async () => {
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

    it("grants a lease to exactly one of the nodes asking at once, renews it for its holder, and hands it over once expired", async () => {
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

    it("stores users and roles, unique by account, kind and name", async () => {
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

    it("keeps the audit chain append-only and queries it newest first", async () => {
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

    it("keeps the alert outbox and the first-read register", async () => {
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

    it("lists parameters by path: recursive or one level, in name order, after a name, from any account's own", async () => {
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

    it("keeps parameter versions newest first with their labels, moves a label, deletes a version and a parameter", async () => {
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

    it("stores keys, aliases, access keys and settings", async () => {
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
        await tx.putKey({
          keyId: "k1",
          arn: "arn:aws:kms:us-east-1:111122223333:key/k1",
          accountId: "111122223333",
          createdAt: 7,
          masterKeyId: "m1",
          sealedMaterial: Buffer.from([5, 5]),
          meta: { description: "d", state: "Enabled", managedBy: "CUSTOMER", policy: "{}", rotationEnabled: true, rotationPeriodInDays: 90, tags: [] },
        });
        await tx.putAlias({ accountId: "111122223333", aliasName: "alias/a", keyId: "k1" });
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
        await tx.putSetting("s", "v");
      });
      expect((await store.getKey("k1"))?.meta).toEqual({ description: "d", state: "Enabled", managedBy: "CUSTOMER", policy: "{}", rotationEnabled: true, rotationPeriodInDays: 90, tags: [] });
      expect((await store.listKeys("111122223333")).length).toBe(1);
      expect(await store.getAlias("111122223333", "alias/a")).toEqual({
        accountId: "111122223333",
        aliasName: "alias/a",
        keyId: "k1",
      });
      expect((await store.listAliases("111122223333")).length).toBe(1);
      expect((await store.getAccessKey("ASIA2"))?.session).toEqual(session);
      expect((await store.listAccessKeys("arn:aws:iam::111122223333:root")).map((k) => k.accessKeyId)).toEqual([
        "AKIA1",
        "ASIA2",
      ]);
      expect((await store.listAllAccessKeys()).map((k) => k.accessKeyId)).toEqual(["AKIA1", "ASIA2"]);
      await store.transaction(async (tx) => {
        await tx.putAccessKey({ ...(await tx.getAccessKey("AKIA1"))!, status: "Inactive" });
        await tx.deleteAccessKey("ASIA2");
        await tx.deleteAlias("111122223333", "alias/a");
      });
      expect((await store.getAccessKey("AKIA1"))?.status).toBe("Inactive");
      expect(await store.getAccessKey("ASIA2")).toBeUndefined();
      expect(await store.getAlias("111122223333", "alias/a")).toBeUndefined();
      expect(await store.getSetting("s")).toBe("v");
      expect(await store.getSetting("missing")).toBeUndefined();
    });
  });
}
