import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
} from "@aws-sdk/client-secrets-manager";
import { PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAgent, type Agent } from "../../src/agent/agent-server.ts";
// Through the package's "exports", as an application imports it.
import { ParameterCache, SecretCache } from "coffer/client";
import { parseParamSpec, parseSecretSpec, resolveEnvironment, variableFor } from "../../src/cli/run-command.ts";
import { startCoffer, type Running } from "./harness.ts";
import { rawCall } from "./raw.ts";
import { coffer, finished, isolatedEnv } from "./cli-process.ts";

const printEnv = fileURLToPath(new URL("../fixtures/print-env.mjs", import.meta.url));
const awsAgentClient = fileURLToPath(new URL("../fixtures/aws-agent-client.mjs", import.meta.url));
const TOKEN = "e2e-ssrf-token-5b1f0c";
const sha = (value: string) => createHash("sha256").update(value).digest("hex").slice(0, 16);

let run: Running;
let dir: string;
let ssm: SSMClient;
const dbSecret = { username: "app", password: "pw-original-7f3a" };

const baseEnv = () => isolatedEnv(dir, run.credentials);

const auditCount = async (eventName: string) =>
  (await run.coffer.store.listAuditRows(0, 1_000_000)).filter((r) => r.eventName === eventName && r.kind === "event").length;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "coffer-clients-"));
  run = await startCoffer();
  await run.client.send(new CreateSecretCommand({ Name: "app/db", SecretString: JSON.stringify(dbSecret) }));
  await run.client.send(new CreateSecretCommand({ Name: "app/plain", SecretString: "plain-value-91ad" }));
  await run.client.send(new CreateSecretCommand({ Name: "app/binary", SecretBinary: new Uint8Array([0, 1, 2, 250]) }));
  ssm = new SSMClient({ endpoint: run.url, region: "us-east-1", credentials: run.credentials, maxAttempts: 1 });
}, 30_000);
afterAll(async () => {
  await run?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("SecretCache against Coffer", () => {
  it("withSecret recovers from a rotation in the middle: the old value fails, one re-fetch, the retry works", async () => {
    // An API key rotated by Coffer's built-in function; "the service" accepts only the key that is AWSCURRENT now.
    await run.client.send(new CreateSecretCommand({ Name: "rotating/api-key", SecretString: "key-before-rotation" }));
    let fetches = 0;
    const cache = new SecretCache({
      client: {
        send: (command) => {
          fetches++;
          return run.client.send(command);
        },
      },
    });
    const cached = await cache.getSecretString("rotating/api-key");
    const callService = async (key: string) => {
      const current = await run.client.send(new GetSecretValueCommand({ SecretId: "rotating/api-key" }));
      if (key !== current.SecretString) throw Object.assign(new Error("401 Unauthorized"), { status: 401 });
      return "served";
    };

    const tried: string[] = [];
    const out = await cache.withSecret("rotating/api-key", async (key) => {
      tried.push(sha(key));
      if (tried.length === 1) {
        // The rotation lands between reading the key from the cache and using it.
        await run.client.send(
          new RotateSecretCommand({ SecretId: "rotating/api-key", RotationLambdaARN: "arn:aws:lambda:us-east-1:000000000000:function:coffer-random-value" }),
        );
        await run.coffer.rotation.idle();
      }
      return callService(key);
    });
    expect(out).toBe("served");
    const rotated = await run.client.send(new GetSecretValueCommand({ SecretId: "rotating/api-key" }));
    expect(rotated.SecretString).not.toBe(cached);
    expect(tried).toEqual([sha(cached), sha(rotated.SecretString!)]);
    // One read to fill the cache, one re-fetch after the failure.
    expect(fetches).toBe(2);
    expect(cache.peekSecretString("rotating/api-key")).toBe(rotated.SecretString);

    // An error that is not about credentials is not retried; a second auth failure reaches the caller.
    let calls = 0;
    await expect(cache.withSecret("rotating/api-key", () => { calls++; throw new Error("ECONNRESET"); })).rejects.toThrow("ECONNRESET");
    expect(calls).toBe(1);
    await expect(cache.withSecret("rotating/api-key", () => { calls++; throw Object.assign(new Error("denied"), { statusCode: 403 }); })).rejects.toThrow("denied");
    expect(calls).toBe(3);
    expect(fetches).toBe(3);
  });

  it("passes AWS errors through unchanged", async () => {
    const cache = new SecretCache({ client: run.client });
    await expect(cache.getSecretString("no/such/secret")).rejects.toMatchObject({ name: "ResourceNotFoundException" });
  });

  it("is importable as coffer/client by a plain JavaScript program under plain node", async () => {
    const program = fileURLToPath(new URL("../fixtures/plain-node-client.mjs", import.meta.url));
    const child = spawn(process.execPath, [program, "app/plain"], {
      env: { ...baseEnv(), COFFER_URL: run.url, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" } as NodeJS.ProcessEnv,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const { code, stdout, stderr } = await finished(child);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ length: "plain-value-91ad".length, sha256: createHash("sha256").update("plain-value-91ad").digest("hex"), cached: true });
    expect(stdout).not.toContain("plain-value-91ad");
  });
});

describe("agent against Coffer", () => {
  let agent: Agent;
  let url: string;
  const get = (path: string, headers: Record<string, string> = { "X-Aws-Parameters-Secrets-Token": TOKEN }, method = "GET") =>
    fetch(url + path, { method, headers }).then(async (r) => ({ status: r.status, text: await r.text() }));

  beforeAll(async () => {
    agent = createAgent({
      port: 0,
      token: TOKEN,
      secretsClient: run.client,
      ssmClient: new SSMClient({ endpoint: run.url, region: "us-east-1", credentials: run.credentials, maxAttempts: 1 }),
    });
    url = await agent.listen();
  });
  afterAll(() => agent.close());

  it("answers exactly what GetSecretValue's wire response says", async () => {
    const wire = (await rawCall(run.url, { target: "secretsmanager.GetSecretValue", body: JSON.stringify({ SecretId: "app/db" }), credentials: run.credentials })).json();
    const res = await get("/secretsmanager/get?secretId=app/db");
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual(wire);
    expect(Object.keys(JSON.parse(res.text))).toEqual(["ARN", "Name", "VersionId", "SecretString", "VersionStages", "CreatedDate"]);
    const binary = (await rawCall(run.url, { target: "secretsmanager.GetSecretValue", body: JSON.stringify({ SecretId: "app/binary" }), credentials: run.credentials })).json();
    expect(JSON.parse((await get("/v1/app/binary")).text)).toEqual(binary);
  });

  it("checks the token, proxies, methods and parameters; /ping needs no token", async () => {
    expect(await get("/ping", {})).toEqual({ status: 200, text: "healthy" });
    expect(await get("/secretsmanager/get?secretId=app/db", {})).toEqual({ status: 403, text: "Bad Token" });
    expect(await get("/secretsmanager/get?secretId=app/db", { "X-Aws-Parameters-Secrets-Token": "guess" })).toEqual({ status: 403, text: "Bad Token" });
    expect((await get("/secretsmanager/get?secretId=app/db", { "X-Vault-Token": TOKEN })).status).toBe(200);
    expect(await get("/secretsmanager/get?secretId=app/db", { "X-Aws-Parameters-Secrets-Token": TOKEN, "X-Forwarded-For": "203.0.113.9" })).toEqual({
      status: 400,
      text: "Forwarded",
    });
    expect((await get("/secretsmanager/get?secretId=app/db", undefined, "POST")).status).toBe(405);
    expect(await get("/secretsmanager/get?secretId=app/db&SecretId=x")).toEqual({ status: 400, text: "unknown parameter: SecretId" });
    expect(await get("/secretsmanager/get?versionStage=AWSCURRENT")).toEqual({ status: 400, text: "missing parameter secretId" });
    // As AWS's agent: the service's own status and error.
    const missing = await get("/secretsmanager/get?secretId=no/such/secret");
    expect(missing.status).toBe(400);
    expect(JSON.parse(missing.text)).toEqual({ __type: "ResourceNotFoundException", message: "Secrets Manager can't find the specified secret." });
  });

  it("serves from its cache within the TTL (even a deleted secret), and refreshNow goes to Coffer", async () => {
    await run.client.send(new CreateSecretCommand({ Name: "agent/ttl", SecretString: "ttl-value-1" }));
    const first = await get("/v1/agent/ttl");
    const calls = await auditCount("GetSecretValue");
    expect(JSON.parse((await get("/v1/agent/ttl")).text).SecretString).toBe("ttl-value-1");
    expect(JSON.parse((await get("/secretsmanager/get?secretId=agent%2Fttl&versionStage=AWSCURRENT")).text).SecretString).toBe("ttl-value-1");
    expect(await auditCount("GetSecretValue")).toBe(calls);

    await run.client.send(new PutSecretValueCommand({ SecretId: "agent/ttl", SecretString: "ttl-value-2" }));
    expect((await get("/v1/agent/ttl")).text).toBe(first.text);
    expect(JSON.parse((await get("/v1/agent/ttl?refreshNow=true")).text).SecretString).toBe("ttl-value-2");
    expect(await auditCount("GetSecretValue")).toBe(calls + 1);

    await run.client.send(new DeleteSecretCommand({ SecretId: "agent/ttl", ForceDeleteWithoutRecovery: true }));
    expect(JSON.parse((await get("/v1/agent/ttl")).text).SecretString).toBe("ttl-value-2");
    expect((await get("/v1/agent/ttl?refreshNow=1")).status).toBe(400);
  });

  it("serves previous versions by stage and by id", async () => {
    await run.client.send(new CreateSecretCommand({ Name: "agent/versions", SecretString: "v-one" }));
    const one = await run.client.send(new GetSecretValueCommand({ SecretId: "agent/versions" }));
    await run.client.send(new PutSecretValueCommand({ SecretId: "agent/versions", SecretString: "v-two" }));
    expect(JSON.parse((await get("/v1/agent/versions?versionStage=AWSPREVIOUS")).text).SecretString).toBe("v-one");
    expect(JSON.parse((await get(`/v1/agent/versions?versionId=${one.VersionId}`)).text).SecretString).toBe("v-one");
    expect(JSON.parse((await get("/v1/agent/versions")).text).SecretString).toBe("v-two");
  });
});

describe("coffer agent as a process", () => {
  it("serves an unmodified program written for the AWS agent on localhost:2773; refuses remote addresses and a missing token", async () => {
    const tokenFile = join(dir, "awssmatoken");
    writeFileSync(tokenFile, TOKEN + "\n", { mode: 0o600 });
    // Defaults throughout (port 2773, loopback), as AWS's install script sets it up: the token in a file named by AWS_TOKEN.
    const agent = coffer(["agent", "--endpoint", run.url], { ...baseEnv(), AWS_TOKEN: `file://${tokenFile}` });
    let stderr = "";
    agent.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const listening = new Promise<string>((resolve, reject) => {
      let out = "";
      agent.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        const m = /Coffer agent listening on (\S+)/.exec(out);
        if (m) resolve(m[1]);
      });
      agent.on("exit", (code) => reject(new Error(`agent exited with ${code}: ${stderr}`)));
    });
    try {
      expect(await listening).toBe("http://127.0.0.1:2773");
      const app = spawn(process.execPath, [awsAgentClient, "app/db"], {
        env: { PATH: process.env.PATH, AWSSMA_TOKEN_FILE: tokenFile },
        stdio: ["ignore", "pipe", "pipe"],
      });
      const result = await finished(app);
      expect(result.stderr).toBe("");
      expect(JSON.parse(result.stdout)).toEqual({ name: "app/db", stages: ["AWSCURRENT"], passwordSha256: sha(dbSecret.password) });
      const ping = await fetch("http://127.0.0.1:2773/ping");
      expect([ping.status, await ping.text()]).toEqual([200, "healthy"]);
      const tokenless = await fetch("http://127.0.0.1:2773/secretsmanager/get?secretId=app/db");
      expect([tokenless.status, await tokenless.text()]).toEqual([403, "Bad Token"]);
    } finally {
      agent.kill("SIGTERM");
      await new Promise((resolve) => agent.on("close", resolve));
    }
    expect(agent.exitCode).toBe(0);
    expect(stderr).not.toContain(dbSecret.password);

    const remote = await finished(coffer(["agent", "--host", "0.0.0.0", "--port", "0"], { ...baseEnv(), AWS_TOKEN: TOKEN }));
    expect(remote.code).toBe(1);
    expect(remote.stderr).toContain("Refusing to listen on 0.0.0.0");
    const tokenless = await finished(coffer(["agent", "--port", "0"], baseEnv()));
    expect(tokenless.code).toBe(1);
    expect(tokenless.stderr).toContain("No SSRF token");
  }, 60_000);
});

describe("coffer run", () => {
  const runCoffer = (args: string[], childArgs: string[]) =>
    coffer(["run", "--endpoint", run.url, ...args, "--", process.execPath, printEnv, ...childArgs], { ...baseEnv(), INHERITED: "from-parent" });

  it("puts secrets (whole, a JSON key, by ARN with a stage) in the child's environment, never on the terminal", async () => {
    const arn = (await run.client.send(new GetSecretValueCommand({ SecretId: "app/db" }))).ARN!;
    const child = runCoffer(
      ["--secret", "DB_PASSWORD=app/db:password", "--secret", `DB_USER=${arn}:username:AWSCURRENT:`, "--secret", "PLAIN=app/plain"],
      ["DB_PASSWORD", "DB_USER", "PLAIN", "INHERITED", "ABSENT"],
    );
    const out = await finished(child);
    expect(out.stderr).toBe("");
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual({
      DB_PASSWORD: { length: dbSecret.password.length, sha256: sha(dbSecret.password) },
      DB_USER: { length: 3, sha256: sha("app") },
      PLAIN: { length: "plain-value-91ad".length, sha256: sha("plain-value-91ad") },
      INHERITED: { length: "from-parent".length, sha256: sha("from-parent") },
      ABSENT: null,
    });
    expect(out.stdout + out.stderr).not.toContain(dbSecret.password);
  }, 30_000);

  it("exits with the child's code, and with 128+signal when a forwarded signal ends it", async () => {
    expect((await finished(runCoffer(["--secret", "PLAIN=app/plain"], ["--exit", "7"]))).code).toBe(7);

    const hup = runCoffer(["--secret", "PLAIN=app/plain"], ["--wait", "--exit", "3"]);
    const hupDone = finished(hup, (all) => all.includes("waiting") && !all.includes("got") && hup.kill("SIGHUP"));
    const hupOut = await hupDone;
    expect(hupOut.stdout).toContain("got SIGHUP");
    expect(hupOut.code).toBe(3);

    const term = runCoffer(["--secret", "PLAIN=app/plain"], ["--wait", "--die-on-term"]);
    const termOut = await finished(term, (all) => all.includes("waiting") && term.kill("SIGTERM"));
    expect(termOut.code).toBe(128 + 15);
  }, 60_000);

  it("fails before starting the child when a value cannot be read, naming variable and secret but no value", async () => {
    const out = await finished(
      runCoffer(
        ["--secret", "DB_PASSWORD=app/db:password", "--secret", "GONE=no/such/secret", "--secret", "KEYLESS=app/db:nokey", "--secret", "NOTJSON=app/plain:k"],
        ["DB_PASSWORD"],
      ),
    );
    expect(out.code).toBe(1);
    expect(out.stdout).toBe("");
    expect(out.stderr).toContain("GONE: secret no/such/secret: ResourceNotFoundException");
    expect(out.stderr).toContain('KEYLESS: secret app/db: the secret is not a JSON object with the key "nokey"');
    expect(out.stderr).toContain("NOTJSON: secret app/plain: Secret app/plain is not valid JSON.");
    expect(out.stderr).not.toContain(dbSecret.password);
    expect(out.stderr).not.toContain("plain-value-91ad");

    const missingProgram = await finished(coffer(["run", "--endpoint", run.url, "--", "/no/such/program"], baseEnv()));
    expect(missingProgram.code).toBe(127);
    expect(missingProgram.stderr).toContain("cannot start /no/such/program: ENOENT");
  }, 60_000);
});

describe("coffer run: parsing", () => {
  it("parses --secret the ECS valueFrom way", () => {
    expect(parseSecretSpec("DB_PASSWORD=prod/myapp/db:password")).toEqual({
      kind: "secret",
      variable: "DB_PASSWORD",
      secretId: "prod/myapp/db",
      jsonKey: "password",
    });
    expect(parseSecretSpec("API_KEY=prod/payments/stripe-key")).toEqual({ kind: "secret", variable: "API_KEY", secretId: "prod/payments/stripe-key" });
    const arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf";
    expect(parseSecretSpec(`X=${arn}`)).toEqual({ kind: "secret", variable: "X", secretId: arn });
    expect(parseSecretSpec(`X=${arn}:json-key:AWSPREVIOUS:`)).toEqual({
      kind: "secret",
      variable: "X",
      secretId: arn,
      jsonKey: "json-key",
      versionStage: "AWSPREVIOUS",
    });
    expect(parseSecretSpec(`X=${arn}:::v-123`)).toEqual({ kind: "secret", variable: "X", secretId: arn, versionId: "v-123" });
    expect(parseSecretSpec("X=name::AWSPENDING")).toEqual({ kind: "secret", variable: "X", secretId: "name", versionStage: "AWSPENDING" });
    expect(parseSecretSpec("X=arn:aws:ssm:us-east-1:123456789012:parameter/prod/db/host")).toEqual({
      kind: "parameter",
      variable: "X",
      name: "arn:aws:ssm:us-east-1:123456789012:parameter/prod/db/host",
    });
    expect(() => parseSecretSpec("1X=a")).toThrow(/NAME=source/);
    expect(() => parseSecretSpec("X=")).toThrow(/NAME=source/);
    expect(() => parseSecretSpec("X")).toThrow(/NAME=source/);
    expect(() => parseSecretSpec("X=arn:aws:secretsmanager:us-east-1")).toThrow(/not a secret ARN/);
    expect(() => parseSecretSpec(`X=${arn}:a:b:c:d`)).toThrow(/too many fields/);
    expect(parseParamSpec("DB_HOST=/prod/db/host")).toEqual({ kind: "parameter", variable: "DB_HOST", name: "/prod/db/host" });
  });

  it("names variables from a parameter path", () => {
    expect(variableFor("/prod/myapp/", "/prod/myapp/db/host")).toBe("DB_HOST");
    expect(variableFor("/prod/myapp", "/prod/myapp/db/host")).toBe("DB_HOST");
    expect(variableFor("/prod/myapp/", "/prod/myapp/feature.flags-v2")).toBe("FEATURE_FLAGS_V2");
    expect(variableFor("/prod/myapp/", "/prod/myapp/2fa/key")).toBe("_2FA_KEY");
  });

  it("resolves --param and --param-path through Coffer's Parameter Store, explicit names winning, clashes refused", async () => {
    for (const [Name, Value] of [
      ["/resolve/myapp/db/host", "db.internal"],
      ["/resolve/myapp/db/password", "pp-secret"],
      ["/resolve/shared/region", "eu-west-1"],
      ["/resolve/clash/a-b", "1"],
      ["/resolve/clash/a_b", "2"],
    ]) {
      await ssm.send(new PutParameterCommand({ Name, Value, Type: "SecureString" }));
    }
    const caches = () => ({ secrets: new SecretCache({ client: run.client }), parameters: new ParameterCache({ client: ssm }) });
    const env = await resolveEnvironment(
      { refs: [parseParamSpec("REGION=/resolve/shared/region"), parseSecretSpec("DB_HOST=app/plain")], paramPaths: ["/resolve/myapp/"] },
      caches(),
    );
    expect(env).toEqual({ DB_HOST: "plain-value-91ad", DB_PASSWORD: "pp-secret", REGION: "eu-west-1" });

    await expect(resolveEnvironment({ refs: [], paramPaths: ["/resolve/clash/"] }, caches())).rejects.toThrow(
      "/resolve/clash/a-b and /resolve/clash/a_b would both be A_B",
    );
    await expect(resolveEnvironment({ refs: [parseParamSpec("X=/nope"), parseSecretSpec("X=app/plain")], paramPaths: [] }, caches())).rejects.toThrow(
      "X is given more than once",
    );
    const failed = await resolveEnvironment({ refs: [parseParamSpec("NOPE=/resolve/nope")], paramPaths: [] }, caches()).catch((e: Error) => e);
    expect((failed as Error).message).toMatch(/NOPE: parameter \/resolve\/nope: ParameterNotFound/);
  });
});

describe("Parameter Store through Coffer", () => {
  it("ParameterCache, the agent's parameter endpoint and coffer run --param/--param-path", async () => {
    await ssm.send(new PutParameterCommand({ Name: "/e2e/app/db/host", Value: "db.internal", Type: "String" }));
    await ssm.send(new PutParameterCommand({ Name: "/e2e/app/db/password", Value: "ssm-pw-55c1", Type: "SecureString" }));
    await ssm.send(new PutParameterCommand({ Name: "/e2e/app/mode", Value: "fast", Type: "String" }));

    const cache = new ParameterCache({ client: ssm });
    expect(await cache.getParameterValue("/e2e/app/db/password")).toBe("ssm-pw-55c1");
    expect((await cache.getParametersByPath("/e2e/app", { recursive: true })).map((p) => p.Name).sort()).toEqual([
      "/e2e/app/db/host",
      "/e2e/app/db/password",
      "/e2e/app/mode",
    ]);

    const agent = createAgent({ port: 0, token: TOKEN, secretsClient: run.client, ssmClient: ssm });
    const url = await agent.listen();
    try {
      const res = await fetch(`${url}/systemsmanager/parameters/get?name=${encodeURIComponent("/e2e/app/db/password")}&withDecryption=true`, {
        headers: { "X-Aws-Parameters-Secrets-Token": TOKEN },
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { Parameter: Record<string, unknown> };
      expect(body.Parameter).toMatchObject({ Name: "/e2e/app/db/password", Type: "SecureString", Value: "ssm-pw-55c1", Version: 1 });
      const missing = await fetch(`${url}/systemsmanager/parameters/get?name=/e2e/none`, { headers: { "X-Aws-Parameters-Secrets-Token": TOKEN } });
      expect(missing.status).toBe(400);
      expect(((await missing.json()) as { __type: string }).__type).toBe("ParameterNotFound");
    } finally {
      await agent.close();
    }

    const child = coffer(
      ["run", "--endpoint", run.url, "--param-path", "/e2e/app/", "--param", "APP_MODE=/e2e/app/mode", "--", process.execPath, printEnv, "DB_HOST", "DB_PASSWORD", "MODE", "APP_MODE"],
      baseEnv(),
    );
    const out = await finished(child);
    expect(out.stderr).toBe("");
    expect(JSON.parse(out.stdout)).toEqual({
      DB_HOST: { length: 11, sha256: sha("db.internal") },
      DB_PASSWORD: { length: 11, sha256: sha("ssm-pw-55c1") },
      MODE: { length: 4, sha256: sha("fast") },
      APP_MODE: { length: 4, sha256: sha("fast") },
    });
  }, 60_000);

  it("runs the documented example: two secrets and a parameter path, exactly as the issue writes it", async () => {
    const db = { username: "app", password: "example-db-pw-3e9d" };
    await run.client.send(new CreateSecretCommand({ Name: "prod/myapp/db", SecretString: JSON.stringify(db) }));
    await run.client.send(new CreateSecretCommand({ Name: "prod/payments/stripe-key", SecretString: "sk_example_b71c" }));
    await ssm.send(new PutParameterCommand({ Name: "/prod/myapp/db/host", Value: "db.prod.internal", Type: "String" }));
    await ssm.send(new PutParameterCommand({ Name: "/prod/myapp/log-level", Value: "warn", Type: "SecureString" }));
    const out = await finished(
      coffer(
        [
          "run",
          "--endpoint",
          run.url,
          "--secret",
          "DB_PASSWORD=prod/myapp/db:password",
          "--secret",
          "API_KEY=prod/payments/stripe-key",
          "--param-path",
          "/prod/myapp/",
          "--",
          process.execPath,
          printEnv,
          "DB_PASSWORD",
          "API_KEY",
          "DB_HOST",
          "LOG_LEVEL",
        ],
        baseEnv(),
      ),
    );
    expect(out.stderr).toBe("");
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual({
      DB_PASSWORD: { length: db.password.length, sha256: sha(db.password) },
      API_KEY: { length: 15, sha256: sha("sk_example_b71c") },
      DB_HOST: { length: 16, sha256: sha("db.prod.internal") },
      LOG_LEVEL: { length: 4, sha256: sha("warn") },
    });
    for (const value of [db.password, "sk_example_b71c", "db.prod.internal"]) expect(out.stdout).not.toContain(value);
  }, 60_000);
});
