import { randomBytes } from "node:crypto";
import pg from "pg";

/**
 * The PostgreSQL server the tests use: COFFER_TEST_DATABASE_URL, else the
 * local one (trust auth, database "test"). Tests that need it skip, saying
 * so, when it cannot be reached, unless COFFER_REQUIRE_DATABASES=1 (CI,
 * .ci/run), where they fail instead.
 */
export const TEST_DATABASE_URL = process.env.COFFER_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** Why PostgreSQL tests cannot run here, or undefined when they can. */
export async function postgresUnavailable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query("select 1");
    return undefined;
  } catch (err) {
    const why = `no PostgreSQL at ${TEST_DATABASE_URL.replace(/\/\/[^@]*@/, "//")} (${(err as Error).message})`;
    if (process.env.COFFER_REQUIRE_DATABASES === "1") throw new Error(`${why}, and COFFER_REQUIRE_DATABASES=1`);
    console.warn(`Skipping the PostgreSQL tests: ${why}. Set COFFER_REQUIRE_DATABASES=1 to make this a failure.`);
    return why;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Runs one statement on its own connection and returns its rows (test set-up and tampering). */
export async function sql(url: string, text: string, args: unknown[] = []): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, args)).rows;
  } finally {
    await client.end();
  }
}

/** A fresh, empty schema in the test database; `url` connects to it (search_path), `drop` removes it. */
export async function freshSchema(prefix = "coffer_test"): Promise<{ url: string; schema: string; drop(): Promise<void> }> {
  const schema = `${prefix}_${randomBytes(6).toString("hex")}`;
  await sql(TEST_DATABASE_URL, `create schema ${schema}`);
  const url = new URL(TEST_DATABASE_URL);
  url.searchParams.set("options", `-c search_path=${schema}`);
  return {
    url: url.toString(),
    schema,
    drop: async () => void (await sql(TEST_DATABASE_URL, `drop schema if exists ${schema} cascade`)),
  };
}

/** Drops every schema whose name starts with `prefix` (what a test run left behind). */
export async function dropSchemas(prefix: string): Promise<void> {
  const rows = await sql(TEST_DATABASE_URL, "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)", [prefix]);
  for (const r of rows) await sql(TEST_DATABASE_URL, `DROP SCHEMA IF EXISTS "${r.nspname as string}" CASCADE`);
}
