import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CreateAccessKeyCommand, CreateRoleCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from "@aws-sdk/client-iam";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { CreateSecretCommand, DescribeSecretCommand, ListSecretVersionIdsCommand } from "@aws-sdk/client-secrets-manager";
import { GetParameterCommand, PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { browserUnavailable, launchChromium } from "../browser.ts";
import { startCoffer, type Running } from "./harness.ts";

/**
 * The web console (docs/console.md, issue 18) in a real browser: Debian's
 * chromium driven by playwright-core against a real server, found by the
 * accessible names the console promises. Every request the page makes is
 * recorded: none may leave the server's origin.
 */

const IMAGES = fileURLToPath(new URL("../../docs/images/", import.meta.url));
const unavailable = browserUnavailable();

describe.skipIf(unavailable)("web console", () => {
  let run: Running;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const requested: string[] = [];
  const cspViolations: string[] = [];
  let secretArn = "";

  beforeAll(async () => {
    run = await startCoffer();
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on("request", (r) => requested.push(r.url()));
    page.on("console", (m) => {
      if (/Content.Security.Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    // Some secrets and parameters already there, made with the SDK.
    await run.client.send(new CreateSecretCommand({ Name: "billing/stripe-key", SecretString: "sk_live_x", Description: "payment provider" }));
    const ssm = new SSMClient({ endpoint: run.url, region: "us-east-1", credentials: run.credentials, maxAttempts: 1 });
    await ssm.send(new PutParameterCommand({ Name: "/app/prod/db/host", Value: "db.internal", Type: "String" }));
    await ssm.send(new PutParameterCommand({ Name: "/app/prod/db/password", Value: "pg-s3cret", Type: "SecureString" }));
    await ssm.send(new PutParameterCommand({ Name: "/app/dev/feature-flags", Value: "a,b", Type: "StringList" }));
  });
  afterAll(async () => {
    await browser?.close();
    await run?.stop();
  });

  /** No control on the page lacks an accessible name (the accessibility tree's nameless buttons, fields, links). */
  async function expectEveryControlNamed() {
    const tree = await page.locator("body").ariaSnapshot();
    const nameless = tree.split("\n").filter((l) => /^\s*- (button|textbox|searchbox|combobox|checkbox|link|spinbutton)\s*(\[[^\]]*\])?\s*:?\s*$/.test(l));
    expect(nameless).toEqual([]);
  }

  /** A link of the console's navigation. */
  const section = (name: string) => page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name, exact: true });

  async function signIn(accessKeyId: string, secretAccessKey: string) {
    await page.getByLabel("Access key ID").fill(accessKeyId);
    await page.getByLabel("Secret access key").fill(secretAccessKey);
    await page.getByRole("button", { name: "Sign in" }).click();
  }

  it("a wrong key shows the API's error in words, and nothing is signed in", async () => {
    await page.goto(`${run.url}/console/`);
    await signIn(run.credentials.accessKeyId, "not-the-secret-key-at-all");
    await expect.poll(() => page.getByRole("alert").textContent()).toMatch(/signature/i);
    await expect.poll(() => page.getByRole("button", { name: "Sign out" }).count()).toBe(0);
  });

  it("signs in from the keyboard and shows who is signed in (GetCallerIdentity)", async () => {
    await page.goto(`${run.url}/console/`);
    // The first field takes focus; Tab moves through the form, Enter submits.
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute("name"))).toBe("accessKeyId");
    await page.keyboard.type(run.credentials.accessKeyId);
    await page.keyboard.press("Tab");
    await page.keyboard.type(run.credentials.secretAccessKey);
    await page.keyboard.press("Enter");
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    expect(await page.getByText("Signed in as").textContent()).toContain("arn:aws:iam::000000000000:root");
    await expectEveryControlNamed();
  });

  it("creates a secret and finds it by search", async () => {
    await section("Secrets").click();
    await page.getByRole("button", { name: "Create secret" }).click();
    const form = page.getByRole("form", { name: "Create secret" });
    await form.getByLabel("Secret name").fill("prod/app/db");
    await form.getByLabel("Description").fill("orders database login");
    await form.getByLabel("Secret value").fill(JSON.stringify({ username: "orders", password: "hunter2-db" }));
    await form.getByRole("button", { name: "Create" }).click();
    await page.getByRole("heading", { name: "Secret prod/app/db" }).waitFor();
    secretArn = (await run.client.send(new DescribeSecretCommand({ SecretId: "prod/app/db" }))).ARN!;

    await section("Secrets").click();
    const table = page.getByRole("table", { name: "Secrets" });
    await table.getByRole("link", { name: "billing/stripe-key" }).waitFor();
    await page.getByLabel("Search", { exact: true }).fill("orders database");
    await expect.poll(() => table.getByRole("link").allTextContents()).toEqual(["prod/app/db"]);
    await expectEveryControlNamed();
    await page.getByLabel("Search", { exact: true }).fill("");
    await expect.poll(() => table.getByRole("link").allTextContents()).toEqual(["billing/stripe-key", "prod/app/db"]);
    mkdirSync(IMAGES, { recursive: true });
    await page.screenshot({ path: `${IMAGES}console-secrets.png` });
  });

  it("retrieves the value only when asked, a JSON value as a key/value table", async () => {
    await page.getByRole("link", { name: "prod/app/db" }).click();
    await page.getByRole("heading", { name: "Secret prod/app/db" }).waitFor();
    expect(await page.getByText("hunter2-db").count()).toBe(0);
    await page.getByRole("button", { name: "Retrieve secret value" }).click();
    const table = page.getByRole("table", { name: "Secret value" });
    await expect.poll(() => table.getByRole("row", { name: /password/ }).textContent()).toContain("hunter2-db");
    expect(await table.getByRole("row", { name: /username/ }).textContent()).toContain("orders");
    await page.getByRole("button", { name: "Hide secret value" }).click();
    expect(await page.getByText("hunter2-db").count()).toBe(0);
  });

  it("stores a new version and the staging labels move", async () => {
    const before = (await run.client.send(new ListSecretVersionIdsCommand({ SecretId: "prod/app/db" }))).Versions!;
    expect(before).toHaveLength(1);
    const first = before[0].VersionId!;
    await page.getByLabel("New secret value").fill(JSON.stringify({ username: "orders", password: "rotated-pw" }));
    await page.getByRole("button", { name: "Store new value" }).click();
    const versions = page.getByRole("table", { name: "Versions" });
    await expect.poll(() => versions.getByRole("row").count()).toBe(3); // header + 2
    const after = (await run.client.send(new ListSecretVersionIdsCommand({ SecretId: "prod/app/db" }))).Versions!;
    const second = after.find((v) => v.VersionId !== first)!.VersionId!;
    expect(await versions.getByRole("row", { name: new RegExp(first) }).textContent()).toContain("AWSPREVIOUS");
    expect(await versions.getByRole("row", { name: new RegExp(first) }).textContent()).not.toContain("AWSCURRENT");
    expect(await versions.getByRole("row", { name: new RegExp(second) }).textContent()).toContain("AWSCURRENT");
    await page.getByRole("button", { name: "Retrieve secret value" }).click();
    await expect.poll(() => page.getByRole("table", { name: "Secret value" }).textContent()).toContain("rotated-pw");
    await expectEveryControlNamed();
  });

  it("creates a secret with a generated password, deletes it with a recovery window and restores it; a failed action is said in words", async () => {
    await section("Secrets").click();
    await page.getByRole("button", { name: "Create secret" }).click();
    const form = page.getByRole("form", { name: "Create secret" });
    await form.getByLabel("Secret name").fill("generated/api-key");
    await form.getByLabel("Generate a password").check();
    expect(await form.getByLabel("Secret value").count()).toBe(0);
    await form.getByLabel("Password length").fill("24");
    await form.getByRole("button", { name: "Create" }).click();
    await page.getByRole("heading", { name: "Secret generated/api-key" }).waitFor();
    await page.getByRole("button", { name: "Retrieve secret value" }).click();
    const shown = page.getByRole("group", { name: "Secret value" }).locator("pre");
    await expect.poll(() => shown.textContent()).toMatch(/^\S{24}$/);

    // No rotation function: RotateSecret's own error, in words.
    await page.getByRole("button", { name: "Rotate now" }).click();
    await expect.poll(() => page.getByRole("alert").count()).toBe(1);
    expect(await page.getByRole("alert").textContent()).toMatch(/^\w+Exception: \S/);

    await page.getByLabel("Recovery window (days)").fill("7");
    await page.getByRole("button", { name: "Delete secret" }).click();
    await page.getByRole("button", { name: "Restore secret" }).waitFor();
    expect((await run.client.send(new DescribeSecretCommand({ SecretId: "generated/api-key" }))).DeletedDate).toBeDefined();
    // DeleteSecret's DeletionDate, seven days on (the day, so a test at midnight may see the next one).
    const days = [0, 1].map((d) => new Date(Date.now() + (7 + d) * 86_400_000).toISOString().slice(0, 10));
    const scheduled = (await page.getByRole("status").filter({ hasText: "Scheduled for deletion on" }).textContent())!;
    expect(days.some((d) => scheduled.includes(d))).toBe(true);
    await page.getByRole("button", { name: "Restore secret" }).click();
    await page.getByRole("button", { name: "Delete secret" }).waitFor();
    expect((await run.client.send(new DescribeSecretCommand({ SecretId: "generated/api-key" }))).DeletedDate).toBeUndefined();
    await expectEveryControlNamed();
  });

  it("sorts and pages the list", async () => {
    for (let i = 0; i < 11; i++) await run.client.send(new CreateSecretCommand({ Name: `zz-bulk-${String(i).padStart(2, "0")}`, SecretString: "x" }));
    await section("Secrets").click();
    const table = page.getByRole("table", { name: "Secrets" });
    await page.getByLabel("Per page").selectOption("10");
    await page.getByLabel("Order").selectOption("desc");
    await expect.poll(() => table.getByRole("link").allTextContents()).toEqual(Array.from({ length: 10 }, (_, i) => `zz-bulk-${String(10 - i).padStart(2, "0")}`));
    await page.getByRole("button", { name: "Next page" }).click();
    await expect.poll(() => table.getByRole("link").allTextContents()).toEqual(["zz-bulk-00", "prod/app/db", "generated/api-key", "billing/stripe-key"]);
    expect(await page.getByRole("button", { name: "Next page" }).isDisabled()).toBe(true);
    await page.getByRole("button", { name: "Previous page" }).click();
    await expect.poll(() => table.getByRole("link").first().textContent()).toBe("zz-bulk-10");
    await page.getByLabel("Order").selectOption("asc");
    await page.getByLabel("Per page").selectOption("25");
  });

  it("browses the parameter tree; a SecureString stays hidden until asked", async () => {
    await section("Parameters").click();
    const tree = page.getByRole("navigation", { name: "Parameter tree" });
    // Folders open from the keyboard as well as by click.
    await tree.getByText("app/", { exact: true }).focus();
    await page.keyboard.press("Enter");
    await tree.getByText("prod/", { exact: true }).click();
    await tree.getByText("db/", { exact: true }).click();
    expect(await tree.getByRole("link", { name: "/app/dev/feature-flags" }).isVisible()).toBe(false);
    await tree.getByRole("link", { name: "/app/prod/db/password" }).click();
    await page.getByRole("heading", { name: "Parameter /app/prod/db/password" }).waitFor();
    expect(await page.getByText("pg-s3cret").count()).toBe(0);
    await page.getByRole("button", { name: "Show parameter value" }).click();
    await expect.poll(() => page.getByLabel("Decrypted value").textContent()).toBe("pg-s3cret");
    expect(await page.getByRole("table", { name: "History" }).getByRole("row").count()).toBe(2);
    await expectEveryControlNamed();
  });

  it("creates a parameter and overwrites it; the history shows both versions", async () => {
    await section("Parameters").click();
    const form = page.getByRole("form", { name: "Create parameter" });
    await form.getByLabel("Parameter name").fill("/app/prod/api/url");
    await form.getByLabel("Type").selectOption("String");
    await form.getByLabel("Parameter value").fill("https://api.internal/v1");
    await form.getByRole("button", { name: "Create parameter" }).click();
    const tree = page.getByRole("navigation", { name: "Parameter tree" });
    await tree.getByText("app/", { exact: true }).click();
    await tree.getByText("prod/", { exact: true }).click();
    await tree.getByText("api/", { exact: true }).click();
    await tree.getByRole("link", { name: "/app/prod/api/url" }).click();
    await page.getByRole("heading", { name: "Parameter /app/prod/api/url" }).waitFor();
    await page.getByLabel("New parameter value").fill("https://api.internal/v2");
    await page.getByRole("button", { name: "Overwrite" }).click();
    const history = page.getByRole("table", { name: "History" });
    await expect.poll(() => history.getByRole("row").count()).toBe(3);
    expect(await page.getByRole("group", { name: "Parameter value" }).textContent()).toContain("https://api.internal/v2");
    const ssm = new SSMClient({ endpoint: run.url, region: "us-east-1", credentials: run.credentials, maxAttempts: 1 });
    expect((await ssm.send(new GetParameterCommand({ Name: "/app/prod/api/url" }))).Parameter).toMatchObject({ Value: "https://api.internal/v2", Version: 2 });
  });

  it("finds the reads in the audit view, with each event's record and the chain's state", async () => {
    await section("Audit").click();
    await expect.poll(() => page.getByRole("group", { name: "Audit chain" }).getByRole("status").textContent()).toMatch(/^Intact: \d+ events/);
    await page.getByLabel("Event name").fill("GetSecretValue");
    await page.getByLabel("Secret name or ARN").fill("prod/app/db");
    await page.getByRole("button", { name: "Apply filters" }).click();
    const events = page.getByRole("table", { name: "Events" });
    // The two reads made in the console, by the root user, on that secret.
    await expect.poll(() => events.getByRole("row").count()).toBe(3);
    const rows = await events.getByRole("row").allTextContents();
    for (const row of rows.slice(1)) {
      expect(row).toContain("GetSecretValue");
      expect(row).toContain(secretArn);
      expect(row).toContain("OK");
    }
    await events.getByRole("button", { name: /^Details of GetSecretValue/ }).first().click();
    const record = JSON.parse((await page.getByLabel(/^Event [0-9a-f]{8}-/).textContent())!) as { eventSource: string; requestParameters: { secretId: string } };
    expect(record.eventSource).toBe("secretsmanager.amazonaws.com");
    expect(record.requestParameters.secretId).toBe("prod/app/db");
    await events.getByRole("button", { name: /^Details of GetSecretValue/ }).first().click();
    await expectEveryControlNamed();
    await page.getByLabel("Secret name or ARN").fill("");
    await page.getByLabel("Event name").fill("");
    await page.getByRole("button", { name: "Apply filters" }).click();
    await expect.poll(() => events.getByRole("row").count()).toBeGreaterThan(10);
    await page.screenshot({ path: `${IMAGES}console-audit.png` });
  });

  it("a user without GetSecretValue sees AWS's denial naming the permission; denied-only finds it", async () => {
    const iam = new IAMClient({ endpoint: run.url, region: "us-east-1", credentials: run.credentials, maxAttempts: 1 });
    await iam.send(new CreateUserCommand({ UserName: "reader" }));
    await iam.send(
      new PutUserPolicyCommand({
        UserName: "reader",
        PolicyName: "list-only",
        PolicyDocument: JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Action: ["secretsmanager:ListSecrets", "secretsmanager:DescribeSecret", "secretsmanager:ListSecretVersionIds"], Resource: "*" }],
        }),
      }),
    );
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: "reader" }))).AccessKey!;

    await page.getByRole("button", { name: "Sign out" }).click();
    await signIn(key.AccessKeyId!, key.SecretAccessKey!);
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    expect(await page.getByText("Signed in as").textContent()).toContain("user/reader");
    await section("Secrets").click();
    await page.getByRole("link", { name: "prod/app/db" }).click();
    await page.getByRole("button", { name: "Retrieve secret value" }).click();
    const alert = page.getByRole("group", { name: "Secret value" }).getByRole("alert");
    await expect.poll(() => alert.textContent()).toContain("AccessDeniedException");
    const text = (await alert.textContent())!;
    expect(text).toContain("user/reader is not authorized to perform: secretsmanager:GetSecretValue");
    expect(await page.getByText("rotated-pw").count()).toBe(0);

    // The reader may not read the audit trail either: said in words, not an empty table.
    await section("Audit").click();
    await expect.poll(() => page.getByRole("alert").first().textContent()).toMatch(/not authorized to perform: (cloudtrail:LookupEvents|coffer:VerifyAuditTrail)/);

    // Back as the operator: "Denied only" lists the reader's refusal.
    await page.getByRole("button", { name: "Sign out" }).click();
    await signIn(run.credentials.accessKeyId, run.credentials.secretAccessKey);
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    await section("Audit").click();
    await page.getByLabel("Denied only").check();
    await page.getByRole("button", { name: "Apply filters" }).click();
    const events = page.getByRole("table", { name: "Events" });
    await expect.poll(() => events.getByRole("row", { name: /GetSecretValue/ }).count()).toBe(1);
    const row = (await events.getByRole("row", { name: /GetSecretValue/ }).textContent())!;
    expect(row).toContain("reader");
    expect(row).toContain("AccessDenied");
  });

  it("shows users and roles with their policies, read-only", async () => {
    await page.getByRole("navigation", { name: "Sections" }).getByRole("link", { name: "Access", exact: true }).click();
    const users = page.getByRole("table", { name: "Users" });
    await users.getByRole("button", { name: "reader" }).click();
    const policy = page.getByLabel("Policy list-only");
    await expect.poll(() => policy.textContent()).toContain("secretsmanager:ListSecrets");
    expect(await policy.textContent()).not.toContain("GetSecretValue");
    await expectEveryControlNamed();
  });

  it("signing out forgets the keys: nothing in storage or cookies, the next page asks again", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Access key ID").waitFor();
    expect(await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie])).toEqual([0, 0, ""]);
    expect((await context.cookies()).length).toBe(0);
    await page.goto(`${run.url}/console/#/secrets/prod%2Fapp%2Fdb`);
    await page.getByLabel("Access key ID").waitFor();
    expect(await page.getByRole("button", { name: "Retrieve secret value" }).count()).toBe(0);
  });

  it("signs in with temporary credentials (a session token from AssumeRole)", async () => {
    const iam = new IAMClient({ endpoint: run.url, region: "us-east-1", credentials: run.credentials, maxAttempts: 1 });
    const role = await iam.send(
      new CreateRoleCommand({
        RoleName: "console-viewer",
        AssumeRolePolicyDocument: JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Principal: { AWS: "arn:aws:iam::000000000000:root" }, Action: "sts:AssumeRole" }],
        }),
      }),
    );
    const sts = new STSClient({ endpoint: run.url, region: "us-east-1", credentials: run.credentials, maxAttempts: 1 });
    const c = (await sts.send(new AssumeRoleCommand({ RoleArn: role.Role!.Arn, RoleSessionName: "on-call" }))).Credentials!;
    await page.getByLabel("Access key ID").fill(c.AccessKeyId!);
    await page.getByLabel("Secret access key").fill(c.SecretAccessKey!);
    await page.getByLabel("Session token").fill(c.SessionToken!);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    expect(await page.getByText("Signed in as").textContent()).toContain("assumed-role/console-viewer/on-call");
    // The role has no policy: the list says so, in AWS's words.
    await section("Secrets").click();
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("is not authorized to perform: secretsmanager:ListSecrets");
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Access key ID").waitFor();
  });

  it("after 15 minutes idle the console asks for the keys again", async () => {
    const idle = await context.newPage();
    await idle.clock.install();
    await idle.goto(`${run.url}/console/`);
    await idle.getByLabel("Access key ID").fill(run.credentials.accessKeyId);
    await idle.getByLabel("Secret access key").fill(run.credentials.secretAccessKey);
    await idle.getByRole("button", { name: "Sign in" }).click();
    await idle.getByRole("button", { name: "Sign out" }).waitFor();
    await idle.clock.fastForward("14:00");
    expect(await idle.getByRole("button", { name: "Sign out" }).count()).toBe(1);
    await idle.clock.fastForward("01:30");
    await idle.getByLabel("Access key ID").waitFor();
    expect(await idle.getByRole("status").textContent()).toContain("idle for 15 minutes");
    await idle.close();
  });

  it("every request stayed on the server's origin, and the CSP refused nothing", () => {
    const origin = new URL(run.url).origin;
    expect(requested.length).toBeGreaterThan(10);
    expect(requested.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith("data:"))).toEqual([]);
    expect(cspViolations).toEqual([]);
  });
});
