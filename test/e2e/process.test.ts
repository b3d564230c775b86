import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import { connect } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CreateSecretCommand, GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { afterEach, describe, expect, it } from "vitest";
import { coffer, finished } from "./cli-process.ts";
import { printedCredentials, spawnServer, type Spawned } from "./spawn.ts";
import { spawnedCleanup } from "./spawned.ts";
import { signedHeaders } from "./raw.ts";

/**
 * Process hygiene (issue 15, item 1), each through the real command: the
 * version, clear start-up errors, the log as it happens, a graceful stop on
 * SIGTERM and SIGINT, and `npm start` passing a signal on to the server.
 */

const root = fileURLToPath(new URL("../..", import.meta.url));
const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
const cleanup = spawnedCleanup("coffer-process-");
/** Servers started by `npm start`, killed after the test even when it fails midway. */
const started: number[] = [];
afterEach(() => {
  for (const pid of started.splice(0)) if (alive(pid)) process.kill(pid, "SIGKILL");
});
const env = (dir: string) => ({ PATH: process.env.PATH, HOME: dir, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" });

/** JSON log lines (the server writes its log to stdout, beside a few plain lines for people). */
const logLines = (output: string) =>
  output
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** Resolves once the process's output satisfies `test` (the test's timeout bounds the wait). */
function outputMatches(s: Spawned, test: (output: string) => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (!test(s.output())) return;
      s.child.stdout!.off("data", check);
      resolve();
    };
    s.child.stdout!.on("data", check);
    // Registered after spawnServer's own listener, so output() already holds this chunk.
    check();
  });
}

const refused = (url: string) =>
  new Promise<boolean>((resolve) => {
    const u = new URL(url);
    const socket = connect(Number(u.port), u.hostname);
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", (err: NodeJS.ErrnoException) => resolve(err.code === "ECONNREFUSED"));
  });

describe("the command line", () => {
  it("prints the package's version", async () => {
    const dir = cleanup.tempDir();
    for (const flag of ["--version", "-V"]) {
      const r = await finished(coffer([flag], env(dir)));
      expect(r).toMatchObject({ code: 0, stdout: `${version}\n` });
    }
  });

  it("refuses a bad value with a message and exit code 2, not a stack trace", async () => {
    const dir = cleanup.tempDir();
    const r = await finished(coffer(["server", "--data-dir", dir, "--port", "0", "--log-level", "verbose"], env(dir)));
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('coffer: Invalid log level "verbose": use one of fatal, error, warn, info, debug, trace, silent.\n');
    const fromEnv = await finished(coffer(["server", "--data-dir", dir, "--port", "0"], { ...env(dir), COFFER_LOG_LEVEL: "loud" }));
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toMatch(/^coffer: Invalid log level "loud"/);
    // The command line is checked the same way: a usage error is exit 2 too.
    const usage = await finished(coffer(["whoami", "--output", "yaml"], env(dir)));
    expect(usage).toMatchObject({ code: 2, stderr: "error: option '--output <format>' argument 'yaml' is invalid. Allowed choices are text, json.\n" });
  });

  it("refuses an unknown key in the config file, naming the nearest valid one", async () => {
    const dir = cleanup.tempDir();
    const file = join(dir, "coffer.json");
    writeFileSync(file, JSON.stringify({ port: 0, bodyLimt: 4096 }));
    const r = await finished(coffer(["server", "--data-dir", join(dir, "data"), "--config", file], env(dir)));
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`coffer: ${file}: Unknown setting "bodyLimt": did you mean "bodyLimit"?\n`);
    expect(r.stdout).not.toMatch(/listening/);
  });

  it("warns in the log of an unknown COFFER_ variable, and starts", async () => {
    const dir = cleanup.tempDir();
    const s = cleanup.track(await spawnServer(["--data-dir", dir], { COFFER_LOG_LEVL: "debug" }));
    const warning = logLines(s.output()).find((l) => String(l.msg).includes("COFFER_LOG_LEVL"));
    expect(warning).toMatchObject({ level: 40, msg: 'Unknown environment variable "COFFER_LOG_LEVL": did you mean "COFFER_LOG_LEVEL"? It is ignored.' });
  });
});

describe("the log", () => {
  it("writes each line as it happens, each request's with its request id, never a secret value", async () => {
    const dir = cleanup.tempDir();
    const s = cleanup.track(await spawnServer(["--data-dir", dir, "--log-level", "debug"]));
    const client = new SecretsManagerClient({ endpoint: s.url, region: "us-east-1", credentials: printedCredentials(s.output()), maxAttempts: 1 });
    const value = "log-must-not-hold-this-7f3a9c";
    const created = await client.send(new CreateSecretCommand({ Name: "process/log", SecretString: value }));
    const requestId = created.$metadata.requestId!;
    // The server keeps running: a buffered log would hold this one line back (4 KB at a time).
    await outputMatches(s, (out) => out.includes(requestId));
    const line = logLines(s.output()).find((l) => l.reqId === requestId);
    expect(line).toMatchObject({ msg: "request", status: 200, target: "secretsmanager.CreateSecret" });
    const got = await client.send(new GetSecretValueCommand({ SecretId: "process/log" }));
    await outputMatches(s, (out) => out.includes(got.$metadata.requestId!));
    expect(s.output()).not.toContain(value);
    expect(s.child.exitCode).toBeNull();
  });
});

describe("stopping", () => {
  it("on SIGTERM stops accepting, finishes the request in flight, flushes the audit, and exits 0", async () => {
    const dir = cleanup.tempDir();
    const s = cleanup.track(await spawnServer(["--data-dir", dir]));
    const credentials = printedCredentials(s.output());
    const body = JSON.stringify({ Name: "process/in-flight", SecretString: "written while stopping" });
    const headers = await signedHeaders(s.url, { target: "secretsmanager.CreateSecret", body, credentials });
    const u = new URL(s.url);
    const req = http.request({ host: u.hostname, port: u.port, method: "POST", path: "/", headers: { ...headers, "content-length": Buffer.byteLength(body) } });
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      req.once("response", (res) => {
        let text = "";
        res.on("data", (d: Buffer) => (text += d.toString()));
        res.on("end", () => resolve({ status: res.statusCode!, body: text }));
      });
      req.once("error", reject);
    });
    // Half the body: the request is in flight when the signal comes.
    req.write(body.slice(0, 10));
    await new Promise<void>((resolve) => req.once("socket", (sock) => (sock.connecting ? sock.once("connect", () => resolve()) : resolve())));
    s.child.kill("SIGTERM");
    await outputMatches(s, (out) => out.includes('"signal":"SIGTERM"'));
    expect(await refused(s.url)).toBe(true);
    req.end(body.slice(10));
    expect(await response).toMatchObject({ status: 200 });
    expect(await s.exited).toBe(0);
    expect(logLines(s.output()).map((l) => l.msg)).toContain("stopped");

    // The write is there after a restart, and its audit event made the chain.
    const verified = await finished(coffer(["audit", "verify", "--data-dir", dir], env(dir)));
    expect(verified).toMatchObject({ code: 0, stdout: expect.stringMatching(/^audit trail intact/) });
    const again = cleanup.track(await spawnServer(["--data-dir", dir]));
    const client = new SecretsManagerClient({ endpoint: again.url, region: "us-east-1", credentials, maxAttempts: 1 });
    expect((await client.send(new GetSecretValueCommand({ SecretId: "process/in-flight" }))).SecretString).toBe("written while stopping");
  });

  it("on SIGINT stops the same way", async () => {
    const dir = cleanup.tempDir();
    const s = cleanup.track(await spawnServer(["--data-dir", dir]));
    s.child.kill("SIGINT");
    expect(await s.exited).toBe(0);
    expect(logLines(s.output()).find((l) => l.msg === "stopped")).toBeDefined();
    expect(await refused(s.url)).toBe(true);
  });

  it("npm start hands a SIGTERM to the server: no server is left behind", async () => {
    const dir = cleanup.tempDir();
    const npm = spawn("npm", ["start", "--silent"], {
      cwd: root,
      env: { ...env(dir), COFFER_DATA_DIR: join(dir, "data"), COFFER_PORT: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    npm.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    npm.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    const npmExited = new Promise<void>((resolve) => npm.once("close", () => resolve()));
    await new Promise<void>((resolve) => {
      const check = () => /Coffer listening on \S+\n/.test(out) && logLines(out).some((l) => l.msg === "coffer listening") && resolve();
      npm.stdout!.on("data", check);
    });
    const url = /Coffer listening on (\S+)/.exec(out)![1];
    const serverPid = logLines(out).find((l) => l.msg === "coffer listening")!.pid as number;
    started.push(serverPid);
    expect(serverPid).not.toBe(npm.pid);
    npm.kill("SIGTERM");
    await npmExited;
    // Gone (not merely orphaned): polled until it has exited, the test's timeout bounds the wait.
    while (alive(serverPid)) await new Promise((r) => setTimeout(r, 50));
    expect(logLines(out).map((l) => l.msg)).toContain("stopped");
    expect(await refused(url)).toBe(true);
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
