import { afterEach, beforeEach, expect, it } from "vitest";
import type { Store } from "../../storage/store.ts";
import { CofferError } from "../../shared/errors.ts";
import type { Principal } from "../identity/identity-types.ts";
import { serviceHarness, type ServiceHarness } from "../service-harness.ts";
import { createSecretsService, type SecretsService } from "./secrets-service.ts";

const DAY = 86_400_000;
const root: Principal = { arn: "arn:aws:iam::111122223333:root", accountId: "111122223333", accessKeyId: "AKIA", kind: "root" };
let harness: ServiceHarness;
let store: Store;
let now: number;
let secrets: SecretsService;

beforeEach(async () => {
  now = Date.UTC(2026, 0, 1, 12);
  harness = await serviceHarness({ now: () => now });
  store = harness.store;
  secrets = createSecretsService(harness);
});
afterEach(() => harness.close());

it("purges a secret only once its recovery window has passed", async () => {
  await secrets.create(root, { name: "gone", value: { kind: "string", text: "x" } });
  await secrets.create(root, { name: "kept", value: { kind: "string", text: "y" } });
  const { deletionDate } = await secrets.delete(root, { secretId: "gone", recoveryWindowInDays: 7 });
  expect(deletionDate).toBe(now + 7 * DAY);
  now += 7 * DAY - 1;
  expect(await secrets.purgeDue()).toBe(0);
  now += 1;
  harness.events.fail = true;
  await expect(secrets.purgeDue()).rejects.toThrow("audit unavailable");
  expect((await secrets.describe(root, { secretId: "gone" })).deletedAt).toBeDefined();
  harness.events.fail = false;
  expect(await secrets.purgeDue()).toBe(1);
  expect(harness.events.recorded).toEqual([
    expect.objectContaining({ name: "DeleteSecret", service: "secretsmanager", accountId: "111122223333" }),
  ]);
  await expect(secrets.describe(root, { secretId: "gone" })).rejects.toMatchObject({ code: "NotFound" });
  expect((await secrets.getValue(root, { secretId: "kept" })).value).toEqual({ kind: "string", text: "y" });
  // The name is free for a new secret, with a new ARN.
  const again = await secrets.create(root, { name: "gone", value: { kind: "string", text: "z" } });
  expect(again.arn).toMatch(/:secret:gone-[A-Za-z0-9]{6}$/);
});

it("a restored secret is not purged", async () => {
  await secrets.create(root, { name: "back", value: { kind: "string", text: "x" } });
  await secrets.delete(root, { secretId: "back", recoveryWindowInDays: 7 });
  await secrets.restore(root, { secretId: "back" });
  now += 30 * DAY;
  expect(await secrets.purgeDue()).toBe(0);
  expect((await secrets.getValue(root, { secretId: "back" })).versionId).toBeDefined();
});

it("answers a read without waiting for its access date; concurrent reads on a new day share one write; a failed write fails no read", async () => {
  let transactions = 0;
  let failWrites = false;
  const counting: Store = {
    ...store,
    transaction: (fn) => {
      transactions++;
      return failWrites ? Promise.reject(new Error("disk I/O error")) : store.transaction(fn);
    },
  };
  const svc = createSecretsService({ ...harness, store: counting });
  await svc.create(root, { name: "hot", value: { kind: "string", text: "x" } });
  failWrites = true;
  expect((await svc.getValue(root, { secretId: "hot" })).value).toEqual({ kind: "string", text: "x" });
  expect((await svc.describe(root, { secretId: "hot" })).lastAccessedAt).toBeUndefined();
  failWrites = false;
  now += DAY;
  transactions = 0;
  await Promise.all(Array.from({ length: 20 }, () => svc.getValue(root, { secretId: "hot" })));
  expect((await svc.describe(root, { secretId: "hot" })).lastAccessedAt).toBe(Date.UTC(2026, 0, 2));
  expect(transactions).toBe(1);
  await svc.getValue(root, { secretId: "hot" });
  expect(transactions).toBe(1);
});

it("binds each ciphertext to its secret and version: swapped rows fail to decrypt", async () => {
  const a = await secrets.create(root, { name: "a", value: { kind: "string", text: "alpha" } });
  const b = await secrets.create(root, { name: "b", value: { kind: "string", text: "bravo" } });
  const va = (await store.getVersion(a.arn, a.versionId!))!;
  const vb = (await store.getVersion(b.arn, b.versionId!))!;
  await store.transaction((tx) =>
    tx.putVersion({ ...vb, sealedValue: va.sealedValue, wrappedDataKey: va.wrappedDataKey }),
  );
  const err = await secrets.getValue(root, { secretId: "b" }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(CofferError);
  expect((err as CofferError).code).toBe("DecryptionFailure");
  expect((err as CofferError).message).not.toContain("alpha");
});

it("records last access at day resolution without a write per read", async () => {
  await secrets.create(root, { name: "r", value: { kind: "string", text: "x" } });
  await secrets.getValue(root, { secretId: "r" });
  const first = (await secrets.describe(root, { secretId: "r" })).lastAccessedAt;
  expect(first).toBe(Date.UTC(2026, 0, 1));
  now += DAY;
  await secrets.getValue(root, { secretId: "r" });
  expect((await secrets.describe(root, { secretId: "r" })).lastAccessedAt).toBe(Date.UTC(2026, 0, 2));
});
