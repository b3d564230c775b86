import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { sealedMasterKeyIds, tryExclusiveLock } from "./sqlite-files.ts";
import { openSqliteStore } from "./sqlite-store.ts";

const dir = mkdtempSync(join(tmpdir(), "coffer-sqlite-files-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const mode = (f: string) => statSync(f).mode & 0o777;

it("creates the database, its WAL and shared memory 0600 under umask 000, and tightens an existing loose file", async () => {
  const old = process.umask(0);
  try {
    const path = join(dir, "private.db");
    const store = openSqliteStore(path);
    await store.transaction((tx) => tx.putSetting("k", "v"));
    for (const f of [path, `${path}-wal`, `${path}-shm`]) expect(mode(f), f).toBe(0o600);
    await store.close();

    const loose = join(dir, "loose.db");
    writeFileSync(loose, "", { mode: 0o644 });
    await openSqliteStore(loose).close();
    expect(mode(loose)).toBe(0o600);
  } finally {
    process.umask(old);
  }
});

it("holds an exclusive lock until released, and says when someone else has it", () => {
  const path = join(dir, "server.lock");
  const first = tryExclusiveLock(path);
  expect(first).toBeDefined();
  expect(tryExclusiveLock(path)).toBeUndefined();
  first!.release();
  const again = tryExclusiveLock(path);
  expect(again).toBeDefined();
  again!.release();
  expect(mode(path)).toBe(0o600);
});

it("lists the master key ids sealed rows name", async () => {
  const path = join(dir, "ids.db");
  const store = openSqliteStore(path);
  expect(sealedMasterKeyIds(path)).toEqual([]);
  await store.transaction((tx) =>
    tx.putKey({ keyId: "k1", arn: "arn:aws:kms:us-east-1:111122223333:key/k1", accountId: "111122223333", createdAt: 1, masterKeyId: "abc", sealedMaterial: Buffer.from("x"), meta: { description: "", state: "Enabled", managedBy: "CUSTOMER" } }),
  );
  expect(sealedMasterKeyIds(path)).toEqual(["abc"]);
  await store.close();
});
