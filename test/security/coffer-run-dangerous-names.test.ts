import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CreateSecretCommand } from "@aws-sdk/client-secrets-manager";
import { PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coffer, finished, isolatedEnv } from "../e2e/cli-process.ts";
import { startCoffer, type Running } from "../e2e/harness.ts";

/**
 * Item 10: whoever can write a parameter under a path, or a key of a JSON
 * secret, must not be able to choose PATH, LD_PRELOAD, NODE_OPTIONS… for the
 * command `coffer run` starts. A real server, `coffer run` as its own process.
 */

const printEnv = fileURLToPath(new URL("../fixtures/print-env.mjs", import.meta.url));
const sha = (value: string) => createHash("sha256").update(value).digest("hex").slice(0, 16);

let run: Running;
let dir: string;

// Harmless values, so that the allowed case can start a real node child with them.
const SAFE_PATH = "/usr/local/bin:/usr/bin:/bin";
const json = { NODE_OPTIONS: "--max-old-space-size=200", LD_PRELOAD: "", GREETING: "hello" };

const runCoffer = (args: string[], names: string[]) =>
  finished(coffer(["run", "--endpoint", run.url, ...args, "--", process.execPath, printEnv, ...names], isolatedEnv(dir, run.credentials)));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "coffer-run-names-"));
  run = await startCoffer();
  await run.client.send(new CreateSecretCommand({ Name: "danger/json", SecretString: JSON.stringify(json) }));
  const ssm = new SSMClient({ endpoint: run.url, region: "us-east-1", credentials: run.credentials, maxAttempts: 1 });
  await ssm.send(new PutParameterCommand({ Name: "/danger/app/PATH", Value: SAFE_PATH, Type: "String" }));
  await ssm.send(new PutParameterCommand({ Name: "/danger/app/mode", Value: "fast", Type: "String" }));
  // Lower case still becomes LD_LIBRARY_PATH once upper-cased.
  await ssm.send(new PutParameterCommand({ Name: "/danger/lower/ld_library_path", Value: "/nowhere", Type: "String" }));
}, 30_000);
afterAll(async () => {
  await run?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("coffer run refuses dangerous names from bulk sources", () => {
  it("a secret's JSON keys NODE_OPTIONS and LD_PRELOAD: refused before the child starts, exit 1", async () => {
    const out = await runCoffer(["--secret-json", "danger/json"], ["NODE_OPTIONS"]);
    expect(out.code).toBe(1);
    expect(out.stdout).toBe(""); // the child never ran
    expect(out.stderr).toContain("NODE_OPTIONS (from key \"NODE_OPTIONS\" of secret danger/json)");
    expect(out.stderr).toContain("LD_PRELOAD (from key \"LD_PRELOAD\" of secret danger/json)");
    expect(out.stderr).toContain("--allow-env");
    expect(out.stderr).not.toContain(json.NODE_OPTIONS);
  }, 30_000);

  it("a parameter path holding PATH (and ld_library_path): refused before the child starts, exit 1", async () => {
    const out = await runCoffer(["--param-path", "/danger/app/"], ["PATH", "MODE"]);
    expect(out.code).toBe(1);
    expect(out.stdout).toBe("");
    expect(out.stderr).toContain("PATH (from /danger/app/PATH)");
    expect(out.stderr).not.toContain(SAFE_PATH);
    const lower = await runCoffer(["--param-path", "/danger/lower/"], ["LD_LIBRARY_PATH"]);
    expect(lower.code).toBe(1);
    expect(lower.stdout).toBe("");
    expect(lower.stderr).toContain("LD_LIBRARY_PATH (from /danger/lower/ld_library_path)");
  }, 30_000);

  it("--allow-env NAME lets exactly the named variables through", async () => {
    const partly = await runCoffer(["--secret-json", "danger/json", "--allow-env", "NODE_OPTIONS"], ["NODE_OPTIONS"]);
    expect(partly.code).toBe(1);
    expect(partly.stderr).toContain("LD_PRELOAD");
    expect(partly.stderr).not.toContain("NODE_OPTIONS (from");

    const out = await runCoffer(
      ["--secret-json", "danger/json", "--param-path", "/danger/app/", "--allow-env", "NODE_OPTIONS", "--allow-env", "LD_PRELOAD", "--allow-env", "PATH"],
      ["NODE_OPTIONS", "LD_PRELOAD", "GREETING", "PATH", "MODE"],
    );
    expect(out.stderr).toBe("");
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual({
      NODE_OPTIONS: { length: json.NODE_OPTIONS.length, sha256: sha(json.NODE_OPTIONS) },
      LD_PRELOAD: { length: 0, sha256: sha("") },
      GREETING: { length: 5, sha256: sha("hello") },
      PATH: { length: SAFE_PATH.length, sha256: sha(SAFE_PATH) },
      MODE: { length: 4, sha256: sha("fast") },
    });
  }, 30_000);

  it("a name the user gives on the command line is theirs to choose, and wins over a bulk source", async () => {
    const out = await runCoffer(
      ["--secret", "NODE_OPTIONS=danger/json:NODE_OPTIONS", "--param", "PATH=/danger/app/PATH", "--param-path", "/danger/app/"],
      ["NODE_OPTIONS", "PATH", "MODE"],
    );
    expect(out.stderr).toBe("");
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({
      NODE_OPTIONS: { length: json.NODE_OPTIONS.length },
      PATH: { length: SAFE_PATH.length },
      MODE: { length: 4 },
    });
  }, 30_000);
});
