import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { createServer as createTcpServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CloudTrailClient, LookupEventsCommand } from "@aws-sdk/client-cloudtrail";
import { CreateRoleCommand, IAMClient } from "@aws-sdk/client-iam";
import { CreateSecretCommand, GetSecretValueCommand, ListSecretsCommand, RotateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawCall } from "../e2e/raw.ts";
import { printedCredentials, spawnServer, type Spawned } from "../e2e/spawn.ts";

/**
 * Issue 12, item 12 (rotation functions): a command or webhook that
 * misbehaves — exits without reading its stdin, hangs, floods its output,
 * answers garbage — fails its step with a clear reason, bounded in time and
 * memory, and the server (a real process here) keeps serving.
 */

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
const fn = (name: string) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;
const dir = mkdtempSync(join(tmpdir(), "coffer-bounds-"));
const pidFile = join(dir, "pids.json");
let server: Spawned;
let credentials: { accessKeyId: string; secretAccessKey: string };
let sm: SecretsManagerClient;
let trail: CloudTrailClient;
const tcpServers: Server[] = [];

async function admin(operation: string, body: object) {
  const res = await rawCall(server.url, { target: `Coffer.${operation}`, body: JSON.stringify(body), credentials, service: "coffer" });
  return { status: res.status, body: res.json() };
}

/** Rotates a new secret with `functionName` and waits (a hang detector, well past the 2 s step timeout) for its RotationFailed event. */
async function failedRotation(secretName: string, functionName: string): Promise<string> {
  await sm.send(new CreateSecretCommand({ Name: secretName, SecretString: "v0" }));
  await sm.send(new RotateSecretCommand({ SecretId: secretName, RotationLambdaARN: fn(functionName) }));
  for (let i = 0; i < 200; i++) {
    const { Events = [] } = await trail.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: "EventName", AttributeValue: "RotationFailed" }] }));
    const mine = Events.map((e) => e.CloudTrailEvent ?? "").find((e) => e.includes(`secret:${secretName}-`));
    if (mine) return mine;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no RotationFailed event for ${secretName}; server output:\n${server.output().slice(-2000)}`);
}

async function stillServes(secretName: string): Promise<void> {
  expect(server.child.exitCode).toBeNull();
  expect((await sm.send(new GetSecretValueCommand({ SecretId: secretName }))).SecretString).toBe("v0");
  expect((await sm.send(new ListSecretsCommand({}))).SecretList?.length).toBeGreaterThan(0);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

beforeAll(async () => {
  server = await spawnServer(["--data-dir", join(dir, "data")], {
    COFFER_ROTATION_STEP_TIMEOUT_SECONDS: "2",
    // The misbehaving webhook receivers below are on loopback.
    COFFER_WEBHOOK_ALLOWED_NETWORKS: "127.0.0.0/8",
  });
  credentials = printedCredentials(server.output());
  sm = new SecretsManagerClient({ endpoint: server.url, region: "us-east-1", credentials, maxAttempts: 1 });
  trail = new CloudTrailClient({ endpoint: server.url, region: "us-east-1", credentials, maxAttempts: 1 });
  const iam = new IAMClient({ endpoint: server.url, region: "us-east-1", credentials, maxAttempts: 1 });
  await iam.send(
    new CreateRoleCommand({
      RoleName: "rotator",
      AssumeRolePolicyDocument: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { AWS: "arn:aws:iam::000000000000:root" }, Action: "sts:AssumeRole" }] }),
    }),
  );
  // Command functions are the operator's: registered with the founding account's admin key.
  const role = "arn:aws:iam::000000000000:role/rotator";
  for (const [name, args] of [
    // A shell script, which exits before Coffer has written the event (a node script starts too slowly to).
    ["ignores-stdin", []],
    ["hangs", [fixture("rotator-hangs.mjs"), pidFile]],
    ["floods", [fixture("rotator-floods-output.mjs")]],
  ] as const) {
    const program = name === "ignores-stdin" ? fixture("rotator-ignores-stdin.sh") : process.execPath;
    expect((await admin("RegisterRotationFunction", { FunctionName: name, Command: { Program: program, Args: args, RoleArn: role } })).status).toBe(200);
  }
});
afterAll(async () => {
  server.child.kill("SIGTERM");
  await server.exited;
  for (const s of tcpServers) s.close();
  if (existsSync(pidFile)) for (const pid of JSON.parse(readFileSync(pidFile, "utf8")) as number[]) if (alive(pid)) process.kill(pid, "SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

describe("a misbehaving command rotation function", () => {
  it("that exits without reading its stdin does not crash the server (no unhandled EPIPE)", async () => {
    // The write races the exit: a few tries make the EPIPE all but certain.
    for (let i = 0; i < 8; i++) {
      const failed = await failedRotation(`bounds/epipe-${i}`, "ignores-stdin");
      expect(failed).toMatch(/createSecret did not put a value/);
    }
    await stillServes("bounds/epipe-0");
  });

  it("that hangs is killed, with whatever it started, at the step timeout", async () => {
    const failed = await failedRotation("bounds/hang", "hangs");
    expect(failed).toMatch(/createSecret failed: the rotation command was killed: it did not finish within 2 s/);
    const pids = JSON.parse(readFileSync(pidFile, "utf8")) as number[];
    for (let i = 0; i < 50 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
    expect(pids.filter(alive)).toEqual([]);
    await stillServes("bounds/hang");
  });

  it("that floods its output is killed past 1 MiB", async () => {
    const failed = await failedRotation("bounds/flood", "floods");
    expect(failed).toMatch(/the rotation command was killed: it wrote more than 1048576 bytes of output/);
    await stillServes("bounds/flood");
  });
});

describe("a misbehaving webhook rotation function", () => {
  async function tcpReceiver(onConnection: (socket: import("node:net").Socket) => void): Promise<string> {
    const s = createTcpServer(onConnection);
    tcpServers.push(s);
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    return `http://127.0.0.1:${(s.address() as { port: number }).port}/`;
  }

  it("that never answers fails at the step timeout", async () => {
    const url = await tcpReceiver(() => undefined);
    expect((await admin("RegisterRotationFunction", { FunctionName: "silent", Webhook: { Url: url, Secret: "s".repeat(20) } })).status).toBe(200);
    expect(await failedRotation("bounds/silent", "silent")).toMatch(/the rotation webhook did not answer: no complete answer within 2000 ms/);
    await stillServes("bounds/silent");
  });

  it("that answers garbage, or an endless body, fails with a fixed reason", async () => {
    const garbage = await tcpReceiver((s) => s.on("data", () => s.end("GARBAGE-7c1 \u0000\u0001 not http\r\n\r\n")));
    expect((await admin("RegisterRotationFunction", { FunctionName: "garbage", Webhook: { Url: garbage, Secret: "s".repeat(20) } })).status).toBe(200);
    const failed = await failedRotation("bounds/garbage", "garbage");
    expect(failed).toMatch(/the rotation webhook did not answer: the receiver's answer is not valid HTTP/);
    expect(failed).not.toContain("GARBAGE-7c1");

    const endless = await tcpReceiver((s) =>
      s.once("data", () => {
        s.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n");
        const chunk = `10000\r\n${"x".repeat(0x10000)}\r\n`;
        const pump = () => {
          while (!s.destroyed && s.write(chunk));
        };
        s.on("drain", pump);
        s.on("error", () => undefined);
        pump();
      }),
    );
    expect((await admin("RegisterRotationFunction", { FunctionName: "endless", Webhook: { Url: endless, Secret: "s".repeat(20) } })).status).toBe(200);
    expect(await failedRotation("bounds/endless", "endless")).toMatch(/the response body is over 1048576 bytes/);
    await stillServes("bounds/endless");
  });
});
