import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { beforeAll, describe, expect, it } from "vitest";
import { coffer, finished } from "./cli-process.ts";
import { printedCredentials, spawnServer, type Spawned } from "./spawn.ts";
import { spawnedCleanup } from "./spawned.ts";

/**
 * One CLI, one way (issue 15, item 6): every command that talks to a server
 * finds it, signs for it and trusts it the same way, by default the local
 * server of the data directory, as its administrator. Two real servers:
 * "local" (--tls auto, account 000000000000, us-east-1) in <work>/.coffer,
 * and "other" (plain HTTP, account 111122223333, eu-west-1) in <home>/.coffer,
 * so the identity that answers says which server a command reached.
 */

const cleanup = spawnedCleanup("coffer-cli-target-", "file");
const printEnv = fileURLToPath(new URL("../fixtures/print-env.mjs", import.meta.url));
const LOCAL_ROOT = "arn:aws:iam::000000000000:root";
const OTHER_ROOT = "arn:aws:iam::111122223333:root";

let work: string; // the directory commands run in; its .coffer is the local server's
let home: string; // HOME; its .coffer is the other server's
let empty: string; // a directory with no .coffer
let local: Spawned;
let other: Spawned;
let localDir: string;
let otherDir: string;

beforeAll(async () => {
  work = cleanup.tempDir();
  home = cleanup.tempDir();
  empty = cleanup.tempDir();
  localDir = join(work, ".coffer");
  otherDir = join(home, ".coffer");
  [local, other] = await Promise.all([
    spawnServer(["--data-dir", localDir, "--tls", "auto"]).then((s) => cleanup.track(s)),
    spawnServer(["--data-dir", otherDir, "--account-id", "111122223333", "--region", "eu-west-1"]).then((s) => cleanup.track(s)),
  ]);
  const client = new SecretsManagerClient({
    endpoint: local.url,
    region: "us-east-1",
    credentials: printedCredentials(local.output()),
    requestHandler: { httpsAgent: { ca: readFileSync(join(localDir, "tls-cert.pem"), "utf8") } },
  });
  await client.send(new CreateSecretCommand({ Name: "target/token", SecretString: "local-token-value" }));
});

/** Nothing of the machine's own AWS setup: no credentials, no region, no endpoint, an empty config file. */
const bare = () => ({
  PATH: process.env.PATH,
  HOME: home,
  AWS_CONFIG_FILE: join(home, "no-config"),
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
});
const otherCredentials = () => ({ AWS_SHARED_CREDENTIALS_FILE: join(otherDir, "admin-credentials") });

async function ok(args: string[], env: Record<string, string | undefined>, cwd = work) {
  const r = await finished(coffer(args, env, cwd));
  expect(r.stderr, `coffer ${args.join(" ")}`).toBe("");
  expect(r.code).toBe(0);
  return r.stdout;
}

describe("by default, the local server as its administrator", () => {
  it("./.coffer first: over its TLS, trusting its own certificate, printed as plain text", async () => {
    const out = await ok(["whoami"], bare());
    expect(out).toMatch(new RegExp(`^Arn +${LOCAL_ROOT}\\nAccount +000000000000\\n`));
  });

  it("then ~/.coffer, with that server's region", async () => {
    expect(await ok(["whoami"], bare(), empty)).toContain(OTHER_ROOT);
  });

  it("--data-dir and COFFER_DATA_DIR name the data directory", async () => {
    expect(await ok(["whoami", "--data-dir", otherDir], bare())).toContain(OTHER_ROOT);
    expect(await ok(["whoami"], { ...bare(), COFFER_DATA_DIR: otherDir })).toContain(OTHER_ROOT);
  });

  it("lists as a table, and --output json is the answer without $metadata", async () => {
    await ok(["user", "create", "table-user"], bare());
    const listed = await ok(["user", "list"], bare());
    expect(listed.split("\n")[0]).toMatch(/^UserName +Arn +CreateDate$/);
    expect(listed).toMatch(/table-user +arn:aws:iam::000000000000:user\/table-user +\d{4}-/);
    const json = JSON.parse(await ok(["user", "list", "--output", "json"], bare())) as { UserName: string }[];
    expect(json.map((u) => u.UserName)).toContain("table-user");
    const who = JSON.parse(await ok(["whoami", "--output", "json"], bare())) as Record<string, unknown>;
    expect(who).toEqual({ UserId: "000000000000", Account: "000000000000", Arn: LOCAL_ROOT });
  });

  it("audit search reads the local trail: text lines, or JSON records", async () => {
    const text = await ok(["audit", "search", "--event-name", "CreateUser", "-n", "5"], bare());
    expect(text).toMatch(/CreateUser/);
    const records = (await ok(["audit", "search", "--event-name", "CreateUser", "-n", "5", "--output", "json"], bare()))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { eventName: string });
    expect(records.length).toBeGreaterThan(0);
    expect(records.every((r) => r.eventName === "CreateUser")).toBe(true);
  });

  it("coffer run reads the local server's secrets", async () => {
    const out = await ok(["run", "--secret", "TOKEN=target/token", "--", process.execPath, printEnv, "TOKEN"], bare());
    expect(JSON.parse(out)).toEqual({ TOKEN: { length: 17, sha256: sha("local-token-value") } });
  });

  it("coffer agent serves the local server's secrets", async () => {
    const agent = cleanup.track({
      child: coffer(["agent", "--port", "0"], { ...bare(), AWS_TOKEN: "agent-token-0123456789" }, work),
      url: "",
      output: () => "",
      exited: Promise.resolve(null),
    }).child;
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      agent.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        const m = /Coffer agent listening on (\S+)/.exec(out);
        if (m) resolve(m[1]);
      });
      agent.once("exit", (code) => reject(new Error(`agent exited with ${code}`)));
    });
    const res = await fetch(`${url}/secretsmanager/get?secretId=target/token`, { headers: { "X-Aws-Parameters-Secrets-Token": "agent-token-0123456789" } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { SecretString: string }).SecretString).toBe("local-token-value");
    agent.kill("SIGTERM");
  });
});

describe("asked for another server, every way the AWS tools are asked", () => {
  it("--endpoint with --region", async () => {
    expect(await ok(["whoami", "--endpoint", other.url, "--region", "eu-west-1"], { ...bare(), ...otherCredentials() })).toContain(OTHER_ROOT);
    // The region is honoured: signed for us-east-1, the eu-west-1 server refuses.
    const wrong = await finished(coffer(["whoami", "--endpoint", other.url, "--region", "us-east-1"], { ...bare(), ...otherCredentials() }, work));
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^coffer: \w+: .*/);
  });

  it("AWS_ENDPOINT_URL, and the per-service variable over it", async () => {
    const env = { ...bare(), ...otherCredentials(), AWS_REGION: "eu-west-1" };
    expect(await ok(["whoami"], { ...env, AWS_ENDPOINT_URL: other.url })).toContain(OTHER_ROOT);
    // Nothing listens at port 9: only the STS variable can have been used.
    expect(await ok(["whoami"], { ...env, AWS_ENDPOINT_URL: "http://127.0.0.1:9", AWS_ENDPOINT_URL_STS: other.url })).toContain(OTHER_ROOT);
    const iam = await ok(["user", "list"], { ...env, AWS_ENDPOINT_URL: "http://127.0.0.1:9", AWS_ENDPOINT_URL_IAM: other.url });
    expect(iam.split("\n")[0]).toMatch(/^UserName/);
  });

  it("--profile and AWS_PROFILE take a profile's credentials and region", async () => {
    const key = printedCredentials(other.output());
    const dir = join(cleanup.tempDir(), "aws");
    mkdirSync(dir);
    writeFileSync(join(dir, "credentials"), `[other]\naws_access_key_id = ${key.accessKeyId}\naws_secret_access_key = ${key.secretAccessKey}\n`);
    writeFileSync(join(dir, "config"), "[profile other]\nregion = eu-west-1\n");
    const env = { ...bare(), AWS_CONFIG_FILE: join(dir, "config"), AWS_SHARED_CREDENTIALS_FILE: join(dir, "credentials") };
    expect(await ok(["whoami", "--profile", "other", "--endpoint", other.url], env)).toContain(OTHER_ROOT);
    expect(await ok(["whoami", "--endpoint", other.url], { ...env, AWS_PROFILE: "other" })).toContain(OTHER_ROOT);
  });

  it("a bad endpoint or data directory is a clear error (exit 2), before anything is sent", async () => {
    const r = await finished(coffer(["whoami", "--endpoint", "127.0.0.1:4599"], bare(), work));
    expect(r).toMatchObject({ code: 2, stderr: 'coffer: --endpoint must be a URL such as http://127.0.0.1:4599 (or "aws" for AWS itself), not "127.0.0.1:4599".\n' });
    const variable = await finished(coffer(["whoami"], { ...bare(), AWS_ENDPOINT_URL: "ftp://example.com" }, work));
    expect(variable).toMatchObject({ code: 2, stderr: 'coffer: AWS_ENDPOINT_URL must be an http:// or https:// URL, not "ftp://example.com".\n' });
    const dir = await finished(coffer(["whoami", "--data-dir", join(empty, "nothing")], bare(), work));
    expect(dir).toMatchObject({ code: 2, stderr: `coffer: There is no Coffer data directory at ${join(empty, "nothing")}.\n` });
  });
});

describe("coffer env", () => {
  it("the server says where its certificate is", () => {
    expect(local.output()).toContain(`TLS certificate to trust: ${join(localDir, "tls-cert.pem")}`);
  });

  it("prints exports that make Node, the AWS CLI and Python use and trust the local server", async () => {
    const exports = await ok(["env"], bare());
    const ca = join(localDir, "tls-cert.pem");
    expect(exports).toContain(`export AWS_ENDPOINT_URL='${local.url}'`);
    expect(exports).toContain(`export AWS_CA_BUNDLE='${ca}'`);
    expect(exports).toContain(`export NODE_EXTRA_CA_CERTS='${ca}'`);
    expect(exports).toContain(`export AWS_SHARED_CREDENTIALS_FILE='${join(localDir, "admin-credentials")}'`);
    const shell = (command: string) =>
      new Promise<string>((resolve, reject) => {
        const sh = spawn("sh", ["-c", `eval "$1" && ${command}`, "sh", exports], { env: { ...bare(), AWS_PAGER: "" }, cwd: empty });
        let out = "";
        let err = "";
        sh.stdout.on("data", (d: Buffer) => (out += d.toString()));
        sh.stderr.on("data", (d: Buffer) => (err += d.toString()));
        sh.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${command}: ${code}\n${err}`))));
      });
    // Node: the SDK with no configuration at all, from a directory without .coffer.
    const sdk = fileURLToPath(new URL("../../node_modules/@aws-sdk/client-sts/dist-cjs/index.js", import.meta.url));
    const node = `${JSON.stringify(process.execPath)} -e 'const s=require(${JSON.stringify(sdk)});new s.STSClient({}).send(new s.GetCallerIdentityCommand({})).then(r=>console.log(r.Arn))'`;
    expect((await shell(node)).trim()).toBe(LOCAL_ROOT);
    if (have("aws", ["--version"])) expect(await shell("aws sts get-caller-identity --output text --query Arn")).toContain(LOCAL_ROOT);
    if (have("python3", ["-c", "import boto3"])) {
      expect((await shell(`python3 -c 'import boto3; print(boto3.client("sts").get_caller_identity()["Arn"])'`)).trim()).toBe(LOCAL_ROOT);
    }
  });
});

function sha(value: string): string {
  return createHash("sha256").update(value).digest("hex").slice(0, 16);
}

function have(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: "ignore" });
    return true;
  } catch {
    console.warn(`skipping the ${command} check of coffer env: ${command} ${args.join(" ")} fails here`);
    return false;
  }
}
