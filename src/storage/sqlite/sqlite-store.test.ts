import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { exerciseStore } from "../conformance.ts";
import { withReadCache } from "../cached-store.ts";
import { openSqliteStore } from "./sqlite-store.ts";

const dir = mkdtempSync(join(tmpdir(), "coffer-sqlite-"));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

exerciseStore("sqlite", async () => openSqliteStore(join(dir, `store-${n++}.db`)));
exerciseStore("sqlite behind the read cache", async () => withReadCache(openSqliteStore(join(dir, `store-${n++}.db`))));

it("the read cache never serves a value older than the last commit", async () => {
  const store = withReadCache(openSqliteStore(join(dir, "cache.db")));
  const secret = {
    arn: "arn:aws:secretsmanager:us-east-1:111122223333:secret:c-AbCdEf",
    accountId: "111122223333",
    name: "c",
    createdAt: 1,
    lastChangedAt: 1,
    tags: [],
  };
  expect(await store.getSecretByName("111122223333", "c")).toBeUndefined();
  await store.transaction((tx) => tx.putSecret(secret));
  expect(await store.getSecretByName("111122223333", "c")).toEqual(secret);
  await store.transaction((tx) => tx.putSecret({ ...secret, description: "v2" }));
  const read = await store.getSecretByName("111122223333", "c");
  expect(read?.description).toBe("v2");
  expect(Object.isFrozen(read)).toBe(true);
  await store.close();
});

it("survives reopening", async () => {
  const path = join(dir, "reopen.db");
  const a = openSqliteStore(path);
  await a.transaction((tx) => tx.putSetting("k", "v"));
  await a.close();
  const b = openSqliteStore(path);
  expect(await b.getSetting("k")).toBe("v");
  await b.close();
  expect(readFileSync(path).length).toBeGreaterThan(0);
});
