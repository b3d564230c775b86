import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { CloudTrailClient, LookupEventsCommand } from "@aws-sdk/client-cloudtrail";
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

it("commands on the data directory leave the operator's trail: an event each, the chain intact", async () => {
  // "wraps the common IAM calls and creates accounts" above created account 222233334444 the same way.
  await coffer(["functions", "add-webhook", "billing", "https://rotator.example/rotate", "--secret", "w".repeat(20), "--data-dir", dir]);
  await coffer(["functions", "remove", "billing", "--data-dir", dir]);
  await coffer(["alerts", "add", "ops", "first-read", "https://hooks.example.com/x", "--secret", "a".repeat(20), "--data-dir", dir]);
  await coffer(["alerts", "remove", "ops", "--data-dir", dir]);

  const [accessKeyId, secretAccessKey] = [/aws_access_key_id = (\S+)/, /aws_secret_access_key = (\S+)/].map(
    (re) => re.exec(readFileSync(join(dir, "admin-credentials"), "utf8"))![1],
  );
  const trail = new CloudTrailClient({ endpoint: server.url, region: "us-east-1", credentials: { accessKeyId, secretAccessKey } });
  const events = async (name: string) =>
    ((await trail.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: "EventName", AttributeValue: name }] }))).Events ?? []).map((e) =>
      JSON.parse(e.CloudTrailEvent!),
    );
  const operator = { type: "Unknown", userName: userInfo().username, invokedBy: "coffer-cli" };
  expect(await events("CreateAccount")).toMatchObject([
    { userIdentity: operator, resources: [{ ARN: "arn:aws:iam::222233334444:root" }], serviceEventDetails: { operatorCommand: "coffer account create", accountId: "222233334444" } },
  ]);
  expect(await events("RegisterRotationFunction")).toMatchObject([
    { userIdentity: operator, resources: [{ ARN: "arn:aws:lambda:us-east-1:000000000000:function:billing" }], serviceEventDetails: { operatorCommand: "coffer functions add-webhook" } },
  ]);
  expect(await events("DeregisterRotationFunction")).toHaveLength(1);
  expect(await events("AddAlertRule")).toMatchObject([{ serviceEventDetails: { operatorCommand: "coffer alerts add", ruleName: "ops" } }]);
  expect(await events("RemoveAlertRule")).toHaveLength(1);
  const all = JSON.stringify(await Promise.all(["CreateAccount", "RegisterRotationFunction", "AddAlertRule"].map(events)));
  // Neither the webhook keys nor the new root's secret key.
  expect(all).not.toContain("w".repeat(20));
  expect(all).not.toContain("a".repeat(20));

  const verified = await coffer(["audit", "verify", "--data-dir", dir]);
  expect(verified.stdout).toContain("audit trail intact");
}, 120_000);
