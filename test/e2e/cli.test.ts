import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { spawnServer, type Spawned } from "./spawn.ts";

const run = promisify(execFile);
const bin = fileURLToPath(new URL("../../bin/coffer.js", import.meta.url));

let server: Spawned;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "coffer-cli-cmds-"));
  server = await spawnServer(["--data-dir", dir]);
});
afterAll(async () => {
  server.child.kill("SIGTERM");
  await server.exited;
  rmSync(dir, { recursive: true, force: true });
});

const coffer = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, [bin, ...args], {
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      AWS_SHARED_CREDENTIALS_FILE: join(dir, "admin-credentials"),
      AWS_CONFIG_FILE: join(dir, "none"),
      COFFER_ENDPOINT: server.url,
      AWS_REGION: "us-east-1",
      ...env,
    },
  });

it("wraps the common IAM calls and creates accounts", async () => {
  const user = JSON.parse((await coffer(["user", "create", "ci-bot", "--output", "json"])).stdout);
  expect(user.Arn).toBe("arn:aws:iam::000000000000:user/ci-bot");
  await coffer(["user", "policy", "ci-bot", "read", '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:*","Resource":"*"}]}']);
  const key = JSON.parse((await coffer(["user", "key", "ci-bot", "--output", "json"])).stdout);
  expect(key.AccessKeyId).toMatch(/^AKIA/);
  const who = JSON.parse(
    (await coffer(["whoami", "--output", "json"], { AWS_ACCESS_KEY_ID: key.AccessKeyId, AWS_SECRET_ACCESS_KEY: key.SecretAccessKey, AWS_SHARED_CREDENTIALS_FILE: join(dir, "none") })).stdout,
  );
  expect(who.Arn).toBe("arn:aws:iam::000000000000:user/ci-bot");
  const role = JSON.parse((await coffer(["role", "create", "app", "--trust-account", "000000000000", "--output", "json"])).stdout);
  expect(role.Arn).toBe("arn:aws:iam::000000000000:role/app");

  const account = (await coffer(["account", "create", "222233334444", "--data-dir", dir])).stdout;
  const id = /aws_access_key_id = (\S+)/.exec(account)![1];
  const secret = /aws_secret_access_key = (\S+)/.exec(account)![1];
  const other = JSON.parse(
    (await coffer(["whoami", "--output", "json"], { AWS_ACCESS_KEY_ID: id, AWS_SECRET_ACCESS_KEY: secret, AWS_SHARED_CREDENTIALS_FILE: join(dir, "none") })).stdout,
  );
  expect(other.Arn).toBe("arn:aws:iam::222233334444:root");
  await expect(coffer(["account", "create", "222233334444", "--data-dir", dir])).rejects.toMatchObject({
    stderr: expect.stringContaining("already exists"),
  });
  await expect(coffer(["user", "create", "ci-bot"])).rejects.toMatchObject({ stderr: expect.stringContaining("EntityAlreadyExists") });
}, 120_000); // many CLI processes, each a cold Node start: slow on a busy 2-core machine
