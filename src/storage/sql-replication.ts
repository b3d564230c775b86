import type { RegionLinkRecord, ReplicationReads, ReplicationTask, ReplicationWrites } from "./store.ts";

/**
 * The replication tables (region_links, replication_tasks), the same SQL for
 * both backends: each passes a runner for "$1, $2, ..." placeholders (SQLite's
 * turns them into "?", every query here using each argument once, in order).
 * Records are kept as JSON documents; a link's sealed key as base64 in it.
 */
export type RunSql = (text: string, args: unknown[]) => Promise<{ doc: string }[]>;

type StoredLink = Omit<RegionLinkRecord, "sealedSecretAccessKey"> & { sealedSecretAccessKey: string };

const toLink = (doc: string): RegionLinkRecord => {
  const stored = JSON.parse(doc) as StoredLink;
  return { ...stored, sealedSecretAccessKey: Buffer.from(stored.sealedSecretAccessKey, "base64") };
};

export function sqlReplicationReads(exec: RunSql): ReplicationReads {
  const tasks = async (text: string, args: unknown[]) => (await exec(text, args)).map((r) => JSON.parse(r.doc) as ReplicationTask);
  return {
    async getRegionLink(name) {
      const [row] = await exec("SELECT doc FROM region_links WHERE name = $1", [name]);
      return row && toLink(row.doc);
    },
    async listRegionLinks() {
      return (await exec("SELECT doc FROM region_links ORDER BY name", [])).map((r) => toLink(r.doc));
    },
    async getReplicationTask(secretArn, region) {
      return (await tasks("SELECT doc FROM replication_tasks WHERE secret_arn = $1 AND region = $2", [secretArn, region]))[0];
    },
    async listDueReplicationTasks(now, limit) {
      return tasks("SELECT doc FROM replication_tasks WHERE next_attempt_at <= $1 ORDER BY next_attempt_at, secret_arn, region LIMIT $2", [now, limit]);
    },
    async listReplicationTasks(secretArn) {
      return tasks("SELECT doc FROM replication_tasks WHERE secret_arn = $1 ORDER BY region", [secretArn]);
    },
  };
}

export function sqlReplicationWrites(exec: RunSql): ReplicationWrites {
  return {
    async putRegionLink(link) {
      const stored: StoredLink = { ...link, sealedSecretAccessKey: link.sealedSecretAccessKey.toString("base64") };
      await exec(
        "INSERT INTO region_links (name, doc) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET doc = excluded.doc",
        [link.name, JSON.stringify(stored)],
      );
    },
    async deleteRegionLink(name) {
      await exec("DELETE FROM region_links WHERE name = $1", [name]);
    },
    async putReplicationTask(t) {
      await exec(
        `INSERT INTO replication_tasks (secret_arn, region, next_attempt_at, doc) VALUES ($1, $2, $3, $4)
         ON CONFLICT (secret_arn, region) DO UPDATE SET next_attempt_at = excluded.next_attempt_at, doc = excluded.doc`,
        [t.secretArn, t.region, t.nextAttemptAt, JSON.stringify(t)],
      );
    },
    async deleteReplicationTask(secretArn, region) {
      await exec("DELETE FROM replication_tasks WHERE secret_arn = $1 AND region = $2", [secretArn, region]);
    },
  };
}

/** The tables, for both schemas (a migration step each). */
export const REPLICATION_TABLES = `CREATE TABLE region_links (
     name TEXT PRIMARY KEY,
     doc TEXT NOT NULL
   );
   CREATE TABLE replication_tasks (
     secret_arn TEXT NOT NULL,
     region TEXT NOT NULL,
     next_attempt_at BIGINT NOT NULL,
     doc TEXT NOT NULL,
     PRIMARY KEY (secret_arn, region)
   );
   CREATE INDEX replication_tasks_due ON replication_tasks (next_attempt_at);`;
