import { afterAll, describe, expect, it } from "vitest";
import { freshSchema, postgresUnavailable, sql } from "../../../test/postgres.ts";
import { chainHash, GENESIS_HASH } from "../audit-chain.mjs";
import { withReadCache } from "../cached-store.ts";
import { exerciseStore } from "../conformance.ts";
import { StaleEpochError, type AuditEntry, type SecretRecord, type Store } from "../store.ts";
import { openPostgresStore } from "./postgres-store.ts";
import { SCHEMA_VERSION } from "./postgres-schema.ts";

const unavailable = await postgresUnavailable();
const schemas: Awaited<ReturnType<typeof freshSchema>>[] = [];
async function schema(): Promise<string> {
  const s = await freshSchema("coffer_store");
  schemas.push(s);
  return s.url;
}
afterAll(async () => {
  for (const s of schemas) await s.drop();
});

const secret: SecretRecord = {
  arn: "arn:aws:secretsmanager:us-east-1:111122223333:secret:s-AbCdEf",
  accountId: "111122223333",
  name: "s",
  createdAt: 1,
  lastChangedAt: 1,
  tags: [],
};
const entry = (n: number): AuditEntry => ({
  kind: "event",
  time: n,
  eventId: `e${n}`,
  eventName: "GetSecretValue",
  eventSource: "secretsmanager.amazonaws.com",
  accountIds: ["111122223333"],
  readOnly: true,
  resources: [],
  record: `{"n":${n}}`,
});

describe.skipIf(unavailable !== undefined)(`PostgreSQL store${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  exerciseStore("postgres", async () => openPostgresStore(await schema(), { poolSize: 4 }));
  exerciseStore("postgres behind the read cache", async () => withReadCache(await openPostgresStore(await schema(), { poolSize: 4 })));

  async function twoNodes(): Promise<[Store, Store]> {
    const url = await schema();
    return Promise.all([openPostgresStore(url, { poolSize: 4 }), openPostgresStore(url, { poolSize: 4 })]);
  }

  it("migrates once when nodes start together, and refuses a database a newer Coffer migrated", async () => {
    const url = await schema();
    const stores = await Promise.all([1, 2, 3].map(() => openPostgresStore(url, { poolSize: 1 })));
    await Promise.all(stores.map((s) => s.close()));
    const rows = await sql(url, "SELECT version FROM coffer_migrations ORDER BY version");
    expect(rows.map((r) => r.version)).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
    await sql(url, "INSERT INTO coffer_migrations VALUES ($1, 0)", [SCHEMA_VERSION + 1]);
    await expect(openPostgresStore(url)).rejects.toThrow(/migrated by a newer Coffer \(schema version \d+; this Coffer knows up to \d+\)/);
  });

  it("fails with a clear error when the database cannot be reached", async () => {
    await expect(openPostgresStore("postgres://nobody@127.0.0.1:1/none")).rejects.toThrow(/Cannot reach the PostgreSQL database/);
  });

  it("tells a node, at its next sync, that another node wrote: its read cache never serves the old value", async () => {
    const [a, b] = await twoNodes();
    const cached = withReadCache(b);
    await cached.sync!();
    let changes = 0;
    b.onChange!(() => changes++);
    expect(await cached.getSecret(secret.arn)).toBeUndefined();
    await a.transaction((tx) => tx.putSecret(secret));
    await cached.sync!();
    expect(changes).toBe(1);
    expect(await cached.getSecret(secret.arn)).toEqual(secret);
    // Writes nothing caches (audit, settings) do not empty other nodes' caches.
    await a.transaction((tx) => tx.putSetting("k", "v"));
    await cached.sync!();
    expect(changes).toBe(1);
    await Promise.all([a.close(), b.close()]);
  });

  it("keeps one update per transaction when two nodes race on the same row (serialisation failures are retried)", async () => {
    const [a, b] = await twoNodes();
    await a.transaction((tx) => tx.putSetting("counter", "0"));
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        (i % 2 ? a : b).transaction(async (tx) => {
          const n = Number(await tx.getSetting("counter"));
          await tx.putSetting("counter", String(n + 1));
        }),
      ),
    );
    expect(await b.getSetting("counter")).toBe("30");
    await Promise.all([a.close(), b.close()]);
  });

  it("writes an audit batch sent with an epoch only if nothing changed since, and reports the change otherwise", async () => {
    const [a, b] = await twoNodes();
    const writer = b.auditWriter!(Buffer.alloc(32, 7));
    await b.sync!();
    const epoch = b.epoch!()!;
    expect(await writer.append([entry(1)], 1, epoch)).toBe(1);
    let changes = 0;
    b.onChange!(() => changes++);
    await a.transaction((tx) => tx.putSecret(secret));
    // Read at the old epoch: not written, the node told, the new epoch known.
    await expect(writer.append([entry(2)], 2, epoch)).rejects.toBeInstanceOf(StaleEpochError);
    expect(changes).toBe(1);
    expect(b.epoch!()).not.toBe(epoch);
    expect((await b.listAuditRows(1, 10)).map((r) => r.eventId)).toEqual(["e1"]);
    // At the new epoch, or without one, it goes in.
    expect(await writer.append([entry(3)], 3, b.epoch!())).toBe(2);
    expect(await writer.append([entry(4)], 4)).toBe(3);
    await Promise.all([a.close(), b.close()]);
  });

  it("appends a batch of any size in one statement, with its signed head and checkpoint", async () => {
    const [a, b] = await twoNodes();
    const writer = a.auditWriter!(Buffer.alloc(32, 7));
    expect(await writer.append(Array.from({ length: 2500 }, (_, i) => entry(i)), 1)).toBe(1);
    expect(await writer.append([entry(2500)], 2)).toBe(2501);
    const rows = await b.listAuditRows(1, 5000);
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 2501 }, (_, i) => i + 1));
    expect(rows[1234]).toMatchObject({ eventId: "e1234", accountIds: ["111122223333"], readOnly: true, resources: [] });
    expect((await b.listAuditCheckpoints()).map((c) => c.seq)).toEqual([2500]);
    expect(JSON.parse((await b.getSetting("audit.head"))!)).toMatchObject({ seq: 2501, hash: rows[2500].hash });
    await Promise.all([a.close(), b.close()]);
  });

  it("extends one audit chain from several nodes' writers, in order and without a fork", async () => {
    const [a, b] = await twoNodes();
    const key = Buffer.alloc(32, 7);
    const writers = [a.auditWriter!(key), b.auditWriter!(key)];
    const firsts = await Promise.all(Array.from({ length: 40 }, (_, i) => writers[i % 2].append([entry(2 * i), entry(2 * i + 1)], i)));
    expect(new Set(firsts).size).toBe(40);
    const rows = await a.listAuditRows(1, 1000);
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
    let prev = GENESIS_HASH;
    for (const r of rows) {
      expect(r.prevHash).toBe(prev);
      expect(r.hash).toBe(chainHash(prev, r.record));
      prev = r.hash;
    }
    await Promise.all([a.close(), b.close()]);
  });
});
