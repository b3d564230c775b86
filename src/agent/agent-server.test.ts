import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Agent as HttpAgent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { GetSecretValueCommand, GetSecretValueCommandOutput } from "@aws-sdk/client-secrets-manager";
import {
  GetParameterCommand,
  type GetParameterCommandOutput,
  type GetParametersByPathCommand,
  type GetParametersByPathCommandOutput,
} from "@aws-sdk/client-ssm";
import { afterEach, describe, expect, it } from "vitest";
import type { SsmSender } from "../client/parameter-cache.ts";
import { createAgent, isLoopback, readSsrfToken, type Agent, type AgentOptions } from "./agent-server.ts";

const TOKEN = "test-token-0123456789";
const clientError = (name: string, status = 400) =>
  Object.assign(new Error(`${name} message`), { name, $fault: "client", $metadata: { httpStatusCode: status } });

class FakeSecrets {
  calls: object[] = [];
  send = async (command: GetSecretValueCommand): Promise<GetSecretValueCommandOutput> => {
    this.calls.push(command.input);
    const { SecretId, VersionStage, VersionId } = command.input;
    if (SecretId === "missing") throw clientError("ResourceNotFoundException");
    if (SecretId === "denied") throw clientError("AccessDeniedException");
    if (SecretId === "unreachable") throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED", $metadata: { attempts: 2 } });
    if (SecretId === "slow") throw Object.assign(new Error("socket timed out"), { name: "TimeoutError", $metadata: { attempts: 2 } });
    if (SecretId === "broken") throw new TypeError("cannot read properties of undefined");
    if (SecretId === "binary") return { $metadata: {}, Name: "binary", VersionId: "v1", SecretBinary: new Uint8Array([0, 1, 255]) };
    return {
      $metadata: { httpStatusCode: 200 },
      ARN: `arn:aws:secretsmanager:us-east-1:000000000000:secret:${SecretId}-AbCdEf`,
      Name: SecretId,
      VersionId: VersionId ?? "v1",
      SecretString: `value-${this.calls.length}`,
      VersionStages: [VersionStage ?? "AWSCURRENT"],
      CreatedDate: new Date(1_700_000_000_500),
    };
  };
}

class FakeSsm implements SsmSender {
  calls: object[] = [];
  send(command: GetParameterCommand): Promise<GetParameterCommandOutput>;
  send(command: GetParametersByPathCommand): Promise<GetParametersByPathCommandOutput>;
  async send(command: GetParameterCommand | GetParametersByPathCommand): Promise<GetParameterCommandOutput | GetParametersByPathCommandOutput> {
    if (!(command instanceof GetParameterCommand)) throw new Error("not used");
    this.calls.push(command.input);
    const { Name, WithDecryption } = command.input;
    if (Name === "/missing") throw clientError("ParameterNotFound");
    return {
      $metadata: {},
      Parameter: {
        Name,
        Type: "SecureString",
        Value: WithDecryption ? "decrypted" : "AQICAH-ciphertext",
        Version: 3,
        ARN: `arn:aws:ssm:us-east-1:000000000000:parameter${Name}`,
        LastModifiedDate: new Date(1_700_000_000_000),
        DataType: "text",
      },
    };
  }
}

const running: Agent[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((a) => a.close()));
});

async function start(options: AgentOptions = {}) {
  const secrets = new FakeSecrets();
  const ssm = new FakeSsm();
  const clock = { t: 0, now() { return this.t; } };
  const agent = createAgent({ port: 0, token: TOKEN, secretsClient: secrets, ssmClient: ssm, clock, ...options });
  running.push(agent);
  const url = await agent.listen();
  const get = (path: string, headers: Record<string, string> = { "X-Aws-Parameters-Secrets-Token": TOKEN }, method = "GET") =>
    fetch(url + path, { method, headers }).then(async (r) => ({ status: r.status, type: r.headers.get("content-type"), text: await r.text() }));
  return { agent, url, secrets, ssm, clock, get };
}

describe("agent", () => {
  it("answers GetSecretValue's JSON, query and path style, from a cache with the TTL", async () => {
    const { get, secrets, clock } = await start();
    const a = await get("/secretsmanager/get?secretId=prod%2Fdb");
    expect(a.status).toBe(200);
    expect(a.type).toBe("application/json");
    expect(a.text).toBe(
      '{"ARN":"arn:aws:secretsmanager:us-east-1:000000000000:secret:prod/db-AbCdEf","Name":"prod/db","VersionId":"v1",' +
        '"SecretString":"value-1","VersionStages":["AWSCURRENT"],"CreatedDate":1700000000.5}',
    );
    expect((await get("/secretsmanager/get?secretId=prod/db")).text).toBe(a.text);
    expect((await get("/v1/prod/db")).text).toBe(a.text);
    expect(secrets.calls).toHaveLength(1);
    clock.t += 299_999;
    await get("/v1/prod%2Fdb");
    expect(secrets.calls).toHaveLength(1);
    clock.t += 1;
    expect(JSON.parse((await get("/v1/prod/db")).text).SecretString).toBe("value-2");
    expect(JSON.parse((await get("/secretsmanager/get?secretId=prod/db&refreshNow=true")).text).SecretString).toBe("value-3");
    expect(JSON.parse((await get("/secretsmanager/get?secretId=prod/db&refreshNow=0")).text).SecretString).toBe("value-3");
    expect(JSON.parse((await get("/v1/prod/db?refreshNow=1")).text).SecretString).toBe("value-4");
  });

  it("passes version stage and id through, and returns binaries in base64", async () => {
    const { get, secrets } = await start();
    const prev = JSON.parse((await get("/secretsmanager/get?secretId=db&versionStage=AWSPREVIOUS")).text);
    expect(prev.VersionStages).toEqual(["AWSPREVIOUS"]);
    const byId = JSON.parse((await get("/v1/db?versionId=v9")).text);
    expect(byId.VersionId).toBe("v9");
    expect(secrets.calls).toEqual([
      { SecretId: "db", VersionStage: "AWSPREVIOUS", VersionId: undefined },
      { SecretId: "db", VersionStage: undefined, VersionId: "v9" },
    ]);
    expect(JSON.parse((await get("/v1/binary")).text)).toEqual({ Name: "binary", VersionId: "v1", SecretBinary: "AAH/" });
  });

  it("does not cache with a TTL of 0", async () => {
    const { get, secrets } = await start({ ttlSeconds: 0 });
    await get("/v1/db");
    await get("/v1/db");
    expect(secrets.calls).toHaveLength(2);
  });

  it("checks the token (either header), X-Forwarded-For, the method and the parameters", async () => {
    const { get, secrets } = await start();
    expect(await get("/ping", {})).toMatchObject({ status: 200, text: "healthy" });
    expect(await get("/v1/db", {})).toMatchObject({ status: 403, text: "Bad Token" });
    expect(await get("/v1/db", { "X-Aws-Parameters-Secrets-Token": TOKEN + "x" })).toMatchObject({ status: 403, text: "Bad Token" });
    expect(await get("/v1/db", { "X-Aws-Parameters-Secrets-Token": "" })).toMatchObject({ status: 403 });
    expect((await get("/v1/db", { "X-Vault-Token": TOKEN })).status).toBe(200);
    expect((await get("/v1/db", { "X-Vault-Token": "wrong", "X-Aws-Parameters-Secrets-Token": TOKEN })).status).toBe(200);
    expect(await get("/v1/db", { "X-Aws-Parameters-Secrets-Token": TOKEN, "X-Forwarded-For": "10.0.0.1" })).toMatchObject({
      status: 400,
      text: "Forwarded",
    });
    expect(await get("/v1/db", { "X-Aws-Parameters-Secrets-Token": TOKEN }, "POST")).toMatchObject({ status: 405, text: "Not allowed" });
    expect(await get("/v1/db", { "X-Aws-Parameters-Secrets-Token": TOKEN }, "DELETE")).toMatchObject({ status: 405 });
    // AWS's order: the token before the method; /ping takes no token but only GET.
    expect(await get("/v1/db", {}, "POST")).toMatchObject({ status: 403, text: "Bad Token" });
    expect(await get("/ping", {}, "POST")).toMatchObject({ status: 405, text: "Not allowed" });
    expect(await get("/ping", { "X-Forwarded-For": "10.0.0.1" })).toMatchObject({ status: 200, text: "healthy" });
    expect(await get("/secretsmanager/get?secretId=db&foo=1")).toMatchObject({ status: 400, text: "unknown parameter: foo" });
    expect(await get("/v1/db?secretId=x")).toMatchObject({ status: 400, text: "unknown parameter: secretId" });
    expect(await get("/secretsmanager/get")).toMatchObject({ status: 400, text: "missing parameter secretId" });
    expect(await get("/secretsmanager/get?secretId=")).toMatchObject({ status: 400, text: "missing parameter secretId" });
    expect(await get("/v1/")).toMatchObject({ status: 400, text: "missing secret ID" });
    expect(await get("/secretsmanager/get?secretId=db&refreshNow=yes")).toMatchObject({ status: 400, text: "invalid refreshNow value" });
    expect(await get("/elsewhere")).toMatchObject({ status: 404, text: "Not found" });
    expect(secrets.calls).toHaveLength(1);
  });

  it("passes service errors through as AWS's agent does; 502 unreachable, 504 timeout, 500 otherwise; logs names only", async () => {
    const logged: object[] = [];
    const { get } = await start({ log: (message, fields) => logged.push({ message, ...fields }) });
    const missing = await get("/v1/missing");
    expect(missing.status).toBe(400);
    expect(JSON.parse(missing.text)).toEqual({ __type: "ResourceNotFoundException", message: "ResourceNotFoundException message" });
    const denied = await get("/v1/denied");
    expect(denied.status).toBe(400);
    expect(JSON.parse(denied.text).__type).toBe("AccessDeniedException");
    expect(await get("/v1/unreachable")).toMatchObject({ status: 502, text: '{"__type":"ConnectionError","message":"Read Error"}' });
    expect(await get("/v1/slow")).toMatchObject({ status: 504, text: '{"__type":"TimeoutError","message":"Timeout"}' });
    expect(await get("/v1/broken")).toMatchObject({ status: 500, text: '{"__type":"InternalFailure"}' });
    expect(logged).toEqual([
      { message: "upstream error", error: "ResourceNotFoundException", status: 400 },
      { message: "upstream error", error: "AccessDeniedException", status: 400 },
      { message: "upstream error", error: "Error", code: "ECONNREFUSED" },
      { message: "upstream error", error: "TimeoutError" },
      { message: "upstream error", error: "TypeError" },
    ]);
  });

  it("serves parameters as GetParameter's JSON, decrypted only when asked", async () => {
    const { get, ssm } = await start();
    const plain = JSON.parse((await get("/systemsmanager/parameters/get?name=/app/pw")).text);
    expect(plain.Parameter.Value).toBe("AQICAH-ciphertext");
    const res = await get("/systemsmanager/parameters/get?name=%2Fapp%2Fpw&withDecryption=true");
    expect(JSON.parse(res.text)).toEqual({
      Parameter: {
        ARN: "arn:aws:ssm:us-east-1:000000000000:parameter/app/pw",
        DataType: "text",
        LastModifiedDate: 1700000000,
        Name: "/app/pw",
        Type: "SecureString",
        Value: "decrypted",
        Version: 3,
      },
    });
    await get("/systemsmanager/parameters/get?name=/app/pw&withDecryption=true");
    await get("/systemsmanager/parameters/get?name=/app/pw&version=3");
    expect(ssm.calls).toEqual([
      { Name: "/app/pw", WithDecryption: false },
      { Name: "/app/pw", WithDecryption: true },
      { Name: "/app/pw:3", WithDecryption: false },
    ]);
    expect(await get("/systemsmanager/parameters/get")).toMatchObject({ status: 400, text: "missing parameter name" });
    expect(await get("/systemsmanager/parameters/get?name=/x&secretId=1")).toMatchObject({ status: 400, text: "unknown parameter: secretId" });
    expect((await get("/systemsmanager/parameters/get?name=/missing")).status).toBe(400);
    expect((await get("/systemsmanager/parameters/get?name=/app/pw", {})).status).toBe(403);
  });

  it("answers 429 on connections past the limit (not to /ping)", async () => {
    const { url } = await start({ maxConnections: 2 });
    const { hostname, port } = new URL(url);
    // Three sockets held open at once: the third is past the limit.
    const agents = [0, 1, 2].map(() => new HttpAgent({ keepAlive: true, maxSockets: 1 }));
    const statuses: number[] = [];
    const call = (agent: HttpAgent, path: string) =>
      new Promise<number>((resolve, reject) => {
        request({ hostname, port, path, agent, headers: { "X-Aws-Parameters-Secrets-Token": TOKEN } }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        })
          .on("error", reject)
          .end();
      });
    for (const agent of agents) statuses.push(await call(agent, "/v1/db"));
    statuses.push(await call(agents[2], "/ping"));
    expect(statuses).toEqual([200, 200, 429, 200]);
    for (const a of agents) a.destroy();
  });

  it("refuses a non-loopback address unless allowed, and out-of-range settings", () => {
    expect(() => createAgent({ token: TOKEN, host: "0.0.0.0" })).toThrow(/Refusing to listen on 0.0.0.0/);
    expect(() => createAgent({ token: TOKEN, host: "10.1.2.3" })).toThrow(/--allow-remote/);
    expect(() => createAgent({ token: TOKEN, host: "0.0.0.0", allowRemote: true, secretsClient: new FakeSecrets(), ssmClient: new FakeSsm() })).not.toThrow();
    expect(isLoopback("127.0.0.1")).toBe(true);
    expect(isLoopback("127.1.2.3")).toBe(true);
    expect(isLoopback("::1")).toBe(true);
    expect(isLoopback("localhost")).toBe(true);
    expect(isLoopback("::")).toBe(false);
    expect(isLoopback("example.com")).toBe(false);
    expect(() => createAgent({ token: TOKEN, ttlSeconds: 3601 })).toThrow(RangeError);
    expect(() => createAgent({ token: TOKEN, cacheSize: 0 })).toThrow(RangeError);
    expect(() => createAgent({ token: TOKEN, maxConnections: 1001 })).toThrow(RangeError);
    expect(() => createAgent({ token: TOKEN, port: 80 })).toThrow(RangeError);
    expect(() => createAgent({ token: TOKEN, pathPrefix: "v1/" })).toThrow(/must begin with \//);
  });
});

describe("readSsrfToken", () => {
  it("takes the first variable set, in AWS's order, and reads file:// values", () => {
    expect(readSsrfToken({ AWS_SESSION_TOKEN: "b", AWS_CONTAINER_AUTHORIZATION_TOKEN: "c" })).toBe("b");
    expect(readSsrfToken({ AWS_TOKEN: "a", AWS_SESSION_TOKEN: "b" })).toBe("a");
    expect(readSsrfToken({ AWS_CONTAINER_AUTHORIZATION_TOKEN: "c" })).toBe("c");
    const dir = mkdtempSync(join(tmpdir(), "coffer-token-"));
    try {
      const file = join(dir, "awssmatoken");
      writeFileSync(file, "from-file\n");
      expect(readSsrfToken({ AWS_TOKEN: pathToFileURL(file).href })).toBe("from-file");
      expect(readSsrfToken({ AWS_TOKEN: "", AWS_SESSION_TOKEN: `file://${file}` })).toBe("from-file");
      writeFileSync(file, "");
      expect(() => readSsrfToken({ AWS_TOKEN: pathToFileURL(file).href })).toThrow(/empty/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(() => readSsrfToken({})).toThrow(/No SSRF token/);
    expect(() => createAgent({ env: {} })).toThrow(/No SSRF token/);
  });
});
