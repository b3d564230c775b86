import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateRoleCommand, IAMClient, PutRolePolicyCommand } from "@aws-sdk/client-iam";
import { CreateSecretCommand, GetSecretValueCommand, PutResourcePolicyCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { printedCredentials, spawnServer, type Spawned } from "../e2e/spawn.ts";

/**
 * Issue 12, item 5: a policy's wildcards are matched in linear time. Before, `*a*a*a*...` became a
 * backtracking regular expression, and one request against a long name blocked the whole server
 * for minutes. The server runs in its own process so a blocked event loop shows as a timeout here.
 */

type Creds = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

let server: Spawned;
let dataDir: string;
let admin: Creds;
// Generous: a hang detector, not a benchmark.
const TIMEOUT_MS = 2_000;
const opts = (credentials: Creds) => ({
  endpoint: server.url,
  region: "us-east-1",
  credentials,
  maxAttempts: 1,
  requestHandler: new NodeHttpHandler({ requestTimeout: TIMEOUT_MS, connectionTimeout: TIMEOUT_MS }),
});

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "coffer-sec-glob-"));
  server = await spawnServer(["--data-dir", dataDir]);
  admin = printedCredentials(server.output());
});
afterAll(async () => {
  server?.child.kill("SIGKILL");
  await server?.exited;
  rmSync(dataDir, { recursive: true, force: true });
});

/** `*a*a*...*a*b`-shaped patterns (never matching an all-"a" name), filling `budget` characters of JSON. */
/** Ends the ARN patterns: a random secret suffix ending in "b" once matched "...*a*b" (one run in sixty). */
const NO_ARN_CHARACTER = "~";

function hostilePatterns(prefix: string, budget: number, last = "b"): string[] {
  const out: string[] = [];
  let used = 0;
  for (let stars = 6; ; stars += 3) {
    const p = `${prefix}*${"a*".repeat(stars)}${last}`;
    if (used + p.length + 3 > budget) break;
    out.push(p);
    used += p.length + 3;
  }
  return out;
}

describe("wildcard matching is linear", () => {
  const name = "a".repeat(512); // the longest secret name

  it("a role with a maximum-size policy of *a*a*a* patterns reads a 512-character secret at once", async () => {
    const sm = new SecretsManagerClient(opts(admin));
    const iam = new IAMClient(opts(admin));
    const { Account } = await new STSClient(opts(admin)).send(new GetCallerIdentityCommand({}));
    const { ARN } = await sm.send(new CreateSecretCommand({ Name: name, SecretString: "s3cret" }));

    await iam.send(
      new CreateRoleCommand({
        RoleName: "globber",
        AssumeRolePolicyDocument: JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Principal: { AWS: `arn:aws:iam::${Account}:root` }, Action: "sts:AssumeRole" }],
        }),
      }),
    );
    // Resource patterns (ARN matching), action patterns and StringLike/ArnLike conditions, each
    // hostile, filling the role's inline-policy limit (10,240 characters, white space not counted).
    const statement = (fill: object) => ({ Effect: "Allow", Action: "secretsmanager:GetSecretValue", ...fill });
    const skeleton = (resources: string[], actions: string[], likes: string[]) =>
      JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          statement({ Resource: resources }),
          { Effect: "Allow", Action: actions, Resource: "*" },
          statement({ Resource: "*", Condition: { StringLike: { "aws:userid": likes }, ArnLike: { "aws:PrincipalArn": likes } } }),
          statement({ Resource: ARN }),
        ],
      });
    // Fill the room left by the skeleton, shrinking until the whole document fits the limit.
    let document = "";
    for (let room = 10_240 - skeleton([], [], []).length; room > 0; room -= 20) {
      document = skeleton(
        hostilePatterns("arn:aws:secretsmanager:*:*:secret:", Math.floor(room * 0.5), NO_ARN_CHARACTER),
        hostilePatterns("secretsmanager:", Math.floor(room * 0.2)),
        hostilePatterns("", Math.floor(room * 0.15)),
      );
      if (document.length <= 10_240) break;
    }
    expect(document.length).toBeGreaterThan(9_800); // full to within one pattern
    expect(document.length).toBeLessThanOrEqual(10_240);
    await iam.send(new PutRolePolicyCommand({ RoleName: "globber", PolicyName: "hostile", PolicyDocument: document }));

    const { Credentials } = await new STSClient(opts(admin)).send(
      new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${Account}:role/globber`, RoleSessionName: "a".repeat(64) }),
    );
    const role = new SecretsManagerClient(
      opts({ accessKeyId: Credentials!.AccessKeyId!, secretAccessKey: Credentials!.SecretAccessKey!, sessionToken: Credentials!.SessionToken! }),
    );
    // The matching statement comes last, so every hostile pattern is evaluated first.
    const started = Date.now();
    expect((await role.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe("s3cret");
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS);
  });

  it("a resource policy of the maximum size (20,480 characters) full of *a*a*a* principals' patterns does not stall", async () => {
    const sm = new SecretsManagerClient(opts(admin));
    const resource = JSON.stringify({
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Deny",
          Principal: "*",
          Action: "secretsmanager:GetSecretValue",
          Resource: hostilePatterns("arn:aws:secretsmanager:*:*:secret:", 20_480 - 200, NO_ARN_CHARACTER),
        },
      ],
    });
    expect(resource.length).toBeLessThanOrEqual(20_480);
    await sm.send(new PutResourcePolicyCommand({ SecretId: name, ResourcePolicy: resource }));
    const started = Date.now();
    expect((await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe("s3cret");
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS);
  });
});
