import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { exerciseStore } from "../conformance.ts";
import { openSqliteStore } from "./sqlite-store.ts";

const dir = mkdtempSync(join(tmpdir(), "coffer-sqlite-"));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

exerciseStore("sqlite", async () => openSqliteStore(join(dir, `store-${n++}.db`)));

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
