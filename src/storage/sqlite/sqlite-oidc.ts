import type Database from "better-sqlite3";
import type { OidcProviderReads, OidcProviderRecord, OidcProviderWrites } from "../store.ts";
import type { Row } from "../sql-rows.ts";

type Sql = (text: string) => Database.Statement;

/** OIDC identity providers in SQLite: one row per provider, the record as JSON (table oidc_providers). */
export function sqliteOidcReads(sql: Sql): OidcProviderReads {
  return {
    async getOidcProvider(arn) {
      const row = sql("SELECT doc FROM oidc_providers WHERE arn = ?").get(arn) as Row | undefined;
      return row && (JSON.parse(row.doc as string) as OidcProviderRecord);
    },
    async listOidcProviders(accountId) {
      return (sql("SELECT doc FROM oidc_providers WHERE account_id = ? ORDER BY arn").all(accountId) as Row[]).map(
        (r) => JSON.parse(r.doc as string) as OidcProviderRecord,
      );
    },
  };
}

export function sqliteOidcWrites(sql: Sql): OidcProviderWrites {
  return {
    async putOidcProvider(p) {
      sql(
        `INSERT INTO oidc_providers (arn, account_id, doc) VALUES (?, ?, ?)
         ON CONFLICT (arn) DO UPDATE SET doc = excluded.doc`,
      ).run(p.arn, p.accountId, JSON.stringify(p));
    },
    async deleteOidcProvider(arn) {
      sql("DELETE FROM oidc_providers WHERE arn = ?").run(arn);
    },
  };
}
