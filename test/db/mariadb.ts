/**
 * Test databases and users in the machine's MariaDB (or MySQL).
 *
 * openMariadb() logs in as root: COFFER_TEST_MARIADB_URL
 * (mysql://user:password@host:port) if set, else root with an empty password
 * over TCP at 127.0.0.1:3306, else root over the local socket. Everything a
 * fixture creates carries its own random prefix, and drop() removes it all,
 * including users created by the code under test (`<user>_clone`).
 *
 * Which account a TCP connection from 127.0.0.1 matches depends on
 * skip_name_resolve: ON (this machine) -> 'u'@'%' (or 'u'@'127.0.0.1');
 * OFF -> the address resolves to localhost, and 'u'@'localhost' wins over
 * 'u'@'%'. Test users are therefore created for both '%' and 'localhost', with
 * the same password and grants, so they log in over TCP either way (and over
 * the socket); `tcpAccountHost` says which of the two TCP logins use.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import mysql from "mysql2/promise";

export const USER_HOSTS = ["%", "localhost"] as const;

export interface MariadbFixture {
  /** For clients: where to connect over TCP. */
  host: string;
  port: number;
  /** A database only this fixture uses. */
  database: string;
  /** Prefix of every user name this fixture creates. */
  prefix: string;
  /** The account host TCP logins from 127.0.0.1 match ('%' or 'localhost'). */
  tcpAccountHost: string;
  version: string;
  /** The admin connection (root). */
  admin: mysql.Connection;
  /** Creates `name` for every host in USER_HOSTS with `password`; `grants` are privileges ON database.* (e.g. "SELECT"). */
  createUser(name: string, password: string, grants?: string): Promise<void>;
  /** A master user like RDS's: may create users and grant anything, with a password. */
  createMaster(name: string, password: string): Promise<void>;
  drop(): Promise<void>;
}

interface RootTarget {
  options: mysql.ConnectionOptions;
  host: string;
  port: number;
}

const SOCKETS = ["/run/mysqld/mysqld.sock", "/var/run/mysqld/mysqld.sock", "/tmp/mysql.sock"];

function rootTargets(): RootTarget[] {
  const url = process.env.COFFER_TEST_MARIADB_URL;
  if (url) {
    const u = new URL(url);
    const port = Number(u.port || 3306);
    return [
      {
        host: u.hostname,
        port,
        options: { host: u.hostname, port, user: decodeURIComponent(u.username || "root"), password: decodeURIComponent(u.password) },
      },
    ];
  }
  const targets: RootTarget[] = [{ host: "127.0.0.1", port: 3306, options: { host: "127.0.0.1", port: 3306, user: "root", password: "" } }];
  for (const socketPath of SOCKETS) {
    if (existsSync(socketPath)) targets.push({ host: "127.0.0.1", port: 3306, options: { socketPath, user: "root" } });
  }
  return targets;
}

/** Logs in as root, or explains why that is not possible. */
export async function openMariadb(): Promise<{ conn: mysql.Connection; target: RootTarget }> {
  const reasons: string[] = [];
  for (const target of rootTargets()) {
    try {
      const conn = await mysql.createConnection({ ...target.options, connectTimeout: 3_000 });
      conn.on("error", () => {});
      return { conn, target };
    } catch (err) {
      const where = target.options.socketPath ?? `${target.options.host}:${target.options.port}`;
      reasons.push(`${where}: ${(err as Error).message}`);
    }
  }
  throw new Error(`cannot log in to MariaDB/MySQL as root (${reasons.join("; ")})`);
}

/** Why the fixture can't be used here, or undefined. */
export async function mariadbUnavailableReason(): Promise<string | undefined> {
  try {
    const { conn } = await openMariadb();
    await conn.end();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

export async function createMariadbFixture(): Promise<MariadbFixture> {
  const { conn: admin, target } = await openMariadb();
  const id = randomBytes(4).toString("hex");
  const prefix = `ct${id}_`;
  const database = `coffer_test_${id}`;
  await admin.query(`CREATE DATABASE ${mysql.escapeId(database)}`);
  const [versionRows] = await admin.query<mysql.RowDataPacket[]>("SELECT VERSION() AS v, @@skip_name_resolve AS snr");
  const version = String(versionRows[0].v);
  const tcpAccountHost = Number(versionRows[0].snr) === 1 ? "%" : "localhost";

  const createUser = async (name: string, password: string, grants?: string): Promise<void> => {
    if (!name.startsWith(prefix)) throw new Error(`test user ${name} must start with ${prefix}`);
    for (const host of USER_HOSTS) {
      await admin.query("CREATE USER ?@? IDENTIFIED BY ?", [name, host, password]);
      if (grants) await admin.query(`GRANT ${grants} ON ${mysql.escapeId(database)}.* TO ?@?`, [name, host]);
    }
  };

  return {
    host: target.host,
    port: target.port,
    database,
    prefix,
    tcpAccountHost,
    version,
    admin,
    createUser,
    async createMaster(name, password) {
      await createUser(name, password);
      for (const host of USER_HOSTS) await admin.query("GRANT ALL PRIVILEGES ON *.* TO ?@? WITH GRANT OPTION", [name, host]);
    },
    async drop() {
      try {
        const [users] = await admin.query<mysql.RowDataPacket[]>("SELECT User AS u, Host AS h FROM mysql.user WHERE User LIKE ?", [`${prefix.replace(/[_%\\]/g, (c) => `\\${c}`)}%`]);
        for (const row of users) await admin.query("DROP USER IF EXISTS ?@?", [row.u, row.h]);
        await admin.query(`DROP DATABASE IF EXISTS ${mysql.escapeId(database)}`);
      } finally {
        await admin.end().catch(() => admin.destroy());
      }
    },
  };
}
