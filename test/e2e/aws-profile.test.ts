import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { spawnServer, type Spawned } from "./spawn.ts";

const run = promisify(execFile);

/**
 * The README's least-privilege walk-through with the aws CLI v1 (the one that
 * comes with this machine's Python): a profile with role_arn/source_profile
 * assumes the role through Coffer's STS. It needs botocore >= 1.31 for
 * endpoint_url in the config file; without it the test says why it is skipped.
 */
function botocoreVersion(): number[] | undefined {
  try {
    const v = execFileSync("python3", ["-c", "import botocore; print(botocore.__version__)"], { encoding: "utf8" });
    return v.trim().split(".").map(Number);
  } catch {
    return undefined;
  }
}
const v = botocoreVersion();
const usable = v !== undefined && (v[0] > 1 || (v[0] === 1 && v[1] >= 31));
if (!usable) console.warn("skipping the aws CLI profile test: python3 has no botocore >= 1.31 (endpoint_url in config)");

let server: Spawned;
let dir: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  if (!usable) return;
  dir = mkdtempSync(join(tmpdir(), "coffer-profile-"));
  server = await spawnServer(["--data-dir", dir]);
  writeFileSync(
    join(dir, "config"),
    `[default]\nendpoint_url = ${server.url}\n\n[profile app]\nrole_arn = arn:aws:iam::000000000000:role/myapp\nsource_profile = default\nendpoint_url = ${server.url}\n`,
  );
  env = {
    PATH: process.env.PATH,
    HOME: dir,
    AWS_SHARED_CREDENTIALS_FILE: join(dir, "admin-credentials"),
    AWS_CONFIG_FILE: join(dir, "config"),
    AWS_DEFAULT_REGION: "us-east-1",
    AWS_PAGER: "",
  };
});
afterAll(async () => {
  if (!usable) return;
  server.child.kill("SIGTERM");
  await server.exited;
  rmSync(dir, { recursive: true, force: true });
});

const aws = async (...args: string[]) => JSON.parse((await run("python3", ["-m", "awscli", "--output", "json", ...args], { env })).stdout || "{}");

it.skipIf(!usable)("a profile with role_arn assumes a least-privilege role and reads only what it allows", async () => {
  const trust = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"sts:AssumeRole"}]}';
  const read =
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"arn:aws:secretsmanager:us-east-1:000000000000:secret:prod/myapp/*"}]}';
  await aws("iam", "create-role", "--role-name", "myapp", "--assume-role-policy-document", trust);
  await aws("iam", "put-role-policy", "--role-name", "myapp", "--policy-name", "read-myapp", "--policy-document", read);
  await aws("secretsmanager", "create-secret", "--name", "prod/myapp/db", "--secret-string", "allowed");
  await aws("secretsmanager", "create-secret", "--name", "prod/other/db", "--secret-string", "forbidden");

  const who = await aws("--profile", "app", "sts", "get-caller-identity");
  expect(who.Arn).toMatch(/^arn:aws:sts::000000000000:assumed-role\/myapp\//);
  const got = await aws("--profile", "app", "secretsmanager", "get-secret-value", "--secret-id", "prod/myapp/db");
  expect(got.SecretString).toBe("allowed");
  const denied = await aws("--profile", "app", "secretsmanager", "get-secret-value", "--secret-id", "prod/other/db").catch(
    (err: { stderr: string }) => err.stderr,
  );
  expect(denied).toContain("AccessDeniedException");
});
