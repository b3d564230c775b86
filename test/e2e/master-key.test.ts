import { randomBytes, randomUUID } from "node:crypto";
import { copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from "@aws-sdk/client-iam";
import { CloudTrailClient, LookupEventsCommand } from "@aws-sdk/client-cloudtrail";
import { CreateKeyCommand, DecryptCommand, EncryptCommand, KMSClient } from "@aws-sdk/client-kms";
import { CreateSecretCommand, GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { GetParameterCommand, PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { describe, expect, it } from "vitest";
import { coffer, finished } from "./cli-process.ts";
import { printedCredentials, spawnServer, type Spawned } from "./spawn.ts";
import { spawnedCleanup } from "./spawned.ts";

const { tempDir, track } = spawnedCleanup("coffer-mk-");

type Creds = { accessKeyId: string; secretAccessKey: string };
const opts = (url: string, credentials: Creds) => ({ endpoint: url, region: "us-east-1", credentials, maxAttempts: 1 });

function run(args: string[], env: Record<string, string> = {}) {
  return finished(coffer(args, { PATH: process.env.PATH, HOME: tempDir(), ...env }));
}

async function stop(s: Spawned) {
  s.child.kill("SIGTERM");
  await s.exited;
}

describe("coffer master-key rotate", () => {
  it("re-wraps under a new key while the server keeps serving; afterwards the old key no longer opens the data", async () => {
    const dataDir = tempDir();
    const s = track(await spawnServer(["--data-dir", dataDir]));
    const creds = printedCredentials(s.output());
    const sm = new SecretsManagerClient(opts(s.url, creds));
    const kms = new KMSClient(opts(s.url, creds));
    const ssm = new SSMClient(opts(s.url, creds));
    const iam = new IAMClient(opts(s.url, creds));
    const canary = `CANARY-${randomUUID()}`;
    await sm.send(new CreateSecretCommand({ Name: "app/db", SecretString: `${canary}-1` }));
    await sm.send(new PutSecretValueCommand({ SecretId: "app/db", SecretString: `${canary}-2` }));
    await ssm.send(new PutParameterCommand({ Name: "/app/token", Value: `${canary}-p`, Type: "SecureString" }));
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Description: "mine" }));
    const keyId = KeyMetadata!.KeyId!;
    const blob = (await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(canary) }))).CiphertextBlob!;
    // A key made before the rotation and not used until after it: its material is not in the server's memory.
    const idle = (await kms.send(new CreateKeyCommand({ Description: "idle" }))).KeyMetadata!.KeyId!;
    await iam.send(new CreateUserCommand({ UserName: "reader" }));
    await iam.send(
      new PutUserPolicyCommand({
        UserName: "reader",
        PolicyName: "read",
        PolicyDocument: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: "*" }] }),
      }),
    );
    const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: "reader" }));
    const readerCreds = { accessKeyId: AccessKey!.AccessKeyId!, secretAccessKey: AccessKey!.SecretAccessKey! };
    const oldKey = join(tempDir(), "old.key");
    copyFileSync(join(dataDir, "master.key"), oldKey);

    // Readers keep reading through the whole rotation, and none of them fails.
    let reading = true;
    let reads = 0;
    const failures: unknown[] = [];
    const readOnce = async () => {
      expect((await sm.send(new GetSecretValueCommand({ SecretId: "app/db" }))).SecretString).toBe(`${canary}-2`);
      expect(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString()).toBe(canary);
      reads++;
    };
    await readOnce();
    const readers = (async () => {
      while (reading) await readOnce().catch((err: unknown) => failures.push(err));
    })();
    const rotated = await run(["master-key", "rotate", "--data-dir", dataDir]);
    reading = false;
    await readers;
    expect(rotated.stderr).toContain("waiting for 1 running server");
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toMatch(/master key rotated: [0-9a-f]{16} -> [0-9a-f]{16}/);
    expect(rotated.stdout).toMatch(/re-wrapped: [1-9]\d* KMS key\(s\), [1-9]\d* access key\(s\), 0 webhook key\(s\), 1 audit key/);
    expect(rotated.stdout).toContain("running server(s) now on the new key");
    expect(failures).toEqual([]);
    expect(reads).toBeGreaterThan(0);
    // The key file now holds the new key; the old one is gone from the data directory.
    expect(readFileSync(join(dataDir, "master.key"), "utf8")).not.toBe(readFileSync(oldKey, "utf8"));
    expect(existsSync(join(dataDir, "master.key.new"))).toBe(false);

    // The running server serves on: old values, new writes, a key whose material it had never opened, a user's key.
    await readOnce();
    expect((await ssm.send(new GetParameterCommand({ Name: "/app/token", WithDecryption: true }))).Parameter?.Value).toBe(`${canary}-p`);
    const late = (await kms.send(new EncryptCommand({ KeyId: idle, Plaintext: Buffer.from("late") }))).CiphertextBlob!;
    await sm.send(new CreateSecretCommand({ Name: "after", SecretString: "written after the rotation" }));
    const asReader = new SecretsManagerClient(opts(s.url, readerCreds));
    expect((await asReader.send(new GetSecretValueCommand({ SecretId: "app/db" }))).SecretString).toBe(`${canary}-2`);

    // The old key no longer opens the data.
    const withOld = await run(["audit", "verify", "--data-dir", dataDir], { COFFER_MASTER_KEY_FILE: oldKey });
    expect(withOld.code).toBe(1);
    expect(withOld.stderr).toContain("does not open this data directory");
    const oldBase64 = readFileSync(oldKey, "utf8").trim();
    expect(withOld.stderr).not.toContain(oldBase64);

    // Restarted with the (new) key file, everything is there and the audit trail verifies.
    await stop(s);
    const r = track(await spawnServer(["--data-dir", dataDir]));
    const sm2 = new SecretsManagerClient(opts(r.url, creds));
    expect((await sm2.send(new GetSecretValueCommand({ SecretId: "app/db", VersionStage: "AWSPREVIOUS" }))).SecretString).toBe(`${canary}-1`);
    expect((await sm2.send(new GetSecretValueCommand({ SecretId: "after" }))).SecretString).toBe("written after the rotation");
    const kms2 = new KMSClient(opts(r.url, creds));
    expect(Buffer.from((await kms2.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext!).toString()).toBe(canary);
    expect(Buffer.from((await kms2.send(new DecryptCommand({ CiphertextBlob: late }))).Plaintext!).toString()).toBe("late");
    expect((await new SecretsManagerClient(opts(r.url, readerCreds)).send(new GetSecretValueCommand({ SecretId: "app/db" }))).SecretString).toBe(`${canary}-2`);
    // The rotation is in the audit trail: who ran it, from which key to which, what was re-wrapped; never a key.
    const trail = new CloudTrailClient(opts(r.url, creds));
    const { Events = [] } = await trail.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: "EventName", AttributeValue: "RotateMasterKey" }] }));
    expect(Events).toHaveLength(1);
    const event = JSON.parse(Events[0].CloudTrailEvent!);
    const [from, to] = /master key rotated: ([0-9a-f]{16}) -> ([0-9a-f]{16})/.exec(rotated.stdout)!.slice(1);
    expect(event).toMatchObject({
      eventSource: "coffer.amazonaws.com",
      userIdentity: { type: "Unknown", invokedBy: "coffer-cli" },
      serviceEventDetails: { operatorCommand: "coffer master-key rotate", fromKeyId: from, toKeyId: to, rewrapped: { auditKey: 1 } },
    });
    expect(event.errorCode).toBeUndefined();
    expect(Events[0].CloudTrailEvent).not.toContain(oldBase64);
    expect(Events[0].CloudTrailEvent).not.toContain(readFileSync(join(dataDir, "master.key"), "utf8").trim());
    await stop(r);
    const verify = await run(["audit", "verify", "--data-dir", dataDir]);
    expect(verify.stderr).toBe("");
    expect(verify.stdout).toContain("audit trail intact");
  }, 120_000);

  it("changes the passphrase with the same command (server stopped)", async () => {
    const dataDir = tempDir();
    const first = "correct horse battery staple";
    const second = "a different, longer passphrase";
    const s = track(await spawnServer(["--data-dir", dataDir], { COFFER_MASTER_PASSPHRASE: first }));
    const creds = printedCredentials(s.output());
    await new SecretsManagerClient(opts(s.url, creds)).send(new CreateSecretCommand({ Name: "kept", SecretString: "value" }));
    await stop(s);

    const rotated = await run(["master-key", "rotate", "--data-dir", dataDir], { COFFER_MASTER_PASSPHRASE: first, COFFER_NEW_MASTER_PASSPHRASE: second });
    expect(rotated.stderr).toBe("");
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toContain("no server was running");
    expect(existsSync(join(dataDir, "master.salt.new"))).toBe(false);

    await expect(spawnServer(["--data-dir", dataDir], { COFFER_MASTER_PASSPHRASE: first })).rejects.toThrow(/does not open this data directory/);
    const r = track(await spawnServer(["--data-dir", dataDir], { COFFER_MASTER_PASSPHRASE: second }));
    expect((await new SecretsManagerClient(opts(r.url, creds)).send(new GetSecretValueCommand({ SecretId: "kept" }))).SecretString).toBe("value");
  }, 120_000);
});

describe("the master key from a command", () => {
  it("starts from a key command and rotates to another one; the config file takes a JSON array", async () => {
    const dataDir = tempDir();
    const keys = tempDir();
    const keyA = join(keys, "a.key");
    const keyB = join(keys, "b.key");
    writeFileSync(keyA, randomBytes(32).toString("base64") + "\n", { mode: 0o600 });
    writeFileSync(keyB, randomBytes(32).toString("base64") + "\n", { mode: 0o600 });
    // Word form from the environment; no shell reads it.
    const s = track(await spawnServer(["--data-dir", dataDir], { COFFER_MASTER_KEY_COMMAND: `cat ${keyA}` }));
    expect(existsSync(join(dataDir, "master.key"))).toBe(false);
    const creds = printedCredentials(s.output());
    await new SecretsManagerClient(opts(s.url, creds)).send(new CreateSecretCommand({ Name: "from-command", SecretString: "v" }));

    // JSON array form; the server switches keys while it runs.
    const rotated = await run(["master-key", "rotate", "--data-dir", dataDir, "--new-key-command", JSON.stringify(["cat", keyB])], {
      COFFER_MASTER_KEY_COMMAND: `cat ${keyA}`,
    });
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toContain("the key command cat");
    expect((await new SecretsManagerClient(opts(s.url, creds)).send(new GetSecretValueCommand({ SecretId: "from-command" }))).SecretString).toBe("v");
    await stop(s);

    // From the config file, as a JSON array.
    const config = join(keys, "coffer.json");
    writeFileSync(config, JSON.stringify({ masterKeyCommand: ["cat", keyB] }));
    const r = track(await spawnServer(["--data-dir", dataDir, "--config", config]));
    expect((await new SecretsManagerClient(opts(r.url, creds)).send(new GetSecretValueCommand({ SecretId: "from-command" }))).SecretString).toBe("v");
    await stop(r);
    await expect(spawnServer(["--data-dir", dataDir], { COFFER_MASTER_KEY_COMMAND: `cat ${keyA}` })).rejects.toThrow(/does not open this data directory/);
  }, 120_000); // several server starts and CLI processes: slow on a busy 2-core machine

  it("a failing key command is a clear start-up error that never shows what it printed", async () => {
    const dataDir = tempDir();
    const keys = tempDir();
    const config = join(keys, "coffer.json");
    const leak = randomBytes(32).toString("base64");
    const failing = async (command: string[]) => {
      writeFileSync(config, JSON.stringify({ masterKeyCommand: command }));
      const err = await spawnServer(["--data-dir", dataDir, "--config", config]).then(
        () => undefined,
        (e: Error) => e.message,
      );
      expect(err).toBeDefined();
      expect(err).not.toContain(leak);
      return err!;
    };
    expect(await failing(["/bin/sh", "-c", `echo ${leak}; exit 3`])).toContain("The master key command (/bin/sh) failed with exit code 3");
    expect(await failing(["/bin/sh", "-c", `echo ${leak}${leak}`])).toContain("must print the base64 encoding of exactly 32 bytes");
    expect(await failing([join(keys, "no-such-program")])).toContain("was not found");
    const quoted = await run(["audit", "verify", "--data-dir", dataDir], { COFFER_MASTER_KEY_COMMAND: `cat "${config}"` });
    expect(quoted.code).toBe(2); // a configuration error
    expect(quoted.stderr).toContain("give it as a JSON array");
  }, 120_000);
});
