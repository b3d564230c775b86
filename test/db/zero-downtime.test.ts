import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import { CreateSecretCommand, GetSecretValueCommand, RotateSecretCommand, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import mysql from "mysql2/promise";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCoffer, type Running } from "../e2e/harness.ts";
import { createMariadbFixture, mariadbUnavailableReason, type MariadbFixture } from "./mariadb.ts";
import { pgClusterUnavailableReason, startPgCluster, type PgCluster } from "./pg-cluster.ts";

/**
 * Rotation as an application meets it: a real Coffer, a real PostgreSQL with
 * password authentication, clients that keep querying while the password
 * rotates underneath them.
 */
const unavailable = pgClusterUnavailableReason();
if (unavailable) {
  if (process.env.COFFER_REQUIRE_DATABASES === "1") throw new Error(`PostgreSQL is required here: ${unavailable}`);
  console.warn(`skipping zero-downtime rotation tests: ${unavailable}`);
}

const fn = (name: string) => `arn:aws:lambda:us-east-1:000000000000:function:coffer-${name}`;

describe.skipIf(unavailable !== undefined)("zero-downtime rotation against PostgreSQL", () => {
  let cluster: PgCluster;
  let run: Running;
  let sm: SecretsManagerClient;
  let admin: pg.Client;

  beforeAll(async () => {
    cluster = await startPgCluster();
    run = await startCoffer();
    sm = run.client;
    admin = new pg.Client({ host: cluster.host, port: cluster.port, user: cluster.superuser.user, password: cluster.superuser.password, database: "postgres" });
    await admin.connect();
    await admin.query("CREATE TABLE orders (id serial PRIMARY KEY, item text)");
    await admin.query("INSERT INTO orders (item) VALUES ('tea'), ('coffee')");
    const master = { engine: "postgres", host: cluster.host, port: cluster.port, username: cluster.superuser.user, password: cluster.superuser.password, dbname: "postgres" };
    await sm.send(new CreateSecretCommand({ Name: "db/master", SecretString: JSON.stringify(master) }));
  }, 60_000);

  afterAll(async () => {
    await admin?.end();
    await run?.stop();
    await cluster?.stop();
  });

  async function appUser(name: string, password: string): Promise<void> {
    await admin.query(`CREATE ROLE ${name} WITH LOGIN PASSWORD '${password}'`);
    await admin.query(`GRANT SELECT ON orders TO ${name}`);
  }

  async function current(secretId: string): Promise<{ username: string; password: string }> {
    return JSON.parse((await sm.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString!);
  }

  const connect = (creds: { username: string; password: string }) =>
    new pg.Client({ host: cluster.host, port: cluster.port, user: creds.username, password: creds.password, database: "postgres" });

  it("alternating users: a pool keeps querying through 20 rotations without one failed query", async () => {
    await appUser("app", "initial-Passw0rd");
    const masterArn = (await sm.send(new GetSecretValueCommand({ SecretId: "db/master" }))).ARN!;
    await sm.send(
      new CreateSecretCommand({
        Name: "db/app",
        SecretString: JSON.stringify({ engine: "postgres", host: cluster.host, port: cluster.port, username: "app", password: "initial-Passw0rd", dbname: "postgres", masterarn: masterArn }),
      }),
    );

    // A pool of 4 connections; every 25 queries one is replaced by a new one opened with the secret as it is then.
    const pool: pg.Client[] = [];
    for (let i = 0; i < 4; i++) {
      const c = connect(await current("db/app"));
      await c.connect();
      pool.push(c);
    }
    let queries = 0;
    let failures = 0;
    let reconnects = 0;
    let stop = false;
    const worker = (async () => {
      while (!stop) {
        const slot = queries % pool.length;
        try {
          if (queries % 25 === 24) {
            const fresh = connect(await current("db/app"));
            await fresh.connect();
            await pool[slot].end();
            pool[slot] = fresh;
            reconnects++;
          }
          const r = await pool[slot].query("SELECT count(*)::int AS n FROM orders");
          if (r.rows[0].n !== 2) failures++;
        } catch {
          failures++;
        }
        queries++;
      }
    })();

    const started = Date.now();
    const users = new Set<string>();
    for (let i = 0; i < 20; i++) {
      await sm.send(new RotateSecretCommand({ SecretId: "db/app", RotationLambdaARN: fn("postgres-alternating-users") }));
      await run.coffer.rotation.idle();
      users.add((await current("db/app")).username);
    }
    const perRotation = (Date.now() - started) / 20;
    await new Promise((r) => setTimeout(r, 100));
    stop = true;
    await worker;
    for (const c of pool) await c.end();

    console.log(`alternating users: 20 rotations, ${perRotation.toFixed(0)} ms each; ${queries} queries, ${reconnects} reconnects, ${failures} failed`);
    expect(failures).toBe(0);
    expect(queries).toBeGreaterThan(100);
    expect(reconnects).toBeGreaterThan(3);
    expect(users).toEqual(new Set(["app", "app_clone"]));
    // The newest credentials log in; the ones from two rotations ago do not.
    const now = await current("db/app");
    const fresh = connect(now);
    await fresh.connect();
    await fresh.end();
  });

  it("single user: a client that re-fetches on an authentication failure loses no query", async () => {
    await appUser("solo", "solo-Passw0rd-1");
    await sm.send(
      new CreateSecretCommand({
        Name: "db/solo",
        SecretString: JSON.stringify({ engine: "postgres", host: cluster.host, port: cluster.port, username: "solo", password: "solo-Passw0rd-1", dbname: "postgres" }),
      }),
    );
    // The guides' advice: cache the secret; on an authentication failure fetch it again and retry, with a
    // short backoff, since the new password is live a moment before AWSCURRENT moves to it.
    let cached = await current("db/solo");
    let refetches = 0;
    async function query(): Promise<number> {
      for (let attempt = 0; ; attempt++) {
        const c = connect(cached);
        try {
          await c.connect();
          const r = await c.query("SELECT count(*)::int AS n FROM orders");
          return r.rows[0].n as number;
        } catch (err) {
          if ((err as { code?: string }).code !== "28P01" || attempt >= 5) throw err;
          await new Promise((r) => setTimeout(r, 20 * (attempt + 1)));
          cached = await current("db/solo");
          refetches++;
        } finally {
          await c.end().catch(() => undefined);
        }
      }
    }
    let failures = 0;
    let queries = 0;
    let stop = false;
    const worker = (async () => {
      while (!stop) {
        await query().then(
          (n) => n === 2 || failures++,
          () => failures++,
        );
        queries++;
      }
    })();
    for (let i = 0; i < 5; i++) {
      await sm.send(new RotateSecretCommand({ SecretId: "db/solo", RotationLambdaARN: fn("postgres-single-user") }));
      await run.coffer.rotation.idle();
      await new Promise((r) => setTimeout(r, 30));
    }
    stop = true;
    await worker;
    console.log(`single user: 5 rotations; ${queries} queries, ${refetches} re-fetches, ${failures} failed`);
    expect(failures).toBe(0);
    expect(refetches).toBeGreaterThan(0);
    // The first password no longer logs in.
    const old = connect({ username: "solo", password: "solo-Passw0rd-1" });
    await expect(old.connect()).rejects.toMatchObject({ code: "28P01" });
    await old.end().catch(() => undefined);
  });

  it("the aws CLI's rotate-secret rotates a PostgreSQL password that a running client keeps using", async () => {
    if (!existsSync("/usr/bin/aws")) {
      if (process.env.CI) throw new Error("/usr/bin/aws is required in CI");
      console.warn("skipping: /usr/bin/aws (Debian awscli) is not installed");
      return;
    }
    const before = await current("db/app");
    const running = connect(before);
    await running.connect();
    await promisify(execFile)(
      "/usr/bin/aws",
      ["--endpoint-url", run.url, "secretsmanager", "rotate-secret", "--secret-id", "db/app", "--rotation-lambda-arn", fn("postgres-alternating-users")],
      {
        env: {
          PATH: process.env.PATH,
          HOME: run.dataDir,
          AWS_ACCESS_KEY_ID: run.credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: run.credentials.secretAccessKey,
          AWS_DEFAULT_REGION: "us-east-1",
          AWS_CONFIG_FILE: "/nonexistent",
        },
      },
    );
    await run.coffer.rotation.idle();
    const after = await current("db/app");
    expect(after.username).not.toBe(before.username);
    expect((await running.query("SELECT count(*)::int AS n FROM orders")).rows[0].n).toBe(2);
    await running.end();
    const next = connect(after);
    await next.connect();
    await next.end();
  });
});

const mariadbMissing = await mariadbUnavailableReason();
if (mariadbMissing) {
  if (process.env.COFFER_REQUIRE_DATABASES === "1") throw new Error(`MariaDB is required here: ${mariadbMissing}`);
  console.warn(`skipping MariaDB rotation through Coffer: ${mariadbMissing}`);
}

describe.skipIf(mariadbMissing !== undefined)("rotation through Coffer against MariaDB", () => {
  let db: MariadbFixture;
  let run: Running;

  beforeAll(async () => {
    db = await createMariadbFixture();
    run = await startCoffer();
  });
  afterAll(async () => {
    await run?.stop();
    await db?.drop();
  });

  it("alternating users rotate while an open connection keeps working; single user changes the password", async () => {
    const sm = run.client;
    const base = { engine: "mariadb", host: db.host, port: db.port, dbname: db.database };
    await db.createMaster(`${db.prefix}admin`, "Adm1n-Passw0rd");
    await db.createUser(`${db.prefix}app`, "App-Passw0rd-0", "SELECT");
    await db.createUser(`${db.prefix}solo`, "Solo-Passw0rd-0", "SELECT");
    const master = await sm.send(
      new CreateSecretCommand({ Name: "maria/admin", SecretString: JSON.stringify({ ...base, username: `${db.prefix}admin`, password: "Adm1n-Passw0rd" }) }),
    );
    await sm.send(
      new CreateSecretCommand({
        Name: "maria/app",
        SecretString: JSON.stringify({ ...base, username: `${db.prefix}app`, password: "App-Passw0rd-0", masterarn: master.ARN }),
      }),
    );
    const login = (c: { username: string; password: string }) =>
      mysql.createConnection({ host: db.host, port: db.port, user: c.username, password: c.password, database: db.database });
    const held = await login({ username: `${db.prefix}app`, password: "App-Passw0rd-0" });
    for (let i = 0; i < 3; i++) {
      await sm.send(new RotateSecretCommand({ SecretId: "maria/app", RotationLambdaARN: `arn:aws:lambda:us-east-1:000000000000:function:coffer-mysql-alternating-users` }));
      await run.coffer.rotation.idle();
      const now = JSON.parse((await sm.send(new GetSecretValueCommand({ SecretId: "maria/app" }))).SecretString!);
      const fresh = await login(now);
      await fresh.query("SELECT 1");
      await fresh.end();
      await held.query("SELECT 1");
    }
    await held.end();

    await sm.send(
      new CreateSecretCommand({ Name: "maria/solo", SecretString: JSON.stringify({ ...base, username: `${db.prefix}solo`, password: "Solo-Passw0rd-0" }) }),
    );
    await sm.send(new RotateSecretCommand({ SecretId: "maria/solo", RotationLambdaARN: `arn:aws:lambda:us-east-1:000000000000:function:coffer-mysql-single-user` }));
    await run.coffer.rotation.idle();
    const solo = JSON.parse((await sm.send(new GetSecretValueCommand({ SecretId: "maria/solo" }))).SecretString!);
    expect(solo.password).not.toBe("Solo-Passw0rd-0");
    await (await login(solo)).end();
    await expect(login({ username: `${db.prefix}solo`, password: "Solo-Passw0rd-0" })).rejects.toMatchObject({ code: "ER_ACCESS_DENIED_ERROR" });
  });
});
