import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { printedCredentials, spawnServer, type Spawned } from "./spawn.ts";

const run = promisify(execFile);
const AWS_V2 = "/usr/bin/aws";
// CI installs the Debian awscli package (CLI v2); elsewhere this suite says why it is skipped.
const haveCli = existsSync(AWS_V2);
if (!haveCli) {
  if (process.env.CI) throw new Error(`${AWS_V2} (Debian package awscli) is required in CI`);
  console.warn(`skipping aws CLI v2 tests: ${AWS_V2} not installed (apt-get install awscli)`);
}

describe.skipIf(!haveCli)("the aws CLI v2 against a real server", () => {
  let server: Spawned;
  let dataDir: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "coffer-cli-"));
    server = await spawnServer(["--data-dir", dataDir]);
    printedCredentials(server.output());
    // Exactly as the README says: point the CLI at the credentials file the first start wrote.
    env = {
      PATH: process.env.PATH,
      HOME: dataDir,
      AWS_SHARED_CREDENTIALS_FILE: join(dataDir, "admin-credentials"),
      AWS_CONFIG_FILE: join(dataDir, "no-config"),
      AWS_REGION: "us-east-1",
      AWS_PAGER: "",
    };
  });
  afterAll(async () => {
    server.child.kill("SIGTERM");
    await server.exited;
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function aws(...args: string[]): Promise<any> {
    const { stdout } = await run(AWS_V2, ["--endpoint-url", server.url, "--output", "json", "secretsmanager", ...args], { env });
    return stdout.trim() ? JSON.parse(stdout) : {};
  }

  async function awsFails(...args: string[]): Promise<string> {
    try {
      await aws(...args);
    } catch (err) {
      return (err as { stderr: string }).stderr;
    }
    throw new Error("expected the aws CLI to fail");
  }

  it("creates, gets, puts, lists, deletes and restores", async () => {
    const created = await aws("create-secret", "--name", "cli/db", "--secret-string", '{"user":"app","password":"p1"}');
    expect(created.Name).toBe("cli/db");
    expect(created.ARN).toMatch(/^arn:aws:secretsmanager:us-east-1:000000000000:secret:cli\/db-[A-Za-z0-9]{6}$/);

    const got = await aws("get-secret-value", "--secret-id", "cli/db");
    expect(JSON.parse(got.SecretString)).toEqual({ user: "app", password: "p1" });
    expect(got.VersionStages).toEqual(["AWSCURRENT"]);

    const put = await aws("put-secret-value", "--secret-id", "cli/db", "--secret-string", "p2");
    expect(put.VersionStages).toEqual(["AWSCURRENT"]);
    expect((await aws("get-secret-value", "--secret-id", "cli/db")).SecretString).toBe("p2");
    expect((await aws("get-secret-value", "--secret-id", "cli/db", "--version-stage", "AWSPREVIOUS")).SecretString).toContain("p1");

    const listed = await aws("list-secrets");
    expect(listed.SecretList.map((s: { Name: string }) => s.Name)).toContain("cli/db");

    const deleted = await aws("delete-secret", "--secret-id", "cli/db", "--recovery-window-in-days", "7");
    expect(deleted.Name).toBe("cli/db");
    expect(await awsFails("get-secret-value", "--secret-id", "cli/db")).toContain("InvalidRequestException");

    await aws("restore-secret", "--secret-id", "cli/db");
    expect((await aws("get-secret-value", "--secret-id", "cli/db")).SecretString).toBe("p2");

    expect(await awsFails("get-secret-value", "--secret-id", "cli/none")).toContain("ResourceNotFoundException");
    const password = await aws("get-random-password", "--password-length", "24", "--exclude-punctuation");
    expect(password.RandomPassword).toMatch(/^[A-Za-z0-9]{24}$/);
  });
});

describe.skipIf(!haveCli)("HTTPS with --tls auto", () => {
  it("serves TLS with a self-signed certificate the CLI trusts through AWS_CA_BUNDLE", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "coffer-tls-"));
    const server = await spawnServer(["--data-dir", dataDir, "--tls", "auto"]);
    try {
      expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(statSync(join(dataDir, "tls-key.pem")).mode & 0o777).toBe(0o600);
      const env = {
        PATH: process.env.PATH,
        HOME: dataDir,
        AWS_SHARED_CREDENTIALS_FILE: join(dataDir, "admin-credentials"),
        AWS_CONFIG_FILE: join(dataDir, "no-config"),
        AWS_REGION: "us-east-1",
        AWS_CA_BUNDLE: join(dataDir, "tls-cert.pem"),
      };
      const base = ["--endpoint-url", server.url, "--output", "json", "secretsmanager"];
      await run(AWS_V2, [...base, "create-secret", "--name", "tls/a", "--secret-string", "over-tls"], { env });
      const { stdout } = await run(AWS_V2, [...base, "get-secret-value", "--secret-id", "tls/a"], { env });
      expect(JSON.parse(stdout).SecretString).toBe("over-tls");
      // Without trusting the certificate the CLI refuses to talk to it.
      const { AWS_CA_BUNDLE: _trusted, ...untrusted } = env;
      await expect(run(AWS_V2, [...base, "list-secrets"], { env: untrusted })).rejects.toThrow(/SSL|certificate/i);
    } finally {
      server.child.kill("SIGTERM");
      await server.exited;
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
