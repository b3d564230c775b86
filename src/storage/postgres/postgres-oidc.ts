import type { OidcProviderReads, OidcProviderRecord, OidcProviderWrites } from "../store.ts";
import type { Row } from "../sql-rows.ts";

type Exec = (text: string, args: unknown[]) => Promise<Row[]>;

/**
 * OIDC identity providers in PostgreSQL (table oidc_providers, the record as JSON). Inside a
 * transaction (`lock`) a provider is read FOR UPDATE, so writers of one provider queue on its row.
 */
export function postgresOidcReads(exec: Exec, lock: boolean): OidcProviderReads {
  const forUpdate = lock ? " FOR UPDATE" : "";
  return {
    async getOidcProvider(arn) {
      const row = (await exec(`SELECT doc FROM oidc_providers WHERE arn = $1${forUpdate}`, [arn]))[0];
      return row && (JSON.parse(row.doc as string) as OidcProviderRecord);
    },
    async listOidcProviders(accountId) {
      return (await exec("SELECT doc FROM oidc_providers WHERE account_id = $1 ORDER BY arn", [accountId])).map(
        (r) => JSON.parse(r.doc as string) as OidcProviderRecord,
      );
    },
  };
}

export function postgresOidcWrites(exec: Exec): OidcProviderWrites {
  return {
    async putOidcProvider(p) {
      await exec(
        `INSERT INTO oidc_providers (arn, account_id, doc) VALUES ($1, $2, $3)
         ON CONFLICT (arn) DO UPDATE SET doc = excluded.doc`,
        [p.arn, p.accountId, JSON.stringify(p)],
      );
    },
    async deleteOidcProvider(arn) {
      await exec("DELETE FROM oidc_providers WHERE arn = $1", [arn]);
    },
  };
}
