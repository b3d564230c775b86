import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  GetGroupCommand,
  IAMClient,
  ListAttachedGroupPoliciesCommand,
  ListAttachedRolePoliciesCommand,
  ListOpenIDConnectProvidersCommand,
  ListRolesCommand,
} from "@aws-sdk/client-iam";
import { DescribeKeyCommand, KMSClient, ListResourceTagsCommand } from "@aws-sdk/client-kms";
import { DescribeSecretCommand, GetResourcePolicyCommand, GetSecretValueCommand, ListSecretsCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { GetParameterCommand, GetParametersByPathCommand, SSMClient } from "@aws-sdk/client-ssm";
import { AssumeRoleWithWebIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshSchema } from "../postgres.ts";
import { onPostgres } from "./harness.ts";
import { rawCall } from "./raw.ts";
import { printedCredentials, spawnServer, type Spawned } from "./spawn.ts";

/**
 * examples/terraform/ applied by the real terraform binary and hashicorp/aws provider against a
 * real server: apply, a plan that finds nothing to change, destroy. Terraform cannot download
 * providers here, so the provider comes from a local filesystem mirror; without both, this says
 * so and skips. Under `npm run test:postgres` the server runs on PostgreSQL.
 */
const example = fileURLToPath(new URL("../../examples/terraform/", import.meta.url));
const run = promisify(execFile);

function providerMirror(): string | undefined {
  const candidates = [process.env.COFFER_TERRAFORM_PLUGINS, "/opt/tf-plugins", join(homedir(), ".terraform.d", "plugins")];
  return candidates.find((dir) => dir && existsSync(join(dir, "registry.terraform.io", "hashicorp", "aws")));
}

async function haveTerraform(): Promise<boolean> {
  return run("terraform", ["version"]).then(
    () => true,
    () => false,
  );
}

const mirror = providerMirror();
const terraform = await haveTerraform();
const why = !terraform ? "no terraform on PATH" : !mirror ? "no hashicorp/aws provider in a local mirror (/opt/tf-plugins, ~/.terraform.d/plugins or COFFER_TERRAFORM_PLUGINS)" : "";
if (why) console.warn(`skipping the Terraform example test: ${why}`);

describe.skipIf(why !== "")("examples/terraform with the hashicorp/aws provider", () => {
  let server: Spawned;
  let dataDir: string;
  let work: string;
  let database: Awaited<ReturnType<typeof freshSchema>> | undefined;
  let env: NodeJS.ProcessEnv;
  let clients: { credentials: { accessKeyId: string; secretAccessKey: string }; endpoint: string; region: string; maxAttempts: number };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "coffer-tf-data-"));
    work = mkdtempSync(join(tmpdir(), "coffer-tf-"));
    database = onPostgres ? await freshSchema("coffer_tf") : undefined;
    const onDatabase = database ? { COFFER_DATABASE_URL: database.url, COFFER_MASTER_KEY: randomBytes(32).toString("base64") } : undefined;
    server = await spawnServer(["--data-dir", dataDir, "--log-level", "warn"], onDatabase);
    const credentials = printedCredentials(server.output());
    const credentialsFile = join(work, "credentials");
    writeFileSync(credentialsFile, `[default]\naws_access_key_id = ${credentials.accessKeyId}\naws_secret_access_key = ${credentials.secretAccessKey}\n`, { mode: 0o600 });
    clients = { credentials, endpoint: server.url, region: "us-east-1", maxAttempts: 1 };
    for (const file of readdirSync(example).filter((f) => f.endsWith(".tf"))) cpSync(join(example, file), join(work, file));
    const rc = join(work, "terraform.rc");
    writeFileSync(
      rc,
      `provider_installation {\n  filesystem_mirror {\n    path    = "${mirror}"\n    include = ["registry.terraform.io/hashicorp/aws"]\n  }\n}\n`,
    );
    // As the example's README says: the admin's credentials, and Coffer's URL.
    env = {
      PATH: process.env.PATH,
      HOME: work,
      TF_CLI_CONFIG_FILE: rc,
      TF_IN_AUTOMATION: "1",
      TF_VAR_coffer_endpoint: server.url,
      AWS_SHARED_CREDENTIALS_FILE: credentialsFile,
      AWS_CONFIG_FILE: join(work, "no-aws-config"),
    };
  });

  afterAll(async () => {
    server?.child.kill("SIGTERM");
    await server?.exited;
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  /** Runs terraform in the example's copy; a failure shows what terraform printed. */
  async function tf(...args: string[]): Promise<{ code: number; out: string }> {
    try {
      const { stdout, stderr } = await run("terraform", [...args, "-no-color", "-input=false"], { cwd: work, env, maxBuffer: 16 << 20 });
      return { code: 0, out: stdout + stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === "number" ? e.code : -1, out: `${e.stdout ?? ""}${e.stderr ?? ""}` };
    }
  }

  it("applies, lets the declared workload identity in, plans no changes, and destroys cleanly", { timeout: 300_000 }, async () => {
    const init = await tf("init");
    expect(init.code, init.out).toBe(0);

    const apply = await tf("apply", "-auto-approve");
    expect(apply.code, apply.out).toBe(0);
    expect(apply.out).toContain("Resources: 18 added, 0 changed, 0 destroyed.");

    // What it made is what the configuration says, read back through the SDKs.
    const sm = new SecretsManagerClient(clients);
    const db = await sm.send(new GetSecretValueCommand({ SecretId: "prod/myapp/db" }));
    expect(JSON.parse(db.SecretString!)).toEqual({ username: "app", password: "initial-password-change-me" });
    const apiKey = await sm.send(new DescribeSecretCommand({ SecretId: "prod/myapp/api-key" }));
    expect(apiKey).toMatchObject({ RotationEnabled: true, RotationRules: { AutomaticallyAfterDays: 30 } });
    expect(apiKey.RotationLambdaARN).toMatch(/:function:coffer-random-value$/);
    const dbMeta = await sm.send(new DescribeSecretCommand({ SecretId: "prod/myapp/db" }));
    const kms = new KMSClient(clients);
    const key = (await kms.send(new DescribeKeyCommand({ KeyId: "alias/myapp" }))).KeyMetadata!;
    expect(dbMeta.KmsKeyId).toBe(key.Arn);
    expect((await kms.send(new ListResourceTagsCommand({ KeyId: key.KeyId }))).Tags).toEqual([{ TagKey: "team", TagValue: "payments" }]);
    expect(JSON.parse((await sm.send(new GetResourcePolicyCommand({ SecretId: "prod/myapp/db" }))).ResourcePolicy!).Statement[0].Sid).toBe(
      "OnlyTheApp",
    );

    const ssm = new SSMClient(clients);
    const flags = await ssm.send(new GetParameterCommand({ Name: "/prod/myapp/feature-flags", WithDecryption: true }));
    expect(flags.Parameter).toMatchObject({ Type: "SecureString", Value: '{"new_checkout":true}' });

    const iam = new IAMClient(clients);
    const attached = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: "myapp" }));
    expect(attached.AttachedPolicies).toEqual([{ PolicyName: "myapp-read", PolicyArn: "arn:aws:iam::000000000000:policy/apps/myapp-read" }]);
    expect((await iam.send(new GetGroupCommand({ GroupName: "operators" }))).Users!.map((u) => u.UserName)).toEqual(["alice"]);
    const groupPolicies = await iam.send(new ListAttachedGroupPoliciesCommand({ GroupName: "operators" }));
    expect(groupPolicies.AttachedPolicies!.map((p) => p.PolicyArn)).toEqual(["arn:aws:iam::aws:policy/SecretsManagerReadWrite"]);

    // The workload identity it declared works: a CI job's token (the issuer's keys given inline,
    // as for an issuer Coffer cannot reach) gets the role, which reads what its policy allows.
    const issuer = "https://token.actions.githubusercontent.com";
    const signing = await generateKeyPair("RS256", { extractable: true });
    const providerArn = "arn:aws:iam::000000000000:oidc-provider/token.actions.githubusercontent.com";
    const keys = JSON.stringify({ keys: [{ ...(await exportJWK(signing.publicKey)), kid: "ci", alg: "RS256", use: "sig" }] });
    const put = await rawCall(server.url, {
      target: "Coffer.PutOpenIDConnectProviderKeys",
      body: JSON.stringify({ OpenIDConnectProviderArn: providerArn, Keys: keys }),
      credentials: clients.credentials,
      service: "coffer",
    });
    expect(put.status, put.body).toBe(200);
    const token = (sub: string) =>
      new SignJWT({ iss: issuer, aud: "sts.amazonaws.com", sub })
        .setProtectedHeader({ alg: "RS256", kid: "ci", typ: "JWT" })
        .setIssuedAt()
        .setExpirationTime("10m")
        .sign(signing.privateKey);
    const sts = new STSClient({ endpoint: server.url, region: "us-east-1", maxAttempts: 1 }); // unsigned, as on AWS
    const assume = async (sub: string) =>
      sts.send(new AssumeRoleWithWebIdentityCommand({ RoleArn: "arn:aws:iam::000000000000:role/myapp", RoleSessionName: "ci", WebIdentityToken: await token(sub) }));
    const session = (await assume("repo:example/myapp:ref:refs/heads/main")).Credentials!;
    const asApp = { ...clients, credentials: { accessKeyId: session.AccessKeyId!, secretAccessKey: session.SecretAccessKey!, sessionToken: session.SessionToken! } };
    const appDb = await new SecretsManagerClient(asApp).send(new GetSecretValueCommand({ SecretId: "prod/myapp/db" }));
    expect(JSON.parse(appDb.SecretString!).username).toBe("app");
    const host = await new SSMClient(asApp).send(new GetParameterCommand({ Name: "/prod/myapp/db/host" }));
    expect(host.Parameter!.Value).toBe("db.internal");
    await expect(new SecretsManagerClient(asApp).send(new ListSecretsCommand({}))).rejects.toMatchObject({ name: "AccessDeniedException" });
    // Another repository's job is outside the trust policy's sub condition.
    await expect(assume("repo:example/other:ref:refs/heads/main")).rejects.toMatchObject({ name: "AccessDenied" });

    // Refreshing every resource finds it as Terraform left it: exit 0, not 2 (changes).
    const plan = await tf("plan", "-detailed-exitcode");
    expect(plan.code, plan.out).toBe(0);
    expect(plan.out).toContain("No changes.");

    const destroy = await tf("destroy", "-auto-approve");
    expect(destroy.code, destroy.out).toBe(0);
    expect(destroy.out).toContain("Resources: 18 destroyed.");
    expect((await sm.send(new ListSecretsCommand({ IncludePlannedDeletion: true }))).SecretList).toEqual([]);
    expect((await ssm.send(new GetParametersByPathCommand({ Path: "/prod", Recursive: true }))).Parameters).toEqual([]);
    expect((await iam.send(new ListRolesCommand({}))).Roles!.map((r) => r.RoleName)).not.toContain("myapp");
    expect((await iam.send(new ListOpenIDConnectProvidersCommand({}))).OpenIDConnectProviderList).toEqual([]);
    // A KMS key is never deleted at once: it waits out the window the configuration gave.
    expect((await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata!.KeyState).toBe("PendingDeletion");
  });
});
