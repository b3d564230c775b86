import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { printedCredentials, spawnServer, type Spawned } from "./spawn.ts";

const run = promisify(execFile);

/**
 * The aws CLIs this machine has: v2 (/usr/bin/aws, Debian's awscli, required
 * in CI) and v1 (`aws` on PATH, e.g. from pip or pyenv), each driven as a user
 * would, with the credentials file the first start wrote.
 */
function clis(): { name: string; bin: string }[] {
  const found: { name: string; bin: string }[] = [];
  if (existsSync("/usr/bin/aws")) found.push({ name: "v2", bin: "/usr/bin/aws" });
  try {
    const onPath = execFileSync("sh", ["-c", "command -v aws"], { encoding: "utf8" }).trim();
    const version = execFileSync(onPath, ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    if (onPath && onPath !== "/usr/bin/aws" && /aws-cli\/1\./.test(version)) found.push({ name: "v1", bin: onPath });
  } catch {
    // no aws on PATH
  }
  return found;
}
const found = clis();
if (!found.some((c) => c.name === "v2")) {
  if (process.env.CI) throw new Error("/usr/bin/aws (Debian package awscli) is required in CI");
}
if (found.length === 0) console.warn("skipping aws ssm CLI tests: no aws CLI installed");

describe.skipIf(found.length === 0)("aws ssm against a real server", () => {
  let server: Spawned;
  let dataDir: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "coffer-ssm-cli-"));
    server = await spawnServer(["--data-dir", dataDir]);
    printedCredentials(server.output());
    env = {
      ...process.env,
      AWS_SHARED_CREDENTIALS_FILE: join(dataDir, "admin-credentials"),
      AWS_CONFIG_FILE: join(dataDir, "no-config"),
      AWS_REGION: "us-east-1",
      AWS_DEFAULT_REGION: "us-east-1",
      AWS_PAGER: "",
    };
    for (const k of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"]) delete env[k];
  });
  afterAll(async () => {
    server.child.kill("SIGTERM");
    await server.exited;
    rmSync(dataDir, { recursive: true, force: true });
  });

  for (const cli of found) {
    describe(`aws CLI ${cli.name}`, () => {
      const aws = async (...args: string[]): Promise<any> => {
        const { stdout } = await run(cli.bin, ["--endpoint-url", server.url, "--output", "json", "ssm", ...args], { env });
        return stdout.trim() ? JSON.parse(stdout) : {};
      };
      const awsFails = async (...args: string[]): Promise<string> => {
        try {
          await aws(...args);
        } catch (err) {
          return (err as { stderr: string }).stderr;
        }
        throw new Error("expected the aws CLI to fail");
      };
      const root = `/cli${cli.name}/myapp`;

      it("put-parameter, get-parameter, get-parameters-by-path (paginated), typed errors", async () => {
        expect(await aws("put-parameter", "--name", `${root}/db/host`, "--type", "String", "--value", "db.internal")).toEqual({
          Version: 1,
          Tier: "Standard",
        });
        await aws("put-parameter", "--name", `${root}/db/password`, "--type", "SecureString", "--value", "s3cret");
        for (let i = 0; i < 9; i++) await aws("put-parameter", "--name", `${root}/flags/f${String(i).padStart(2, "0")}`, "--type", "String", "--value", `on${i}`);

        const got = await aws("get-parameter", "--name", `${root}/db/password`, "--with-decryption");
        expect(got.Parameter).toMatchObject({ Name: `${root}/db/password`, Type: "SecureString", Value: "s3cret", Version: 1 });
        expect((await aws("get-parameter", "--name", `${root}/db/password`)).Parameter.Value).not.toBe("s3cret");

        // 11 parameters: the CLI follows NextToken across pages of at most 10.
        const all = await aws("get-parameters-by-path", "--path", root, "--recursive", "--with-decryption");
        expect(all.Parameters.map((p: { Name: string }) => p.Name)).toEqual([
          `${root}/db/host`,
          `${root}/db/password`,
          ...Array.from({ length: 9 }, (_, i) => `${root}/flags/f${String(i).padStart(2, "0")}`),
        ]);
        expect(all.Parameters[1].Value).toBe("s3cret");
        const oneLevel = await aws("get-parameters-by-path", "--path", `${root}/db`);
        expect(oneLevel.Parameters.map((p: { Name: string; Value: string }) => p.Name)).toEqual([`${root}/db/host`, `${root}/db/password`]);

        expect(await awsFails("get-parameter", "--name", `${root}/none`)).toContain("ParameterNotFound");
        expect(await awsFails("put-parameter", "--name", `${root}/db/host`, "--type", "String", "--value", "x")).toContain("ParameterAlreadyExists");
        expect(await aws("put-parameter", "--name", `${root}/db/host`, "--value", "db2.internal", "--overwrite")).toMatchObject({ Version: 2 });
        expect((await aws("get-parameter", "--name", `${root}/db/host:1`)).Parameter.Value).toBe("db.internal");
        await aws("delete-parameter", "--name", `${root}/db/host`);
        expect(await awsFails("get-parameter", "--name", `${root}/db/host`)).toContain("ParameterNotFound");
      }, 120_000); // many CLI processes, each a cold Node start: slow on a busy 2-core machine
    });
  }
});
