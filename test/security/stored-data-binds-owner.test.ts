import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { CreateRoleCommand, DeleteRoleCommand, DeleteRolePolicyCommand, ListUsersCommand, PutRolePolicyCommand } from "@aws-sdk/client-iam";
import { CreateSecretCommand, GetSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { AssumeRoleCommand, GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seal } from "../../src/crypto/aead.ts";
import { loadMasterKey } from "../../src/crypto/master-key.ts";
import { failure, startCoffer, type Running } from "../e2e/harness.ts";
import { ACCOUNT, clients, policy, sessionCreds, trustAccount, userWithKey, type Creds } from "./identity-clients.ts";

// Issue 12 item 14 (access keys and sessions): an access key's sealed secret is bound to its
// owner, so a row copied onto another principal no longer authenticates; keys sealed by an earlier
// version keep working after the upgrade; a session is bound to its role's unique id.

const dataDir = mkdtempSync(join(tmpdir(), "coffer-sec-binds-owner-"));
let run: Running;
let c: ReturnType<typeof clients>;
let admin: Creds;
const ROOT = `arn:aws:iam::${ACCOUNT}:root`;

/** Stops the server, edits its database directly (as someone with write access to the file could), starts it again. */
async function offline(edit: (db: Database.Database) => void | Promise<void>): Promise<void> {
  await run.stop();
  const db = new Database(join(dataDir, "coffer.db"));
  try {
    await edit(db);
  } finally {
    db.close();
  }
  run = await startCoffer({ dataDir });
  c = clients(run.url);
}

beforeAll(async () => {
  run = await startCoffer({ dataDir });
  c = clients(run.url);
  admin = run.credentials;
  await c.sm(admin).send(new CreateSecretCommand({ Name: "crown-jewels", SecretString: "s3cr3t" }));
});
afterAll(async () => {
  await run.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("stored data binds its owner", () => {
  it("a low-privilege key row moved onto the account root no longer authenticates", async () => {
    const low = await userWithKey(c.iam(admin), "low");
    expect((await failure(c.iam(low).send(new ListUsersCommand({})))).name).toBe("AccessDenied");
    await offline((db) => {
      db.prepare("UPDATE access_keys SET principal_arn = ? WHERE access_key_id = ?").run(ROOT, low.accessKeyId);
    });
    const iamErr = await failure(c.iam(low).send(new ListUsersCommand({})));
    expect(iamErr.name).toBe("InvalidClientTokenId");
    const smErr = await failure(c.sm(low).send(new GetSecretValueCommand({ SecretId: "crown-jewels" })));
    expect(smErr.name).toBe("UnrecognizedClientException");
    // The administrator's own key is untouched.
    expect((await c.iam(admin).send(new ListUsersCommand({}))).Users?.map((u) => u.UserName)).toContain("low");
  });

  it("a session row edited to drop its session policy no longer authenticates", async () => {
    await c.iam(admin).send(new CreateRoleCommand({ RoleName: "reader", AssumeRolePolicyDocument: trustAccount() }));
    await c.iam(admin).send(
      new PutRolePolicyCommand({
        RoleName: "reader",
        PolicyName: "all",
        PolicyDocument: policy({ Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: "*" }),
      }),
    );
    const { Credentials } = await c.sts(admin).send(
      new AssumeRoleCommand({
        RoleArn: `arn:aws:iam::${ACCOUNT}:role/reader`,
        RoleSessionName: "limited",
        Policy: policy({ Effect: "Deny", Action: "*", Resource: "*" }),
      }),
    );
    const limited = sessionCreds(Credentials);
    expect((await failure(c.sm(limited).send(new GetSecretValueCommand({ SecretId: "crown-jewels" })))).name).toBe("AccessDeniedException");
    await offline((db) => {
      const row = db.prepare("SELECT session FROM access_keys WHERE access_key_id = ?").get(limited.accessKeyId) as { session: string };
      const session = JSON.parse(row.session) as Record<string, unknown>;
      delete session.policies;
      db.prepare("UPDATE access_keys SET session = ? WHERE access_key_id = ?").run(JSON.stringify(session), limited.accessKeyId);
    });
    expect((await failure(c.sm(limited).send(new GetSecretValueCommand({ SecretId: "crown-jewels" })))).name).toBe("UnrecognizedClientException");
  });

  it("keys sealed by an earlier version (key id as the only AAD) keep working after the upgrade, and are re-sealed", async () => {
    const old = await userWithKey(c.iam(admin), "old-timer", policy({ Effect: "Allow", Action: "iam:ListUsers", Resource: "*" }));
    const master = await loadMasterKey({ kind: "file", path: join(dataDir, "master.key") });
    await offline((db) => {
      // What the previous version wrote: the secret sealed with its key id only, and no migration marker.
      db.prepare("UPDATE access_keys SET sealed_secret = ? WHERE access_key_id = ?").run(
        seal(master.key, Buffer.from(old.secretAccessKey), old.accessKeyId),
        old.accessKeyId,
      );
      db.prepare("DELETE FROM settings WHERE name = 'identity.accessKeyAad'").run();
    });
    expect((await c.iam(old).send(new ListUsersCommand({}))).Users?.length).toBeGreaterThan(0);
    // Re-sealed with its owner bound: moving it onto root now fails like any other key.
    await offline((db) => {
      db.prepare("UPDATE access_keys SET principal_arn = ? WHERE access_key_id = ?").run(ROOT, old.accessKeyId);
    });
    expect((await failure(c.iam(old).send(new ListUsersCommand({})))).name).toBe("InvalidClientTokenId");
  });

  it("a session of a deleted role is not honoured by a new role of the same name", async () => {
    const trust = trustAccount();
    const readAll = policy({ Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: "*" });
    await c.iam(admin).send(new CreateRoleCommand({ RoleName: "phoenix", AssumeRolePolicyDocument: trust }));
    await c.iam(admin).send(new PutRolePolicyCommand({ RoleName: "phoenix", PolicyName: "read", PolicyDocument: readAll }));
    const arn = `arn:aws:iam::${ACCOUNT}:role/phoenix`;
    const before = sessionCreds((await c.sts(admin).send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: "old" }))).Credentials);
    expect((await c.sm(before).send(new GetSecretValueCommand({ SecretId: "crown-jewels" }))).SecretString).toBe("s3cr3t");

    await c.iam(admin).send(new DeleteRolePolicyCommand({ RoleName: "phoenix", PolicyName: "read" }));
    await c.iam(admin).send(new DeleteRoleCommand({ RoleName: "phoenix" }));
    await c.iam(admin).send(new CreateRoleCommand({ RoleName: "phoenix", AssumeRolePolicyDocument: trust }));
    await c.iam(admin).send(new PutRolePolicyCommand({ RoleName: "phoenix", PolicyName: "read", PolicyDocument: readAll }));

    const sm = await failure(c.sm(before).send(new GetSecretValueCommand({ SecretId: "crown-jewels" })));
    expect(sm.name).toBe("UnrecognizedClientException");
    expect(sm.message).toBe("The security token included in the request is invalid.");
    expect((await failure(c.sts(before).send(new GetCallerIdentityCommand({})))).name).toBe("InvalidClientTokenId");
    // A session of the new role works.
    const after = sessionCreds((await c.sts(admin).send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: "new" }))).Credentials);
    expect((await c.sm(after).send(new GetSecretValueCommand({ SecretId: "crown-jewels" }))).SecretString).toBe("s3cr3t");
  });
});
