/**
 * The built-in database rotators against real servers: a throwaway
 * PostgreSQL cluster with password authentication (pg-cluster.ts) and the
 * machine's MariaDB (mariadb.ts). The Secrets Manager side is an in-memory
 * RotationSecrets that moves stages as AWS does.
 *
 * A missing database skips its tests with a warning, unless
 * COFFER_REQUIRE_DATABASES=1 (CI), where they fail instead.
 */
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { inspect } from "node:util";
import mysql from "mysql2/promise";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomPassword } from "../../src/crypto/password.ts";
import { CofferError } from "../../src/shared/errors.ts";
import { ROTATION_STEPS, type RotationSecrets, type RotationStep, type Rotator } from "../../src/services/rotation/rotation-types.ts";
import type { DbRotators } from "../../src/services/rotation/rotators/db-rotator.ts";
import { DB_PASSWORD_EXCLUDE_CHARACTERS, parseDbSecret, scrubSecrets } from "../../src/services/rotation/rotators/db-secret.ts";
import { createMysqlRotators, rewriteGrant } from "../../src/services/rotation/rotators/mysql.ts";
import { createPostgresRotators } from "../../src/services/rotation/rotators/postgres.ts";
import { createMariadbFixture, mariadbUnavailableReason, USER_HOSTS } from "./mariadb.ts";
import { pgClusterUnavailableReason, startPgCluster } from "./pg-cluster.ts";

// ---------------------------------------------------------------------------
// An in-memory Secrets Manager, as far as rotation sees it

interface Version {
  text?: string;
  stages: Set<string>;
}

class MemorySecrets implements RotationSecrets {
  private readonly store = new Map<string, Map<string, Version>>();

  seed(secretId: string, value: Record<string, unknown>): string {
    const versionId = randomUUID();
    this.store.set(secretId, new Map([[versionId, { text: JSON.stringify(value), stages: new Set(["AWSCURRENT"]) }]]));
    return versionId;
  }

  /** What Secrets Manager does before calling the rotator: a version labelled AWSPENDING with no value yet. */
  beginRotation(secretId: string, token: string): void {
    const versions = this.versions(secretId);
    for (const v of versions.values()) v.stages.delete("AWSPENDING");
    versions.set(token, { stages: new Set(["AWSPENDING"]) });
  }

  stagesOf(secretId: string, versionId: string): string[] {
    return [...(this.versions(secretId).get(versionId)?.stages ?? [])].sort();
  }

  json(secretId: string, stage: string): Record<string, string> {
    const version = [...this.versions(secretId).values()].find((v) => v.stages.has(stage));
    if (!version?.text) throw new Error(`no ${stage} value`);
    return JSON.parse(version.text) as Record<string, string>;
  }

  currentVersionId(secretId: string): string | undefined {
    return [...this.versions(secretId)].find(([, v]) => v.stages.has("AWSCURRENT"))?.[0];
  }

  async describe(secretId: string) {
    const versionStages: Record<string, string[]> = {};
    for (const [id, v] of this.versions(secretId)) if (v.stages.size > 0) versionStages[id] = [...v.stages];
    return { arn: secretId, versionStages };
  }

  async getValue(secretId: string, which: { versionId?: string; versionStage?: string }) {
    const versions = this.versions(secretId);
    const stage = which.versionStage ?? (which.versionId ? undefined : "AWSCURRENT");
    let found: [string, Version] | undefined;
    if (which.versionId) {
      const v = versions.get(which.versionId);
      if (v && (stage === undefined || v.stages.has(stage))) found = [which.versionId, v];
    } else {
      found = [...versions].find(([, v]) => v.stages.has(stage as string));
    }
    if (!found || found[1].text === undefined) throw new CofferError("NotFound", "Secrets Manager can't find the specified secret value.");
    return { versionId: found[0], text: found[1].text, stages: [...found[1].stages] };
  }

  async putPending(secretId: string, token: string, text: string): Promise<void> {
    const versions = this.versions(secretId);
    const existing = versions.get(token);
    if (existing?.text !== undefined && existing.text !== text) {
      throw new CofferError("AlreadyExists", "A version with this ClientRequestToken already exists with a different value.");
    }
    for (const v of versions.values()) v.stages.delete("AWSPENDING");
    versions.set(token, { text, stages: new Set([...(existing?.stages ?? []), "AWSPENDING"]) });
  }

  /** As AWS: AWSCURRENT moves; AWSPREVIOUS goes to the version AWSCURRENT left. */
  async moveCurrent(secretId: string, to: string, from: string): Promise<void> {
    const versions = this.versions(secretId);
    const source = versions.get(from);
    const target = versions.get(to);
    if (!source?.stages.has("AWSCURRENT") || !target) throw new CofferError("InvalidParameter", "bad moveCurrent");
    for (const v of versions.values()) v.stages.delete("AWSPREVIOUS");
    source.stages.delete("AWSCURRENT");
    source.stages.add("AWSPREVIOUS");
    target.stages.add("AWSCURRENT");
  }

  async randomPassword(options: { length?: number; excludeCharacters?: string; excludePunctuation?: boolean }): Promise<string> {
    return randomPassword(options);
  }

  private versions(secretId: string): Map<string, Version> {
    const versions = this.store.get(secretId);
    if (!versions) throw new CofferError("NotFound", "Secrets Manager can't find the specified secret.");
    return versions;
  }
}

const SECRET = "arn:aws:secretsmanager:us-east-1:000000000000:secret:app-db";
const MASTER = "arn:aws:secretsmanager:us-east-1:000000000000:secret:master-db";

function pw(): string {
  return randomPassword({ length: 24, excludeCharacters: DB_PASSWORD_EXCLUDE_CHARACTERS });
}

async function runStep(rotator: Rotator, secrets: MemorySecrets, token: string, step: RotationStep, secretId = SECRET): Promise<void> {
  await rotator.step({ Step: step, SecretId: secretId, ClientRequestToken: token }, secrets);
}

/** One whole rotation as Secrets Manager drives it; with `twice`, every step runs twice in a row. */
async function rotate(rotator: Rotator, secrets: MemorySecrets, opts: { twice?: boolean } = {}): Promise<{ token: string; ms: number }> {
  const token = randomUUID();
  secrets.beginRotation(SECRET, token);
  const started = performance.now();
  for (const step of ROTATION_STEPS) {
    await runStep(rotator, secrets, token, step);
    if (opts.twice) await runStep(rotator, secrets, token, step);
  }
  return { token, ms: performance.now() - started };
}

async function rejection(promise: Promise<unknown>): Promise<CofferError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(CofferError);
    return err as CofferError;
  }
  throw new Error("expected a rejection");
}

function expectNoSecrets(err: unknown, passwords: string[]): void {
  const text = `${(err as Error).message}\n${inspect(err, { depth: 10 })}`;
  for (const p of passwords) {
    expect(text).not.toContain(p);
    expect(text).not.toContain(p.slice(2, 14));
  }
}

// ---------------------------------------------------------------------------
// Engines under test

interface Session {
  count(): Promise<number>;
  close(): Promise<void>;
}

interface Engine {
  rotators: DbRotators;
  /** The secret JSON for a user (port as a string for PostgreSQL, as some RDS secrets have it). */
  secret(user: string, password: string, extra?: Record<string, unknown>): Record<string, unknown>;
  /** A new user allowed to read the table `items` (3 rows). */
  newUser(tag: string, password: string): Promise<string>;
  /** A user without privileges, as a crashed setSecret may leave a clone. */
  newBareUser(name: string, password: string): Promise<void>;
  /** A master user that may create users and grant privileges; returns its secret JSON. */
  newMaster(password: string): Promise<Record<string, unknown>>;
  setPassword(user: string, password: string): Promise<void>;
  canLogin(user: string, password: string): Promise<boolean>;
  /** Every account of the user (MariaDB: also 'user'@'localhost' through the socket). */
  canLoginEverywhere(user: string, password: string): Promise<boolean>;
  open(user: string, password: string): Promise<Session>;
  stop(): Promise<void>;
}

async function postgresEngine(): Promise<Engine & { admin: pg.Client }> {
  const cluster = await startPgCluster();
  const connect = async (user: string, password: string, database = "app") => {
    const client = new pg.Client({ host: cluster.host, port: cluster.port, user, password, database, connectionTimeoutMillis: 5_000 });
    client.on("error", () => {});
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
    return client;
  };
  const root = await connect(cluster.superuser.user, cluster.superuser.password, "postgres");
  await root.query("CREATE DATABASE app");
  await root.end();
  const admin = await connect(cluster.superuser.user, cluster.superuser.password);
  await admin.query("CREATE TABLE items (id int); INSERT INTO items VALUES (1), (2), (3)");
  let n = 0;
  const canLogin = async (user: string, password: string) => {
    try {
      await (await connect(user, password)).end();
      return true;
    } catch (err) {
      if ((err as { code?: string }).code === "28P01") return false;
      throw err;
    }
  };
  return {
    admin,
    rotators: createPostgresRotators(),
    secret: (user, password, extra = {}) => ({ engine: "postgres", host: cluster.host, port: String(cluster.port), username: user, password, dbname: "app", ...extra }),
    async newUser(tag, password) {
      const name = `${tag}_${++n}`;
      await admin.query(`CREATE ROLE ${pg.escapeIdentifier(name)} LOGIN PASSWORD ${pg.escapeLiteral(password)}`);
      await admin.query(`GRANT SELECT ON items TO ${pg.escapeIdentifier(name)}`);
      return name;
    },
    async newBareUser(name, password) {
      await admin.query(`CREATE ROLE ${pg.escapeIdentifier(name)} LOGIN PASSWORD ${pg.escapeLiteral(password)}`);
    },
    async newMaster(password) {
      const name = `master_${++n}`;
      await admin.query(`CREATE ROLE ${pg.escapeIdentifier(name)} LOGIN CREATEROLE PASSWORD ${pg.escapeLiteral(password)}`);
      return { engine: "postgres", host: cluster.host, port: cluster.port, username: name, password };
    },
    async setPassword(user, password) {
      await admin.query(`ALTER ROLE ${pg.escapeIdentifier(user)} PASSWORD ${pg.escapeLiteral(password)}`);
    },
    canLogin,
    canLoginEverywhere: canLogin,
    async open(user, password) {
      const client = await connect(user, password);
      return {
        count: async () => (await client.query<{ n: number }>("SELECT count(*)::int AS n FROM items")).rows[0].n,
        close: () => client.end(),
      };
    },
    async stop() {
      await admin.end().catch(() => {});
      await cluster.stop();
    },
  };
}

async function mariadbEngine(): Promise<Engine> {
  const fx = await createMariadbFixture();
  const items = `${mysql.escapeId(fx.database)}.items`;
  await fx.admin.query(`CREATE TABLE ${items} (id int)`);
  await fx.admin.query(`INSERT INTO ${items} VALUES (1), (2), (3)`);
  const socketPath = ["/run/mysqld/mysqld.sock", "/var/run/mysqld/mysqld.sock"].find((p) => existsSync(p));
  let n = 0;
  const tryLogin = async (options: mysql.ConnectionOptions) => {
    try {
      await (await mysql.createConnection({ ...options, connectTimeout: 5_000 })).end();
      return true;
    } catch (err) {
      if ((err as { errno?: number }).errno === 1045) return false;
      throw err;
    }
  };
  const canLogin = (user: string, password: string) => tryLogin({ host: fx.host, port: fx.port, user, password });
  return {
    rotators: createMysqlRotators(),
    secret: (user, password, extra = {}) => ({ engine: "mariadb", host: fx.host, port: fx.port, username: user, password, dbname: fx.database, ...extra }),
    async newUser(tag, password) {
      const name = `${fx.prefix}${tag}${++n}`;
      await fx.createUser(name, password);
      for (const host of USER_HOSTS) await fx.admin.query(`GRANT SELECT ON ${items} TO ?@?`, [name, host]);
      return name;
    },
    newBareUser: (name, password) => fx.createUser(name, password),
    async newMaster(password) {
      const name = `${fx.prefix}master${++n}`;
      await fx.createMaster(name, password);
      return { engine: "mariadb", host: fx.host, port: fx.port, username: name, password };
    },
    async setPassword(user, password) {
      for (const host of USER_HOSTS) await fx.admin.query("ALTER USER ?@? IDENTIFIED BY ?", [user, host, password]);
    },
    canLogin,
    async canLoginEverywhere(user, password) {
      const tcp = await canLogin(user, password);
      const socket = socketPath ? await tryLogin({ socketPath, user, password }) : tcp;
      return tcp && socket;
    },
    async open(user, password) {
      const conn = await mysql.createConnection({ host: fx.host, port: fx.port, user, password, database: fx.database });
      return {
        count: async () => {
          const [rows] = await conn.query<mysql.RowDataPacket[]>("SELECT count(*) AS n FROM items");
          return Number(rows[0].n);
        },
        close: () => conn.end(),
      };
    },
    stop: () => fx.drop(),
  };
}

/** Which databases the tests can use here; a reason for each that is missing. */
async function databasesAvailable(): Promise<{ postgres?: string; mariadb?: string }> {
  return { postgres: pgClusterUnavailableReason(), mariadb: await mariadbUnavailableReason() };
}

const REQUIRED = process.env.COFFER_REQUIRE_DATABASES === "1";
const missing = await databasesAvailable();
const timings: string[] = [];

afterAll(() => {
  if (timings.length > 0) console.log(`rotation timings:\n  ${timings.join("\n  ")}`);
});

// ---------------------------------------------------------------------------
// Without a database

describe("db-secret", () => {
  it("parses an RDS secret with defaults", () => {
    const s = parseDbSecret(JSON.stringify({ engine: "postgres", host: "db", username: "app", password: "p", extra: 1 }), "The secret", ["postgres"]);
    expect(s).toMatchObject({ engine: "postgres", host: "db", port: 5432, username: "app", password: "p", dbname: "postgres", ssl: undefined, masterarn: undefined });
    expect(s.fields.extra).toBe(1);
    const m = parseDbSecret(JSON.stringify({ engine: "mariadb", host: "db", port: "3307", username: "app", password: "p", ssl: "FALSE" }), "x", ["mysql", "mariadb"]);
    expect(m).toMatchObject({ port: 3307, dbname: undefined, ssl: false });
  });

  it("names the field at fault and never echoes the value", () => {
    const secret = "Sup3r-Secret-Value-42";
    const cases: Array<[Record<string, unknown> | string, RegExp]> = [
      [{ host: "h", username: "u", password: secret }, /no "engine"/],
      [{ engine: "oracle", host: "h", username: "u", password: secret }, /"engine" "oracle"; this rotator handles postgres/],
      [{ engine: "postgres", username: "u", password: secret }, /no "host"/],
      [{ engine: "postgres", host: "h", password: secret }, /no "username"/],
      [{ engine: "postgres", host: "h", username: "u" }, /no "password"/],
      [{ engine: "postgres", host: "h", username: "u", password: secret, port: "54x" }, /"port"/],
      [`{"engine":"postgres","password":"${secret}"`, /not valid JSON/],
    ];
    for (const [value, message] of cases) {
      const text = typeof value === "string" ? value : JSON.stringify(value);
      let err: unknown;
      try {
        parseDbSecret(text, "The AWSCURRENT version", ["postgres"]);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CofferError);
      expect((err as CofferError).code).toBe("InvalidParameter");
      expect((err as CofferError).message).toMatch(message);
      expect((err as CofferError).message).not.toContain(secret);
    }
  });

  it("scrubs passwords, their escaped forms and fragments of them from messages", () => {
    const p = "ab'cd\\ef-ghij-KLMN";
    expect(scrubSecrets(`x ${p} y`, [p])).toBe("x *** y");
    expect(scrubSecrets(`x 'ab''cd\\\\ef-ghij-KLMN' y`, [p])).toBe("x '***' y");
    expect(scrubSecrets("near 'ef-ghij-KL' at line 1", [p])).toBe("near '***' at line 1");
    expect(scrubSecrets("nothing here", [p, ""])).toBe("nothing here");
  });

  it("copies MariaDB and MySQL grants to the clone without password clauses", () => {
    const target = "'app_clone'@'%'";
    expect(rewriteGrant("GRANT USAGE ON *.* TO `app`@`%` IDENTIFIED BY PASSWORD '*4949E56A688646BBE5C8E6A7AE7F225AEB01564F'", "app", "%", target)).toBe(
      "GRANT USAGE ON *.* TO 'app_clone'@'%'",
    );
    expect(rewriteGrant("GRANT SELECT, INSERT ON `d`.`t` TO `app`@`%` WITH GRANT OPTION", "app", "%", target)).toBe(
      "GRANT SELECT, INSERT ON `d`.`t` TO 'app_clone'@'%' WITH GRANT OPTION",
    );
    expect(rewriteGrant("GRANT SELECT ON `x TO y`.* TO 'app'@'%'", "app", "%", target)).toBe("GRANT SELECT ON `x TO y`.* TO 'app_clone'@'%'");
    expect(rewriteGrant("SET DEFAULT ROLE `r` FOR `app`@`%`", "app", "%", target)).toBe("SET DEFAULT ROLE `r` FOR 'app_clone'@'%'");
    expect(rewriteGrant("GRANT SELECT ON *.* TO `other`@`%`", "app", "%", target)).toBeUndefined();
  });

  it("createSecret: alternating users toggles the user name, keeps other keys, and is idempotent", async () => {
    const secrets = new MemorySecrets();
    const rotator = createPostgresRotators().alternatingUsers();
    secrets.seed(SECRET, { engine: "postgres", host: "db", username: "app", password: "old", masterarn: MASTER, note: "kept" });
    const token = randomUUID();
    secrets.beginRotation(SECRET, token);
    await runStep(rotator, secrets, token, "createSecret");
    const pending = secrets.json(SECRET, "AWSPENDING");
    await runStep(rotator, secrets, token, "createSecret");
    expect(secrets.json(SECRET, "AWSPENDING")).toEqual(pending);
    expect(pending).toMatchObject({ username: "app_clone", masterarn: MASTER, note: "kept" });
    expect(pending.password).toHaveLength(32);
    expect([...pending.password].some((c) => DB_PASSWORD_EXCLUDE_CHARACTERS.includes(c))).toBe(false);

    const missingMaster = new MemorySecrets();
    missingMaster.seed(SECRET, { engine: "postgres", host: "db", username: "app", password: "old" });
    missingMaster.beginRotation(SECRET, token);
    expect((await rejection(runStep(rotator, missingMaster, token, "createSecret"))).message).toMatch(/"masterarn"/);
  });

  it("refuses a token that is not AWSPENDING and does nothing once it is AWSCURRENT", async () => {
    const secrets = new MemorySecrets();
    const rotator = createMysqlRotators().singleUser();
    const v0 = secrets.seed(SECRET, { engine: "mysql", host: "db", username: "app", password: "old" });
    expect((await rejection(runStep(rotator, secrets, randomUUID(), "createSecret"))).code).toBe("InvalidRequest");
    for (const step of ROTATION_STEPS) await runStep(rotator, secrets, v0, step); // already current: no database touched
  });
});

// ---------------------------------------------------------------------------
// Against each database

function engineSuite(label: string, reason: string | undefined, makeEngine: () => Promise<Engine>, extra?: (get: () => Engine) => void): void {
  if (reason && !REQUIRED) {
    console.warn(`Skipping the ${label} rotator tests: ${reason}. Set COFFER_REQUIRE_DATABASES=1 to make this a failure.`);
    describe.skip(`${label} rotators`, () => {
      it("needs the database", () => {});
    });
    return;
  }

  describe(`${label} rotators`, () => {
    let engine: Engine;
    beforeAll(async () => {
      if (reason) throw new Error(`${label} is required (COFFER_REQUIRE_DATABASES=1) but not available: ${reason}`);
      engine = await makeEngine();
    });
    afterAll(async () => {
      await engine?.stop();
    });

    it("single user: the new password logs in, the old one does not; every step twice is harmless", async () => {
      const secrets = new MemorySecrets();
      const oldPassword = pw();
      const user = await engine.newUser("single", oldPassword);
      const v0 = secrets.seed(SECRET, engine.secret(user, oldPassword));

      const { token, ms } = await rotate(engine.rotators.singleUser(), secrets, { twice: true });
      timings.push(`${label} single user, each step twice: ${ms.toFixed(0)} ms`);

      const current = secrets.json(SECRET, "AWSCURRENT");
      expect(current.username).toBe(user);
      expect(current.password).not.toBe(oldPassword);
      expect(secrets.currentVersionId(SECRET)).toBe(token);
      expect(secrets.stagesOf(SECRET, v0)).toEqual(["AWSPREVIOUS"]);
      expect(await engine.canLogin(user, current.password)).toBe(true);
      expect(await engine.canLogin(user, oldPassword)).toBe(false);

      const again = await rotate(engine.rotators.singleUser(), secrets);
      timings.push(`${label} single user: ${again.ms.toFixed(0)} ms`);
      const next = secrets.json(SECRET, "AWSCURRENT");
      expect(await engine.canLogin(user, next.password)).toBe(true);
      expect(await engine.canLogin(user, current.password)).toBe(false);
      expect(secrets.stagesOf(SECRET, token)).toEqual(["AWSPREVIOUS"]);
    });

    it("single user: setSecret logs in with AWSPREVIOUS when the current password no longer works", async () => {
      const secrets = new MemorySecrets();
      const firstPassword = pw();
      const user = await engine.newUser("prev", firstPassword);
      secrets.seed(SECRET, engine.secret(user, firstPassword));
      const rotator = engine.rotators.singleUser();
      await rotate(rotator, secrets);
      await engine.setPassword(user, firstPassword); // someone put the old password back

      await rotate(rotator, secrets);
      const current = secrets.json(SECRET, "AWSCURRENT");
      expect(await engine.canLogin(user, current.password)).toBe(true);
      expect(await engine.canLogin(user, firstPassword)).toBe(false);
    });

    it("single user: a failed setSecret leaves AWSCURRENT and the old password alone", async () => {
      const secrets = new MemorySecrets();
      const oldPassword = pw();
      const user = await engine.newUser("fail", oldPassword);
      const v0 = secrets.seed(SECRET, engine.secret(user, oldPassword));
      const rotator = engine.rotators.singleUser();
      const token = randomUUID();
      secrets.beginRotation(SECRET, token);
      const pendingPassword = pw();
      await secrets.putPending(SECRET, token, JSON.stringify(engine.secret(user, pendingPassword, { host: "127.0.0.2" })));

      const err = await rejection(runStep(rotator, secrets, token, "setSecret"));
      expect(err.code).toBe("InvalidParameter");
      expect(err.message).toMatch(/127\.0\.0\.2/);
      expectNoSecrets(err, [oldPassword, pendingPassword]);
      expect(secrets.currentVersionId(SECRET)).toBe(v0);
      expect(secrets.stagesOf(SECRET, token)).toEqual(["AWSPENDING"]);
      expect(await engine.canLogin(user, oldPassword)).toBe(true);
      expect(await engine.canLogin(user, pendingPassword)).toBe(false);
    });

    it("alternating users: clone with the same privileges, previous credentials keep working one rotation", async () => {
      const secrets = new MemorySecrets();
      const basePassword = pw();
      const base = await engine.newUser("alt", basePassword);
      secrets.seed(MASTER, await engine.newMaster(pw()));
      const v0 = secrets.seed(SECRET, engine.secret(base, basePassword, { masterarn: MASTER }));
      const rotator = engine.rotators.alternatingUsers();

      const r1 = await rotate(rotator, secrets);
      timings.push(`${label} alternating users, first (creates the clone): ${r1.ms.toFixed(0)} ms`);
      const c1 = secrets.json(SECRET, "AWSCURRENT");
      expect(c1).toMatchObject({ username: `${base}_clone`, masterarn: MASTER });
      expect(secrets.stagesOf(SECRET, v0)).toEqual(["AWSPREVIOUS"]);
      expect(await engine.canLoginEverywhere(c1.username, c1.password)).toBe(true);
      const clone = await engine.open(c1.username, c1.password);
      expect(await clone.count()).toBe(3); // the privileges of the base user
      await clone.close();
      expect(await engine.canLogin(base, basePassword)).toBe(true);

      const r2 = await rotate(rotator, secrets);
      timings.push(`${label} alternating users, later: ${r2.ms.toFixed(0)} ms`);
      const c2 = secrets.json(SECRET, "AWSCURRENT");
      expect(c2.username).toBe(base);
      expect(c2.password).not.toBe(basePassword);
      expect(await engine.canLoginEverywhere(base, c2.password)).toBe(true);
      expect(await engine.canLogin(base, basePassword)).toBe(false);
      expect(await engine.canLogin(c1.username, c1.password)).toBe(true);
      expect(secrets.stagesOf(SECRET, r1.token)).toEqual(["AWSPREVIOUS"]);

      await rotate(rotator, secrets);
      const c3 = secrets.json(SECRET, "AWSCURRENT");
      expect(c3.username).toBe(c1.username);
      expect(await engine.canLogin(c1.username, c3.password)).toBe(true);
      expect(await engine.canLogin(c1.username, c1.password)).toBe(false);
      expect(await engine.canLogin(base, c2.password)).toBe(true);
      const again = await engine.open(c3.username, c3.password);
      expect(await again.count()).toBe(3);
      await again.close();
    });

    it("alternating users: a session opened before the rotations keeps running queries", async () => {
      const secrets = new MemorySecrets();
      const basePassword = pw();
      const base = await engine.newUser("live", basePassword);
      secrets.seed(MASTER, await engine.newMaster(pw()));
      secrets.seed(SECRET, engine.secret(base, basePassword, { masterarn: MASTER }));
      const rotator = engine.rotators.alternatingUsers();
      const session = await engine.open(base, basePassword);
      try {
        expect(await session.count()).toBe(3);
        await rotate(rotator, secrets);
        expect(await session.count()).toBe(3);
        await rotate(rotator, secrets); // changes the base user's password
        expect(await session.count()).toBe(3);
      } finally {
        await session.close();
      }
    });

    it("alternating users: setSecret repairs a clone a crashed run left without privileges", async () => {
      const secrets = new MemorySecrets();
      const basePassword = pw();
      const base = await engine.newUser("crash", basePassword);
      secrets.seed(MASTER, await engine.newMaster(pw()));
      secrets.seed(SECRET, engine.secret(base, basePassword, { masterarn: MASTER }));
      const rotator = engine.rotators.alternatingUsers();
      const token = randomUUID();
      secrets.beginRotation(SECRET, token);
      await runStep(rotator, secrets, token, "createSecret");
      const pending = secrets.json(SECRET, "AWSPENDING");
      await engine.newBareUser(pending.username, pending.password);

      for (const step of ["setSecret", "testSecret", "finishSecret"] as const) await runStep(rotator, secrets, token, step);
      const clone = await engine.open(pending.username, pending.password);
      expect(await clone.count()).toBe(3);
      await clone.close();
    });

    it("passwords never appear in errors", async () => {
      const rotator = engine.rotators.singleUser();

      // The database quotes the name of a missing database: here, a password.
      const password = pw();
      const user = await engine.newUser("leak", password);
      let secrets = new MemorySecrets();
      secrets.seed(SECRET, engine.secret(user, password));
      let token = randomUUID();
      secrets.beginRotation(SECRET, token);
      await secrets.putPending(SECRET, token, JSON.stringify(engine.secret(user, password, { dbname: password })));
      let err = await rejection(runStep(rotator, secrets, token, "testSecret"));
      expect(err.code).toBe("InvalidRequest");
      expect(err.message).toMatch(/^testSecret failed: /);
      expect(err.message).toContain("***");
      expectNoSecrets(err, [password]);

      // ... and the name of a user that does not exist: here, also the password.
      secrets = new MemorySecrets();
      const odd = pw();
      secrets.seed(SECRET, engine.secret(odd, odd));
      token = randomUUID();
      secrets.beginRotation(SECRET, token);
      await runStep(rotator, secrets, token, "createSecret");
      const pendingPassword = secrets.json(SECRET, "AWSPENDING").password;
      err = await rejection(runStep(rotator, secrets, token, "setSecret"));
      expect(err.message).toMatch(/^setSecret failed: could not log in/);
      expectNoSecrets(err, [odd, pendingPassword]);

      // A master secret whose password is wrong.
      secrets = new MemorySecrets();
      const masterSecret = await engine.newMaster(pw());
      const wrongMaster = pw();
      secrets.seed(MASTER, { ...masterSecret, password: wrongMaster });
      secrets.seed(SECRET, engine.secret(user, password, { masterarn: MASTER }));
      token = randomUUID();
      secrets.beginRotation(SECRET, token);
      const alternating = engine.rotators.alternatingUsers();
      await runStep(alternating, secrets, token, "createSecret");
      err = await rejection(runStep(alternating, secrets, token, "setSecret"));
      expect(err.message).toMatch(/master secret/);
      expectNoSecrets(err, [password, wrongMaster, String(masterSecret.password), secrets.json(SECRET, "AWSPENDING").password]);
    });

    extra?.(() => engine);
  });
}

engineSuite("PostgreSQL", missing.postgres, postgresEngine, (get) => {
  it("alternating users: the clone gets the base role's ALTER ROLE ... SET defaults", async () => {
    const engine = get() as Engine & { admin: pg.Client };
    const secrets = new MemorySecrets();
    const basePassword = pw();
    const base = await engine.newUser("settings", basePassword);
    const role = pg.escapeIdentifier(base);
    await engine.admin.query(`CREATE SCHEMA "My Schema"`);
    await engine.admin.query(`ALTER ROLE ${role} SET search_path = app, "My Schema", public`);
    await engine.admin.query(`ALTER ROLE ${role} SET statement_timeout = '7s'`);
    await engine.admin.query(`ALTER ROLE ${role} IN DATABASE app SET application_name = 'app, reporting'`);
    secrets.seed(MASTER, await engine.newMaster(pw()));
    secrets.seed(SECRET, engine.secret(base, basePassword, { masterarn: MASTER }));
    await rotate(engine.rotators.alternatingUsers(), secrets);

    const settings = async (name: string) =>
      (
        await engine.admin.query<{ db: string | null; setconfig: string[] }>(
          `SELECT d.datname AS db, s.setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole
             LEFT JOIN pg_database d ON d.oid = s.setdatabase WHERE r.rolname = $1 ORDER BY 1 NULLS FIRST`,
          [name],
        )
      ).rows.map((r) => ({ db: r.db, setconfig: [...r.setconfig].sort() }));
    const clone = `${base}_clone`;
    expect(await settings(clone)).toEqual(await settings(base));
    const c = new pg.Client({ host: "127.0.0.1", port: Number(secrets.json(SECRET, "AWSCURRENT").port), user: clone, password: secrets.json(SECRET, "AWSCURRENT").password, database: "app" });
    await c.connect();
    expect((await c.query("SHOW search_path")).rows[0].search_path).toBe('app, "My Schema", public');
    expect((await c.query("SHOW application_name")).rows[0].application_name).toBe("app, reporting");
    await c.end();
  });
});

engineSuite("MariaDB", missing.mariadb, mariadbEngine);
