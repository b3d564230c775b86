import { describe, expect } from "vitest";
import type { SecretRecord } from "../store.ts";
import { type MakeStore, secret, storeTest, version } from "./conformance-fixtures.ts";

/** SecretReads and SecretWrites: secrets, their versions and stages, and the rotation state on a secret. */
export function exerciseSecretStore(name: string, makeStore: MakeStore): void {
  describe(`Store contract, secrets: ${name}`, () => {
    const it = storeTest(makeStore);

    it("round-trips a secret, by ARN and by name, and lists an account's secrets by name", async ({ store }) => {
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

    it("replaces a secret on put and finds it due for purge", async ({ store }) => {
      const s = secret("s");
      await store.transaction((tx) => tx.putSecret(s));
      await store.transaction((tx) => tx.putSecret({ ...s, deletedAt: 5, purgeAt: 50 }));
      expect((await store.getSecret(s.arn))?.purgeAt).toBe(50);
      expect(await store.listSecretsDueForPurge(49)).toEqual([]);
      expect((await store.listSecretsDueForPurge(50)).map((x) => x.name)).toEqual(["s"]);
    });

    it("finds secrets due for rotation, earliest first", async ({ store }) => {
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

    it("keeps versions with their stages, newest first, and finds a version by stage", async ({ store }) => {
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

    it("moves a stage when another version is written with it", async ({ store }) => {
      const s = secret("m");
      await store.transaction(async (tx) => {
        await tx.putSecret(s);
        await tx.putVersion(version(s.arn, "v1", ["AWSCURRENT"]));
        await tx.putVersion(version(s.arn, "v2", ["AWSCURRENT"]));
      });
      expect((await store.getVersion(s.arn, "v1"))?.stages).toEqual([]);
      expect((await store.getVersionByStage(s.arn, "AWSCURRENT"))?.versionId).toBe("v2");
    });

    it("deletes a version, and a secret with all its versions", async ({ store }) => {
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
  });
}
