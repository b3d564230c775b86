/**
 * PostgreSQL rotators, after SecretsManagerRDSPostgreSQLRotationSingleUser and
 * ...MultiUser. The steps themselves are in db-rotator.ts; this file is how to
 * talk to PostgreSQL.
 *
 * API: `createPostgresRotators(options?)` returns `{ singleUser(), alternatingUsers() }`,
 * each a Rotator for secrets with `"engine": "postgres"` (see db-secret.ts
 * for the JSON). `postgresDriver(options?)` is the DbDriver underneath.
 *
 * - Single user: logs in as the user (pending, else current, else previous
 *   password) and runs ALTER ROLE <user> WITH PASSWORD.
 * - Alternating users: logs in with the master secret; the first rotation
 *   runs CREATE ROLE <user>_clone WITH LOGIN, GRANT <user> TO <user>_clone
 *   (so the clone holds the user's privileges through membership) and copies
 *   the user's ALTER ROLE ... SET defaults; later rotations set the password
 *   of whichever of the two is not current.
 *
 * Passwords reach the server as SCRAM-SHA-256 verifiers computed here (what
 * psql's \password does), so the plain password never appears in a statement
 * the server could log; passwords with characters outside printable ASCII go
 * as an escaped literal instead, because the server applies SASLprep to them.
 * Identifiers are quoted with escapeIdentifier; ALTER ROLE takes no bind
 * parameters, so values are escaped literals.
 */
import { createHash, createHmac, pbkdf2, randomBytes } from "node:crypto";
import { promisify } from "node:util";
import pg from "pg";
import { CofferError } from "../../../shared/errors.ts";
import { connectHonouringSsl, createDbRotators, type DbDriver, type DbRotators, type DbSession } from "./db-rotator.ts";
import type { DbSecret } from "./db-secret.ts";

const { Client, DatabaseError, escapeIdentifier, escapeLiteral } = pg;
const pbkdf2Async = promisify(pbkdf2);

export interface PostgresRotatorOptions {
  /** How long a connection attempt may take; default 5000 ms, as the templates. */
  connectTimeoutMs?: number;
  /** Server-side limit for each statement; default 15000 ms. */
  statementTimeoutMs?: number;
}

export interface PostgresSession extends DbSession {
  readonly client: pg.Client;
}

/** PostgreSQL identifiers are at most NAMEDATALEN - 1 = 63 bytes. */
const MAX_ROLE_NAME_BYTES = 63;
const SCRAM_ITERATIONS = 4096;

export function createPostgresRotators(options: PostgresRotatorOptions = {}): DbRotators {
  return createDbRotators(postgresDriver(options));
}

export function postgresDriver(options: PostgresRotatorOptions = {}): DbDriver<PostgresSession> {
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
  const statementTimeoutMs = options.statementTimeoutMs ?? 15_000;

  return {
    engines: ["postgres"],
    maxUsernameLength: () => ({ max: MAX_ROLE_NAME_BYTES, bytes: true }),

    connect(secret: DbSecret): Promise<PostgresSession> {
      return connectHonouringSsl(
        secret,
        async (tls) => {
          const client = new Client({
            host: secret.host,
            port: secret.port,
            user: secret.username,
            password: secret.password,
            database: secret.dbname ?? "postgres",
            ssl: tls,
            connectionTimeoutMillis: connectTimeoutMs,
            statement_timeout: statementTimeoutMs,
            query_timeout: statementTimeoutMs + 5_000,
            application_name: "coffer-rotation",
          });
          // A session whose server goes away emits "error"; unhandled, that would end the process.
          client.on("error", () => {});
          try {
            await client.connect();
          } catch (err) {
            await client.end().catch(() => {});
            throw err;
          }
          return { client, close: () => client.end().catch(() => {}) };
        },
        isTlsFailure,
      );
    },

    async setOwnPassword(session, user) {
      const { client } = session;
      await client.query(`ALTER ROLE ${escapeIdentifier(user.username)} WITH PASSWORD ${await passwordSql(client, user.password)}`);
    },

    async setUserPassword(session, base, pending) {
      const { client } = session;
      const role = escapeIdentifier(pending.username);
      const password = await passwordSql(client, pending.password);
      if (pending.username === base) {
        if (!(await roleExists(client, base))) throw new CofferError("InvalidRequest", `setSecret failed: role "${base}" does not exist.`);
        await client.query(`ALTER ROLE ${role} WITH PASSWORD ${password}`);
        return;
      }
      // The clone: created, granted and configured in one transaction, so no
      // half-made clone is left behind; every run re-checks each part.
      await client.query("BEGIN");
      try {
        if (await roleExists(client, pending.username)) {
          await client.query(`ALTER ROLE ${role} WITH LOGIN PASSWORD ${password}`);
        } else {
          await client.query(`CREATE ROLE ${role} WITH LOGIN PASSWORD ${password}`);
        }
        if (!(await isMember(client, pending.username, base))) {
          await client.query(`GRANT ${escapeIdentifier(base)} TO ${role}`);
        }
        await copyRoleSettings(client, base, pending.username);
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK").catch(() => {});
        throw err;
      }
    },

    async test(session, pending) {
      await session.client.query("SELECT 1");
      const { rows } = await session.client.query<{ user: string }>("SELECT current_user AS user");
      if (rows[0]?.user !== pending.username) {
        throw new CofferError("InvalidRequest", `testSecret failed: logged in as "${rows[0]?.user}", not "${pending.username}".`);
      }
    },
  };
}

/** TLS could not be set up (so "ssl" absent may fall back to plain text); a refused password is not a TLS failure. */
function isTlsFailure(err: unknown): boolean {
  // pg_hba.conf has no line for TLS connections from here ("..., SSL encryption" / "SSL on").
  if (err instanceof DatabaseError) return err.code === "28000" && /\bSSL\b/.test(err.message);
  if (!(err instanceof Error)) return false;
  const code = String((err as { code?: unknown }).code ?? "");
  return /\b(SSL|TLS)\b|certificate/i.test(err.message) || /CERT|TLS|SSL|SELF_SIGNED|UNABLE_TO_/.test(code);
}

/**
 * The PASSWORD clause's value: a SCRAM-SHA-256 verifier (PostgreSQL 10 and
 * later store it as given) for printable-ASCII passwords, whose SASLprep form
 * is themselves; otherwise an escaped literal for the server to hash.
 */
async function passwordSql(client: pg.Client, password: string): Promise<string> {
  if (/^[\x20-\x7e]+$/.test(password)) {
    const { rows } = await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v");
    if (Number(rows[0]?.v) >= 100_000) return escapeLiteral(await scramVerifier(password));
  }
  return escapeLiteral(password);
}

/** RFC 5802 / 7677 stored form, as PostgreSQL writes it: SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>. */
async function scramVerifier(password: string): Promise<string> {
  const salt = randomBytes(16);
  const salted = await pbkdf2Async(password, salt, SCRAM_ITERATIONS, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  return `SCRAM-SHA-256$${SCRAM_ITERATIONS}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

async function roleExists(client: pg.Client, name: string): Promise<boolean> {
  const { rowCount } = await client.query("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1", [name]);
  return (rowCount ?? 0) > 0;
}

async function isMember(client: pg.Client, member: string, of: string): Promise<boolean> {
  const { rowCount } = await client.query(
    `SELECT 1 FROM pg_catalog.pg_auth_members m
       JOIN pg_catalog.pg_roles r ON r.oid = m.roleid
       JOIN pg_catalog.pg_roles u ON u.oid = m.member
      WHERE r.rolname = $1 AND u.rolname = $2`,
    [of, member],
  );
  return (rowCount ?? 0) > 0;
}

/**
 * Copies `base`'s ALTER ROLE ... [IN DATABASE ...] SET defaults to `clone`
 * (membership does not carry them, and a different search_path would change
 * what the clone's queries mean). pg_db_role_setting keeps each as the text
 * "name=value"; the value is re-sent as literals, first as a list (for list
 * settings such as search_path), then as one string, and kept only if the
 * clone's stored text then equals the base's. A setting the master may not
 * set, or that cannot be reproduced exactly, is skipped (savepoint).
 */
async function copyRoleSettings(client: pg.Client, base: string, clone: string): Promise<void> {
  const { rows } = await client.query<{ db_oid: string; datname: string | null; setconfig: string[] | null }>(
    `SELECT s.setdatabase::text AS db_oid, d.datname, s.setconfig
       FROM pg_catalog.pg_db_role_setting s
       JOIN pg_catalog.pg_roles r ON r.oid = s.setrole
       LEFT JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase
      WHERE r.rolname = $1`,
    [base],
  );
  for (const row of rows) {
    if (row.db_oid !== "0" && row.datname === null) continue;
    const scope = row.db_oid === "0" ? "" : ` IN DATABASE ${escapeIdentifier(row.datname as string)}`;
    for (const entry of row.setconfig ?? []) {
      const eq = entry.indexOf("=");
      if (eq <= 0) continue;
      const name = entry.slice(0, eq);
      const value = entry.slice(eq + 1);
      const parts = name.split(".");
      if (!parts.every((p) => /^[A-Za-z_][A-Za-z0-9_$]*$/.test(p))) continue;
      const nameSql = parts.map((p) => escapeIdentifier(p)).join(".");
      for (const form of settingForms(value)) {
        await client.query("SAVEPOINT coffer_role_setting");
        let kept = false;
        try {
          await client.query(`ALTER ROLE ${escapeIdentifier(clone)}${scope} SET ${nameSql} TO ${form}`);
          kept = (await storedSetting(client, clone, row.db_oid, name)) === value;
        } catch {
          kept = false;
        }
        if (kept) {
          await client.query("RELEASE SAVEPOINT coffer_role_setting");
          break;
        }
        await client.query("ROLLBACK TO SAVEPOINT coffer_role_setting");
        await client.query("RELEASE SAVEPOINT coffer_role_setting");
      }
    }
  }
}

/** The ways to say `value` again: as a list of literals when it reads as one, then as a single literal. */
function settingForms(value: string): string[] {
  const forms: string[] = [];
  const elements = splitList(value);
  if (elements && (elements.length > 1 || value.trimStart().startsWith('"'))) forms.push(elements.map((e) => escapeLiteral(e)).join(", "));
  forms.push(escapeLiteral(value));
  return forms;
}

/** `app, "My Schema"` -> ["app", "My Schema"]; undefined if it is not such a list. */
function splitList(value: string): string[] | undefined {
  const out: string[] = [];
  const element = /\s*(?:"((?:[^"]|"")*)"|([^",\s]+))\s*(,|$)/y;
  let at = 0;
  while (at < value.length) {
    element.lastIndex = at;
    const m = element.exec(value);
    if (!m) return undefined;
    out.push(m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2]);
    at = element.lastIndex;
    if (m[3] === "") break;
  }
  return at === value.length && out.length > 0 ? out : undefined;
}

async function storedSetting(client: pg.Client, role: string, dbOid: string, name: string): Promise<string | undefined> {
  const { rows } = await client.query<{ setconfig: string[] | null }>(
    `SELECT s.setconfig FROM pg_catalog.pg_db_role_setting s
       JOIN pg_catalog.pg_roles r ON r.oid = s.setrole
      WHERE r.rolname = $1 AND s.setdatabase = $2::oid`,
    [role, dbOid],
  );
  const prefix = `${name}=`;
  const entry = rows[0]?.setconfig?.find((e) => e.startsWith(prefix));
  return entry?.slice(prefix.length);
}
