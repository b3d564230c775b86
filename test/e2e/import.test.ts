import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  RotateSecretCommand,
  TagResourceCommand,
  UpdateSecretCommand,
} from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coffer, finished, isolatedEnv } from "./cli-process.ts";
import { startCoffer, type Running } from "./harness.ts";
import { rawCall } from "./raw.ts";

/**
 * `coffer import` (issue 15, item 7), run as a user runs it, against real
 * servers: a .env file, a JSON export, and another Secrets Manager endpoint
 * (a second Coffer: AWS itself cannot be reached from here, and speaks the
 * same API). Each import runs twice; the second changes nothing.
 */

let target: Running;
let source: Running;
let dir: string;

beforeAll(async () => {
  [target, source] = await Promise.all([startCoffer(), startCoffer()]);
  dir = mkdtempSync(join(tmpdir(), "coffer-import-"));
});
afterAll(async () => {
  await Promise.all([target?.stop(), source?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

async function importing(args: string[], extraEnv: Record<string, string> = {}) {
  const env = { ...isolatedEnv(dir, target.credentials), ...extraEnv };
  return finished(coffer(["import", ...args, "--endpoint", target.url], env));
}

async function value(name: string) {
  const v = await target.client.send(new GetSecretValueCommand({ SecretId: name }));
  return v.SecretString ?? Buffer.from(v.SecretBinary!).toString("base64");
}

const versions = async (name: string) => (await target.client.send(new ListSecretVersionIdsCommand({ SecretId: name }))).Versions!.length;

describe(".env files", () => {
  it("makes one secret per variable, then changes only what changed", async () => {
    const file = join(dir, "app.env");
    writeFileSync(file, "# the app's settings\nDB_PASSWORD=s3cret-one\nAPI_KEY='quoted value'\nexport EMPTY_LINE_ABOVE=x\n\nMULTI=\"a\nb\"\n");
    const first = await importing(["env", file, "--prefix", "app/prod/", "--output", "json"]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    const summary = JSON.parse(first.stdout);
    expect(summary.Created.sort()).toEqual(["app/prod/API_KEY", "app/prod/DB_PASSWORD", "app/prod/EMPTY_LINE_ABOVE", "app/prod/MULTI"]);
    expect(await value("app/prod/DB_PASSWORD")).toBe("s3cret-one");
    expect(await value("app/prod/API_KEY")).toBe("quoted value");
    expect(await value("app/prod/MULTI")).toBe("a\nb");

    const again = await importing(["env", file, "--prefix", "app/prod/"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(`Imported 4 secrets from ${file}: 0 created, 0 updated, 4 unchanged, 0 failed.\n`);
    expect(await versions("app/prod/DB_PASSWORD")).toBe(1);

    writeFileSync(file, "DB_PASSWORD=s3cret-two\nAPI_KEY='quoted value'\n");
    const changed = JSON.parse((await importing(["env", file, "--prefix", "app/prod/", "--output", "json"])).stdout);
    expect(changed).toMatchObject({ Created: [], Updated: ["app/prod/DB_PASSWORD"], Unchanged: ["app/prod/API_KEY"], Failed: [] });
    expect(await value("app/prod/DB_PASSWORD")).toBe("s3cret-two");
    expect(await versions("app/prod/DB_PASSWORD")).toBe(2);
    // The values never reach the output.
    expect(JSON.stringify(changed)).not.toContain("s3cret");
  });

  it("or one JSON secret of them all", async () => {
    const file = join(dir, "one.env");
    writeFileSync(file, "USER=app\nPASSWORD=pw-1\n");
    expect((await importing(["env", file, "--name", "app/config"])).code).toBe(0);
    expect(JSON.parse(await value("app/config"))).toEqual({ USER: "app", PASSWORD: "pw-1" });
    expect((await importing(["env", file, "--name", "app/config"])).stdout).toContain("0 created, 0 updated, 1 unchanged");
  });
});

describe("JSON exports", () => {
  it("brings values (text and binary), descriptions and tags, and only differences the second time", async () => {
    const file = join(dir, "export.json");
    const binary = Buffer.from([0, 1, 2, 250, 255]).toString("base64");
    writeFileSync(
      file,
      JSON.stringify([
        { Name: "json/db", SecretString: '{"user":"u","password":"p"}', Description: "the database", Tags: [{ Key: "team", Value: "core" }] },
        { Name: "json/cert", SecretBinary: binary },
        { Name: "json/empty", Description: "no value yet" },
      ]),
    );
    const first = JSON.parse((await importing(["json", file, "--output", "json"])).stdout);
    expect(first.Created).toEqual(["json/db", "json/cert", "json/empty"]);
    expect(await value("json/cert")).toBe(binary);
    const db = await target.client.send(new DescribeSecretCommand({ SecretId: "json/db" }));
    expect(db).toMatchObject({ Description: "the database", Tags: [{ Key: "team", Value: "core" }] });

    expect(JSON.parse((await importing(["json", file, "--output", "json"])).stdout).Unchanged).toEqual(["json/db", "json/cert", "json/empty"]);

    // Someone changed the description here: the import puts the exported one back, and nothing else.
    await target.client.send(new UpdateSecretCommand({ SecretId: "json/db", Description: "edited" }));
    const third = JSON.parse((await importing(["json", file, "--output", "json"])).stdout);
    expect(third).toMatchObject({ Updated: ["json/db"], Unchanged: ["json/cert", "json/empty"] });
    expect(await versions("json/db")).toBe(1);
  });

  it("a plain object of name to value", async () => {
    const file = join(dir, "flat.json");
    writeFileSync(file, JSON.stringify({ "flat/a": "1", "flat/b": { nested: true } }));
    expect((await importing(["json", file])).code).toBe(0);
    expect(await value("flat/b")).toBe('{"nested":true}');
  });

  it("bad input is a clear error before anything is written", async () => {
    const file = join(dir, "bad.json");
    writeFileSync(file, '[{"Name": "bad/one", "SecretString": "x"}, {"SecretString": "no name"}]');
    const bad = await importing(["json", file]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(`coffer: ${file}: entry 2 needs a "Name" string.\n`);
    expect((await target.client.send(new DescribeSecretCommand({ SecretId: "bad/one" })).catch((e) => e)).name).toBe("ResourceNotFoundException");
    const missing = await importing(["json", join(dir, "nope.json")]);
    expect(missing).toMatchObject({ code: 2, stderr: `coffer: Cannot read ${join(dir, "nope.json")}: ENOENT\n` });
    writeFileSync(file, "{not json");
    expect((await importing(["json", file])).stderr).toMatch(/is not JSON/);
  });

  it("a secret the server refuses is listed as failed, the others still come in, and the exit code says so", async () => {
    await target.client.send(new CreateSecretCommand({ Name: "partial/deleted", SecretString: "x" }));
    await target.client.send(new DeleteSecretCommand({ SecretId: "partial/deleted" }));
    const file = join(dir, "partial.json");
    writeFileSync(file, JSON.stringify({ "partial/ok": "fine", "partial/deleted": "y", "partial/bad name!": "z" }));
    const run = await importing(["json", file]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("1 created, 0 updated, 0 unchanged, 2 failed");
    expect(run.stdout).toContain("failed  partial/deleted: it is scheduled for deletion here");
    expect(run.stdout).toMatch(/failed {2}partial\/bad name!: ValidationException: /);
  });
});

describe("another Secrets Manager endpoint", () => {
  it("copies every secret's current value, description, tags and rotation where it maps", async () => {
    const src = source.client;
    await src.send(new CreateSecretCommand({ Name: "svc/db", SecretString: "v1", Description: "db", Tags: [{ Key: "env", Value: "prod" }] }));
    await src.send(new CreateSecretCommand({ Name: "svc/blob", SecretBinary: Buffer.from("binary!") }));
    await src.send(new CreateSecretCommand({ Name: "svc/rotating", SecretString: "r1" }));
    await src.send(
      new RotateSecretCommand({
        SecretId: "svc/rotating",
        RotationLambdaARN: "arn:aws:lambda:us-east-1:000000000000:function:coffer-random-value",
        RotationRules: { AutomaticallyAfterDays: 30 },
        RotateImmediately: false,
      }),
    );
    // A webhook function the source has and the target has not.
    const registered = await rawCall(source.url, {
      target: "Coffer.RegisterRotationFunction",
      body: JSON.stringify({ FunctionName: "custom", Webhook: { Url: "https://rotator.example/rotate", Secret: "webhook-secret-1234" } }),
      credentials: source.credentials,
      service: "coffer",
    });
    expect(registered.status).toBe(200);
    await src.send(new CreateSecretCommand({ Name: "svc/custom", SecretString: "c1" }));
    await src.send(
      new RotateSecretCommand({
        SecretId: "svc/custom",
        RotationLambdaARN: "arn:aws:lambda:us-east-1:000000000000:function:custom",
        RotationRules: { AutomaticallyAfterDays: 7 },
        RotateImmediately: false,
      }),
    );
    await src.send(new CreateSecretCommand({ Name: "other/skipped", SecretString: "s" }));

    // Each side signs with a profile of its own, as with AWS on one side and Coffer on the other.
    const credentials = join(dir, "credentials");
    const profile = (name: string, c: Running["credentials"]) => `[${name}]\naws_access_key_id = ${c.accessKeyId}\naws_secret_access_key = ${c.secretAccessKey}\n`;
    writeFileSync(credentials, profile("source", source.credentials) + profile("coffer", target.credentials));
    const args = ["secretsmanager", "--from-endpoint", source.url, "--from-profile", "source", "--from-region", "us-east-1", "--filter", "svc/", "--profile", "coffer"];
    const env = { AWS_SHARED_CREDENTIALS_FILE: credentials, AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "" };
    const first = await importing([...args, "--output", "json"], env);
    expect(first.stderr).toBe("");
    const summary = JSON.parse(first.stdout);
    expect(summary.Created.sort()).toEqual(["svc/blob", "svc/custom", "svc/db", "svc/rotating"]);
    expect(summary.Notes).toEqual([{ Name: "svc/custom", Note: expect.stringContaining("register a rotation function named custom here") }]);
    expect(first.code).toBe(0);

    expect(await value("svc/db")).toBe("v1");
    expect(Buffer.from(await value("svc/blob"), "base64").toString()).toBe("binary!");
    expect(await target.client.send(new DescribeSecretCommand({ SecretId: "svc/db" }))).toMatchObject({ Description: "db", Tags: [{ Key: "env", Value: "prod" }] });
    expect(await target.client.send(new DescribeSecretCommand({ SecretId: "svc/rotating" }))).toMatchObject({
      RotationEnabled: true,
      RotationLambdaARN: "arn:aws:lambda:us-east-1:000000000000:function:coffer-random-value",
      RotationRules: { AutomaticallyAfterDays: 30 },
    });
    // Rotation was scheduled, not run: the imported value is still the current one.
    expect(await value("svc/rotating")).toBe("r1");
    expect((await target.client.send(new DescribeSecretCommand({ SecretId: "other/skipped" })).catch((e) => e)).name).toBe("ResourceNotFoundException");

    // Second run: nothing changes. Then the source moves on and the import follows.
    const again = JSON.parse((await importing([...args, "--output", "json"], env)).stdout);
    expect(again.Unchanged.sort()).toEqual(["svc/blob", "svc/custom", "svc/db", "svc/rotating"]);
    expect(await versions("svc/db")).toBe(1);
    await src.send(new TagResourceCommand({ SecretId: "svc/db", Tags: [{ Key: "owner", Value: "ops" }] }));
    const third = await importing(args, env);
    expect(third.stdout).toContain("0 created, 1 updated, 3 unchanged, 0 failed");
    expect((await target.client.send(new DescribeSecretCommand({ SecretId: "svc/db" }))).Tags).toEqual(
      expect.arrayContaining([{ Key: "owner", Value: "ops" }]),
    );
  });
});

describe("on a terminal", () => {
  it("draws a progress bar on stderr, and a pipe gets the summary only", async () => {
    const file = join(dir, "bar.env");
    writeFileSync(file, Array.from({ length: 5 }, (_, i) => `KEY_${i}=value-${i}`).join("\n"));
    const bin = fileURLToPath(new URL("../../bin/coffer.js", import.meta.url));
    // script(1) runs the command on a pseudo-terminal, as a person at a shell would.
    const command = [process.execPath, bin, "import", "env", file, "--prefix", "tty/", "--endpoint", target.url].map((a) => `'${a}'`).join(" ");
    const { stdout } = await promisify(execFile)("script", ["-qefc", command, "/dev/null"], { env: isolatedEnv(dir, target.credentials) });
    expect(stdout).toMatch(/importing \[#+-*\] \d\/5/);
    expect(stdout).toContain("Imported 5 secrets from");
    const piped = await importing(["env", file, "--prefix", "tty/"]);
    expect(piped.stderr).toBe("");
    expect(piped.stdout).toBe(`Imported 5 secrets from ${file}: 0 created, 0 updated, 5 unchanged, 0 failed.\n`);
  });
});
