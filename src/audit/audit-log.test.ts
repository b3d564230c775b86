import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, expect, it } from "vitest";
import { createTurnWord } from "../storage/sqlite/sqlite-write-turn.mjs";
import { openSqliteStore, sqliteAuditWriter } from "../storage/sqlite/sqlite-store.ts";
import type { Store } from "../storage/store.ts";
import { ANCHOR_SETTING, HEAD_SETTING, createAuditLog, type AuditEntry } from "./audit-log.ts";
import { exportAndPrune, signLegacyAnchor, verifyExport } from "./audit-retention.ts";
import { verifyAuditChain } from "./audit-verify.ts";
import { chainBatch } from "../storage/audit-chain.mjs";

let dir: string;
let store: Store;
let now = 1_000_000;
const key = randomBytes(32);
const clock = { now: () => now };

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "coffer-audit-"));
  store = openSqliteStore(join(dir, "db"));
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const entry = (n: number, time = now): AuditEntry => ({
  kind: "event",
  record: JSON.stringify({ n, eventTime: new Date(time).toISOString() }),
  time,
  eventId: `e${n}`,
  eventName: "GetSecretValue",
  eventSource: "secretsmanager.amazonaws.com",
  accountIds: ["000000000000"],
  readOnly: true,
  resources: [],
});

it("commits concurrent appends in groups, as one contiguous verifiable chain", async () => {
  const log = createAuditLog({ store, key, clock, filePath: join(dir, "audit.jsonl") });
  await Promise.all(Array.from({ length: 2500 }, (_, i) => log.append(entry(i))));
  const rows = await store.listAuditRows(0, 10_000);
  expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 2500 }, (_, i) => i + 1));
  // Group commit: all 2,500 went in one transaction, so one permanent checkpoint marks where it passed 1,000s.
  expect((await store.listAuditCheckpoints()).map((c) => c.seq)).toEqual([2500]);
  expect(await verifyAuditChain(store, key)).toEqual({ ok: true, rows: 2500, firstSeq: 1, lastSeq: 2500, checkpoints: 1 });
  // A forged checkpoint signature is caught: the key stays with the master key.
  expect((await verifyAuditChain(store, randomBytes(32))).ok).toBe(false);
  await log.drain();
  await new Promise((r) => setTimeout(r, 50));
  expect(readFileSync(join(dir, "audit.jsonl"), "utf8").trim().split("\n").length).toBe(2500);
});

it("rejects every append of a batch that could not be written, and carries on afterwards (transaction path)", async () => {
  const log = createAuditLog({ store: { ...store, auditWriter: undefined }, key, clock });
  await log.append(entry(1));
  const broken = { ...store, auditWriter: undefined, transaction: () => Promise.reject(new Error("disk full")) } as Store;
  const failing = createAuditLog({ store: broken, key, clock });
  const results = await Promise.allSettled([failing.append(entry(2)), failing.append(entry(3))]);
  expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
  await log.append(entry(4));
  expect((await store.listAuditRows(0, 10)).map((r) => r.seq)).toEqual([1, 2]);
  expect((await verifyAuditChain(store, key)).ok).toBe(true);
});

it("exports expiring events before removing them; the chain stays verifiable from the export's last hash", async () => {
  const log = createAuditLog({ store, key, clock });
  for (let i = 1; i <= 30; i++) await log.append(entry(i, 1000 + i));
  const exported = await exportAndPrune(store, { before: 1021, exportDir: join(dir, "export"), key });
  expect(exported.rows).toBe(20);
  const checked = await verifyExport(exported.file!);
  expect(checked).toMatchObject({ ok: true, firstSeq: 1, lastSeq: 20 });
  expect((await store.listAuditRows(0, 100)).map((r) => r.seq)[0]).toBe(21);
  expect((await store.listAuditRows(0, 100))[0].prevHash).toBe((checked as { lastHash: string }).lastHash);
  expect(await verifyAuditChain(store, key)).toMatchObject({ ok: true, firstSeq: 21, lastSeq: 30 });
  // New events chain on after the pruned range, also after a restart of the log.
  await createAuditLog({ store, key, clock }).append(entry(31, 2000));
  expect(await verifyAuditChain(store, key)).toMatchObject({ ok: true, lastSeq: 31 });
  expect((await exportAndPrune(store, { before: 1021, exportDir: join(dir, "export"), key })).rows).toBe(0);

  // An edited export is caught.
  const lines = readFileSync(exported.file!, "utf8").split("\n");
  lines[4] = lines[4].replace('\\"n\\":5', '\\"n\\":55');
  writeFileSync(exported.file!, lines.join("\n"));
  expect(await verifyExport(exported.file!)).toEqual({ ok: false, seq: 5, problem: "event 5 was altered" });
});

it("signs the retention anchor: moving it, reusing a head signature or leaving it bare is caught; a legacy anchor is signed once", async () => {
  const log = createAuditLog({ store, key, clock });
  for (let i = 1; i <= 10; i++) await log.append(entry(i, 1000 + i));
  await exportAndPrune(store, { before: 1005, exportDir: join(dir, "export"), key });
  expect(await verifyAuditChain(store, key)).toMatchObject({ ok: true, firstSeq: 5 });
  const anchor = JSON.parse((await store.getSetting(ANCHOR_SETTING))!) as { seq: number; hash: string; signature: string };
  expect(anchor.seq).toBe(4);

  // Someone with the database removes events 5 and 6 and moves the anchor on, keeping its signature.
  const rows = await store.listAuditRows(0, 100);
  const six = rows.find((r) => r.seq === 6)!;
  await store.transaction(async (tx) => {
    await tx.deleteAuditRowsThrough(6);
    await tx.putSetting(ANCHOR_SETTING, JSON.stringify({ ...anchor, seq: 6, hash: six.hash }));
  });
  expect(await verifyAuditChain(store, key)).toEqual({
    ok: false,
    seq: 6,
    problem: "the retention anchor at event 6 was forged or altered: events before it were removed",
  });
  // The signed head is no anchor either.
  const head = (await store.getSetting(HEAD_SETTING))!;
  await store.transaction(async (tx) => {
    await tx.deleteAuditRowsThrough(10);
    await tx.putSetting(ANCHOR_SETTING, head);
  });
  expect(await verifyAuditChain(store, key)).toMatchObject({ ok: false, seq: 10 });
  // Bare (as older versions wrote it): refused until the server signs it.
  await store.transaction((tx) => tx.putSetting(ANCHOR_SETTING, JSON.stringify({ seq: 10, hash: rows.find((r) => r.seq === 10)!.hash })));
  expect(await verifyAuditChain(store, key)).toMatchObject({ ok: false, seq: 10, problem: expect.stringContaining("is not signed") });
  expect(await signLegacyAnchor(store, key)).toBe(true);
  expect(await signLegacyAnchor(store, key)).toBe(false);
  expect(await verifyAuditChain(store, key)).toMatchObject({ ok: true, rows: 0 });
});

it("counts rows committed with their signed head while it walks as covered; rows past every signed head are caught", async () => {
  const log = createAuditLog({ store, key, clock });
  for (let i = 1; i <= 3; i++) await log.append(entry(i));
  // Another node commits an event (with its head) after the check read the head and before it read the rows,
  // and another just before the check reads the head again.
  let headReads = 0;
  let rowReads = 0;
  const racing: Parameters<typeof verifyAuditChain>[0] = {
    listAuditCheckpoints: () => store.listAuditCheckpoints(),
    listAuditRows: async (from, limit) => {
      if (rowReads++ === 0) await log.append(entry(4));
      return store.listAuditRows(from, limit);
    },
    getSetting: async (name) => {
      if (name === HEAD_SETTING && headReads++ === 1) await log.append(entry(5));
      return store.getSetting(name);
    },
  };
  expect(await verifyAuditChain(racing, key)).toEqual({ ok: true, rows: 5, firstSeq: 1, lastSeq: 5, checkpoints: 0 });
  expect(headReads).toBe(2);

  // Someone with the database but not the key chains an event on correctly; no signed head covers it.
  const last = (await store.getAuditHead())!;
  const { rows, signedHead } = chainBatch({ seq: last.seq, hash: last.hash }, [entry(6)], randomBytes(32), now);
  await store.transaction((tx) => tx.appendAuditRows(rows));
  expect(await verifyAuditChain(store, key)).toEqual({ ok: false, seq: 6, problem: "events 6 to 6 were appended without a signed head" });
  // A head signed without the key is a forgery.
  await store.transaction((tx) => tx.putSetting(HEAD_SETTING, JSON.stringify(signedHead)));
  expect(await verifyAuditChain(store, key)).toEqual({ ok: false, seq: 6, problem: "the signed checkpoint at event 6 was forged or altered" });
});

it("writer thread: a batch it cannot commit rejects every append in it; the chain carries on intact", async () => {
  expect(store.auditWriter).toBeDefined();
  const log = createAuditLog({ store, key, clock });
  await log.append(entry(1));
  const db = new Database(join(dir, "db"));
  try {
    db.exec("ALTER TABLE audit_rows RENAME TO audit_rows_away");
    const results = await Promise.allSettled([log.append(entry(2)), log.append(entry(3))]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(String((results[0] as PromiseRejectedResult).reason)).toContain("audit write failed");
  } finally {
    db.exec("ALTER TABLE audit_rows_away RENAME TO audit_rows");
    db.close();
  }
  await Promise.all([log.append(entry(4)), log.append(entry(5))]);
  expect((await store.listAuditRows(0, 10)).map((r) => r.seq)).toEqual([1, 2, 3]);
  expect(await verifyAuditChain(store, key)).toMatchObject({ ok: true, rows: 3 });
});

it("writer thread: if it dies, its pending appends reject and the next append starts a new one, chaining on from the stored head", async () => {
  const log = createAuditLog({ store, key, clock });
  await log.append(entry(1));
  // A writer whose thread cannot open its database dies at once.
  const path = join(dir, "later", "db");
  const writer = sqliteAuditWriter(path, key, createTurnWord(), 1000);
  const lost = await Promise.allSettled([writer.append([entry(2)], now), writer.append([entry(3)], now)]);
  expect(lost.map((r) => r.status)).toEqual(["rejected", "rejected"]);
  expect(String((lost[0] as PromiseRejectedResult).reason)).toMatch(/audit write failed/);
  // Once the database is there, the next append starts a new thread that reads the head from it.
  mkdirSync(join(dir, "later"));
  const other = openSqliteStore(path);
  try {
    const first = createAuditLog({ store: other, key, clock });
    await first.append(entry(10));
    expect(await writer.append([entry(11), entry(12)], now)).toBe(2);
    await writer.close();
    expect((await other.listAuditRows(0, 10)).map((r) => r.eventId)).toEqual(["e10", "e11", "e12"]);
    expect(await verifyAuditChain(other, key)).toMatchObject({ ok: true, rows: 3 });
  } finally {
    await other.close();
  }
});

it("tells followers about each committed group, in chain order, with its seqs", async () => {
  for (const target of [store, { ...store, auditWriter: undefined }]) {
    const log = createAuditLog({ store: target, key, clock });
    const seen: number[] = [];
    const stop = log.onCommitted((rows) => seen.push(...rows.map((r) => r.seq)));
    const before = (await store.getAuditHead())?.seq ?? 0;
    await Promise.all(Array.from({ length: 50 }, (_, i) => log.append(entry(i))));
    for (let i = 0; i < 5; i++) await Promise.all(Array.from({ length: 10 }, (_, j) => log.append(entry(100 + i * 10 + j))));
    await log.drain();
    stop();
    await log.append(entry(999));
    expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => before + i + 1));
    const rows = await store.listAuditRows(before + 1, 100);
    expect(rows.map((r) => r.eventId)).toEqual([...Array.from({ length: 50 }, (_, i) => `e${i}`), ...Array.from({ length: 50 }, (_, i) => `e${100 + i}`)]);
  }
  expect(await verifyAuditChain(store, key)).toMatchObject({ ok: true, rows: 202 });
});

it("says why the trail cannot be written until a batch commits again; its probe commits no event (transaction path)", async () => {
  let broken = false;
  const flaky = {
    ...store,
    auditWriter: undefined,
    transaction: ((fn) => (broken ? Promise.reject(new Error("disk full")) : store.transaction(fn))) as Store["transaction"],
  };
  const batches: [number, boolean][] = [];
  const log = createAuditLog({ store: flaky, key, clock, onBatch: (entries, _seconds, ok) => batches.push([entries, ok]) });
  await Promise.all([log.append(entry(1)), log.append(entry(2))]);
  expect(await log.unhealthy()).toBeUndefined();
  broken = true;
  await expect(log.append(entry(3))).rejects.toThrow("disk full");
  // Still broken: the probe fails too.
  expect(await log.unhealthy()).toBe("disk full");
  broken = false;
  // No append in between: the probe itself finds the store writable again.
  expect(await log.unhealthy()).toBeUndefined();
  expect(batches).toEqual([[2, true], [1, false]]);
  expect((await store.listAuditRows(0, 10)).map((r) => r.seq)).toEqual([1, 2]);
  expect(await verifyAuditChain(store, key)).toMatchObject({ ok: true, rows: 2 });
});
