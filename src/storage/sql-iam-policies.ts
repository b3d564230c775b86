/**
 * The store's operations on customer managed policies and IAM groups, written once for both SQL
 * backends (placeholders are `?`; the PostgreSQL side numbers them). Each row is the record as
 * JSON (`doc`) beside the columns it is looked up by, as principals are kept. Inside a
 * transaction (`forUpdate`), a policy or group is read FOR UPDATE: attaching, detaching, adding a
 * member and deleting all read the row first, so they queue on it rather than miss each other.
 */
import type { GroupRecord, IamPolicyReads, IamPolicyWrites, ManagedPolicyRecord } from "./store.ts";
import type { Row } from "./sql-rows.ts";

export interface SqlRunner {
  all(text: string, args: unknown[]): Promise<Row[]>;
  run(text: string, args: unknown[]): Promise<void>;
}

const parse = <T>(rows: Row[]): T[] => rows.map((r) => JSON.parse(r.doc as string) as T);

export function sqlIamPolicyReads(db: Pick<SqlRunner, "all">, forUpdate = ""): IamPolicyReads {
  return {
    async getManagedPolicy(arn) {
      return parse<ManagedPolicyRecord>(await db.all(`SELECT doc FROM managed_policies WHERE arn = ?${forUpdate}`, [arn]))[0];
    },
    async listManagedPolicies(accountId) {
      return parse<ManagedPolicyRecord>(await db.all("SELECT doc FROM managed_policies WHERE account_id = ? ORDER BY name", [accountId]));
    },
    async getGroup(arn) {
      return parse<GroupRecord>(await db.all(`SELECT doc FROM iam_groups WHERE arn = ?${forUpdate}`, [arn]))[0];
    },
    async listGroups(accountId) {
      return parse<GroupRecord>(await db.all("SELECT doc FROM iam_groups WHERE account_id = ? ORDER BY name", [accountId]));
    },
  };
}

export function sqlIamPolicyWrites(db: Pick<SqlRunner, "run">): IamPolicyWrites {
  return {
    async putManagedPolicy(p) {
      await db.run(
        `INSERT INTO managed_policies (arn, account_id, name, doc) VALUES (?, ?, ?, ?)
         ON CONFLICT (arn) DO UPDATE SET doc = excluded.doc`,
        [p.arn, p.accountId, p.name, JSON.stringify(p)],
      );
    },
    async deleteManagedPolicy(arn) {
      await db.run("DELETE FROM managed_policies WHERE arn = ?", [arn]);
    },
    async putGroup(g) {
      await db.run(
        `INSERT INTO iam_groups (arn, account_id, name, doc) VALUES (?, ?, ?, ?)
         ON CONFLICT (arn) DO UPDATE SET doc = excluded.doc`,
        [g.arn, g.accountId, g.name, JSON.stringify(g)],
      );
    },
    async deleteGroup(arn) {
      await db.run("DELETE FROM iam_groups WHERE arn = ?", [arn]);
    },
  };
}

/** The tables, for both backends' migrations (names compare in byte order in both). */
export function iamPolicyTables(collate: string): string {
  return `CREATE TABLE managed_policies (
     arn TEXT${collate} PRIMARY KEY,
     account_id TEXT${collate} NOT NULL,
     name TEXT${collate} NOT NULL,
     doc TEXT NOT NULL
   );
   CREATE UNIQUE INDEX managed_policies_by_name ON managed_policies (account_id, name);
   CREATE TABLE iam_groups (
     arn TEXT${collate} PRIMARY KEY,
     account_id TEXT${collate} NOT NULL,
     name TEXT${collate} NOT NULL,
     doc TEXT NOT NULL
   );
   CREATE UNIQUE INDEX iam_groups_by_name ON iam_groups (account_id, name);`;
}
