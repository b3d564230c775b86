/**
 * MySQL and MariaDB rotators, after SecretsManagerRDSMySQLRotationSingleUser /
 * ...MultiUser and the MariaDB equivalents. The steps themselves are in
 * db-rotator.ts; this file is how to talk to MySQL and MariaDB.
 *
 * API: `createMysqlRotators(options?)` returns `{ singleUser(), alternatingUsers() }`,
 * each a Rotator for secrets with `"engine": "mysql"` or `"mariadb"` (see
 * db-secret.ts for the JSON). `mysqlDriver(options?)` is the DbDriver underneath.
 *
 * An account is user@host, and one user name may exist for several hosts
 * ('%' for TCP, 'localhost' for the socket, ...). Both strategies change the
 * password of every host the user is defined for when they can see and may
 * change them:
 * - Single user: logged in as the user. If it can read mysql.user and has
 *   the right to, ALTER USER 'u'@'h1' IDENTIFIED BY ?, 'u'@'h2' ...; an
 *   ordinary user may change only the account it logged in as, so otherwise
 *   SET PASSWORD = PASSWORD(?) (MariaDB, MySQL 5.x) or = ? (MySQL 8), which is
 *   what the templates do.
 * - Alternating users: logged in as the master. For each host of `<user>`,
 *   `<user>_clone`@host is created when missing, SHOW GRANTS FOR `<user>`@host
 *   is replayed for the clone (grants only, never the password clause) and
 *   its TLS requirement (REQUIRE ...) copied; then ALTER USER ... IDENTIFIED
 *   BY ? for every host of the pending user.
 *
 * Values go as `?` placeholders, escaped by mysql2; identifiers through
 * escapeId. Replayed grants are the server's own SHOW GRANTS text.
 */
import mysql from "mysql2/promise";
import { CofferError } from "../../../shared/errors.ts";
import { connectHonouringSsl, createDbRotators, type DbDriver, type DbRotators, type DbSession } from "./db-rotator.ts";
import type { DbEngine, DbSecret } from "./db-secret.ts";

export interface MysqlRotatorOptions {
  /** How long a connection attempt may take; default 5000 ms, as the templates. */
  connectTimeoutMs?: number;
}

export interface MysqlSession extends DbSession {
  readonly conn: mysql.Connection;
}

/** MySQL 5.7+: 32 characters; MariaDB: 80. */
const MAX_USER_LENGTH: Record<DbEngine, number> = { postgres: 63, mysql: 32, mariadb: 80 };

/** Error numbers for "you may not": database, table, column, specific privilege. */
const ACCESS_DENIED = new Set([1044, 1142, 1143, 1227]);

export function createMysqlRotators(options: MysqlRotatorOptions = {}): DbRotators {
  return createDbRotators(mysqlDriver(options));
}

export function mysqlDriver(options: MysqlRotatorOptions = {}): DbDriver<MysqlSession> {
  const connectTimeout = options.connectTimeoutMs ?? 5_000;

  return {
    engines: ["mysql", "mariadb"],
    maxUsernameLength: (engine) => ({ max: MAX_USER_LENGTH[engine], bytes: false }),

    connect(secret: DbSecret): Promise<MysqlSession> {
      return connectHonouringSsl(
        secret,
        async (tls) => {
          const conn = await mysql.createConnection({
            host: secret.host,
            port: secret.port,
            user: secret.username,
            password: secret.password,
            database: secret.dbname,
            connectTimeout,
            ssl: tls ? { rejectUnauthorized: true } : undefined,
            multipleStatements: false,
          });
          // A session whose server goes away emits "error"; unhandled, that would end the process.
          conn.on("error", () => {});
          return {
            conn,
            close: async () => {
              await conn.end().catch(() => conn.destroy());
            },
          };
        },
        isTlsFailure,
      );
    },

    async setOwnPassword(session, user) {
      const { conn } = session;
      const [rows] = await conn.query<mysql.RowDataPacket[]>("SELECT CURRENT_USER() AS cu");
      const self = String(rows[0]?.cu ?? "");
      const selfHost = self.slice(self.lastIndexOf("@") + 1);
      const hosts = await hostsOf(conn, user.username).catch((err: unknown) => {
        if (isAccessDenied(err)) return undefined; // an ordinary user cannot read mysql.user
        throw err;
      });
      if (hosts && hosts.some((h) => h !== selfHost)) {
        try {
          await alterPasswords(conn, user.username, hosts, user.password);
          return;
        } catch (err) {
          if (!isAccessDenied(err)) throw err;
        }
      }
      const [versionRows] = await conn.query<mysql.RowDataPacket[]>("SELECT VERSION() AS v");
      const version = String(versionRows[0]?.v ?? "");
      const hashed = /mariadb/i.test(version) || /^5\./.test(version);
      await conn.query(hashed ? "SET PASSWORD = PASSWORD(?)" : "SET PASSWORD = ?", [user.password]);
    },

    async setUserPassword(session, base, pending) {
      const { conn } = session;
      const baseHosts = await hostsOf(conn, base);
      if (baseHosts.length === 0) throw new CofferError("InvalidRequest", `setSecret failed: user "${base}" does not exist.`);
      if (pending.username !== base) {
        const cloneHosts = new Set(await hostsOf(conn, pending.username));
        for (const host of baseHosts) {
          if (!cloneHosts.has(host)) {
            await conn.query("CREATE USER ?@? IDENTIFIED BY ?", [pending.username, host, pending.password]);
          }
          await copyGrants(conn, base, pending.username, host);
          await copyTlsRequirement(conn, base, pending.username, host);
        }
      }
      await alterPasswords(conn, pending.username, await hostsOf(conn, pending.username), pending.password);
    },

    async test(session, pending) {
      const { conn } = session;
      await conn.query("SELECT 1");
      const [rows] = await conn.query<mysql.RowDataPacket[]>("SELECT CURRENT_USER() AS cu");
      const self = String(rows[0]?.cu ?? "");
      const user = self.slice(0, self.lastIndexOf("@"));
      if (user !== pending.username) {
        throw new CofferError("InvalidRequest", `testSecret failed: logged in as "${user}", not "${pending.username}".`);
      }
    },
  };
}

function isTlsFailure(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if ((err as { sqlMessage?: unknown }).sqlMessage !== undefined) return false; // the server answered: not a TLS problem
  const code = String((err as { code?: unknown }).code ?? "");
  return code === "HANDSHAKE_NO_SSL_SUPPORT" || /\b(SSL|TLS)\b|secure connection|certificate/i.test(err.message) || /CERT|TLS|SSL|SELF_SIGNED|UNABLE_TO_/.test(code);
}

function isAccessDenied(err: unknown): boolean {
  const errno = (err as { errno?: unknown } | null)?.errno;
  return typeof errno === "number" && ACCESS_DENIED.has(errno);
}

async function hostsOf(conn: mysql.Connection, user: string): Promise<string[]> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>("SELECT Host AS host FROM mysql.user WHERE User = ? ORDER BY Host", [user]);
  return rows.map((r) => String(r.host));
}

/** One statement for all hosts, so the accounts of one user never disagree. */
async function alterPasswords(conn: mysql.Connection, user: string, hosts: string[], password: string): Promise<void> {
  if (hosts.length === 0) throw new CofferError("InvalidRequest", `setSecret failed: user "${user}" does not exist.`);
  const specs = hosts.map(() => "?@? IDENTIFIED BY ?").join(", ");
  await conn.query(`ALTER USER ${specs}`, hosts.flatMap((host) => [user, host, password]));
}

/** Replays SHOW GRANTS FOR base@host for clone@host. */
async function copyGrants(conn: mysql.Connection, base: string, clone: string, host: string): Promise<void> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>({ sql: "SHOW GRANTS FOR ?@?", rowsAsArray: true }, [base, host]);
  const target = `${mysql.escape(clone)}@${mysql.escape(host)}`;
  for (const row of rows as unknown as unknown[][]) {
    const statement = rewriteGrant(String(row[0]), base, host, target);
    if (statement === undefined) {
      throw new CofferError("InvalidRequest", `setSecret failed: a grant of "${base}"@"${host}" has a form Coffer cannot copy to "${clone}".`);
    }
    await conn.query(statement);
  }
}

/**
 * `GRANT <privileges> ON <object> TO <base@host> [IDENTIFIED BY PASSWORD '...'] [REQUIRE ...] [WITH GRANT OPTION ...]`
 * becomes `GRANT <privileges> ON <object> TO <target> [WITH GRANT OPTION]`; MariaDB's
 * `SET DEFAULT ROLE r FOR <base@host>` becomes `... FOR <target>`. The
 * grantee is found by its exact quoted spelling (backticks: MariaDB, MySQL 8;
 * quotes: MySQL 5.7), so names containing " TO " cannot mislead. Password
 * clauses are dropped, resource limits too (not privileges).
 */
export function rewriteGrant(statement: string, base: string, host: string, target: string): string | undefined {
  const spellings = [
    `${mysql.escapeId(base)}@${mysql.escapeId(host)}`,
    `'${base.replace(/'/g, "\\'")}'@'${host.replace(/'/g, "\\'")}'`,
  ];
  for (const grantee of spellings) {
    if (statement.startsWith("SET DEFAULT ROLE ")) {
      const at = statement.lastIndexOf(` FOR ${grantee}`);
      if (at !== -1 && at + ` FOR ${grantee}`.length === statement.length) return `${statement.slice(0, at)} FOR ${target}`;
      continue;
    }
    if (!statement.startsWith("GRANT ")) continue;
    const marker = ` TO ${grantee}`;
    const at = statement.lastIndexOf(marker);
    if (at === -1) continue;
    const tail = statement.slice(at + marker.length);
    if (tail !== "" && !tail.startsWith(" ")) continue;
    const options = [/\bWITH GRANT OPTION\b/.test(tail) ? " WITH GRANT OPTION" : "", /\bWITH ADMIN OPTION\b/.test(tail) ? " WITH ADMIN OPTION" : ""].join("");
    return `${statement.slice(0, at)} TO ${target}${options}`;
  }
  return undefined;
}

/** REQUIRE NONE | SSL | X509 | CIPHER/ISSUER/SUBJECT, as base@host has it. */
async function copyTlsRequirement(conn: mysql.Connection, base: string, clone: string, host: string): Promise<void> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    "SELECT ssl_type, ssl_cipher, x509_issuer, x509_subject FROM mysql.user WHERE User = ? AND Host = ?",
    [base, host],
  );
  const row = rows[0];
  if (!row) return;
  const text = (v: unknown): string => (Buffer.isBuffer(v) ? v.toString("utf8") : v == null ? "" : String(v));
  const type = text(row.ssl_type).toUpperCase();
  if (type === "" || type === "NONE") {
    await conn.query("ALTER USER ?@? REQUIRE NONE", [clone, host]);
  } else if (type === "ANY") {
    await conn.query("ALTER USER ?@? REQUIRE SSL", [clone, host]);
  } else if (type === "X509") {
    await conn.query("ALTER USER ?@? REQUIRE X509", [clone, host]);
  } else {
    const parts: string[] = [];
    const values: string[] = [clone, host];
    for (const [clause, value] of [["CIPHER", text(row.ssl_cipher)], ["ISSUER", text(row.x509_issuer)], ["SUBJECT", text(row.x509_subject)]] as const) {
      if (value === "") continue;
      parts.push(`${clause} ?`);
      values.push(value);
    }
    await conn.query(`ALTER USER ?@? REQUIRE ${parts.length > 0 ? parts.join(" AND ") : "SSL"}`, values);
  }
}
