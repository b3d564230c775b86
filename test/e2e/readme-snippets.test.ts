import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnServer, type Spawned } from "./spawn.ts";

/**
 * The README tells the truth (issue 15, item 8): its snippets run verbatim,
 * in order, in one shell session in a fresh directory of the checkout, as a
 * reader pastes them after `npm install && npm start` and `npm link` (here a
 * `coffer` on the PATH as `npm link` makes it, without touching the machine's
 * global prefix); then docs/cli.md's the same way. Two things are
 * changed, both ports: the server and the agent listen on free ports instead
 * of 4599 and 2773, so a server the reader already runs does not collide.
 *
 * Checked: a command that fails makes the test fail, unless its line ends in
 * a comment naming the error it shows (`# AccessDeniedException`); a block
 * followed by an output block prints those lines.
 */

const repo = fileURLToPath(new URL("../../", import.meta.url));

/** Blocks not run, and why. */
const NOT_RUN = new Map([
  ["npm install && npm start", "the test is the install, and starts the server as npm start does"],
  ["npm test", "this is npm test"],
]);

interface Snippet {
  lang: string;
  code: string;
  /** The output block that follows it, if any. */
  output?: string;
}

function snippets(markdown: string): Snippet[] {
  const blocks = [...markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```\n/gm)];
  const out: Snippet[] = [];
  blocks.forEach((b, i) => {
    const lang = b[1];
    if (lang === "") return;
    const next = blocks[i + 1];
    const between = next ? markdown.slice(b.index! + b[0].length, next.index) : "x";
    out.push({ lang, code: b[2], ...(next && next[1] === "" && between.trim() === "" ? { output: next[2] } : {}) });
  });
  return out;
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

const haveAws = spawnSync("aws", ["--version"]).status === 0;
const haveBoto3 = spawnSync("python3", ["-c", "import boto3"]).status === 0;
if (!haveAws || !haveBoto3) {
  const missing = [!haveAws && "the aws CLI", !haveBoto3 && "python3 with boto3"].filter(Boolean).join(" and ");
  if (process.env.CI) throw new Error(`${missing} required in CI`);
  console.warn(`skipping the README snippets: ${missing} not installed`);
}

describe.skipIf(!haveAws || !haveBoto3)("the README's snippets, verbatim, in order", () => {
  let work: string;
  let server: Spawned;
  let serverPort: string;
  let agentPort: string;
  const groups: number[] = [];

  beforeAll(async () => {
    // In the checkout, as a reader runs them: `coffer/client` and the SDKs resolve from its node_modules.
    work = mkdtempSync(join(repo, ".readme-run-"));
    mkdirSync(join(work, "bin"));
    // What `npm link` puts on the PATH.
    writeFileSync(join(work, "bin", "coffer"), `#!/bin/sh\nexec "${process.execPath}" "${join(repo, "bin/coffer.js")}" "$@"\n`, { mode: 0o755 });
    server = await spawnServer(["--data-dir", join(work, ".coffer")]);
    serverPort = new URL(server.url).port;
    agentPort = String(await freePort());
    writeFileSync(join(work, "state.sh"), "");
  }, 60_000);

  afterAll(async () => {
    for (const g of groups) {
      try {
        process.kill(-g, "SIGTERM");
      } catch {
        // already gone
      }
    }
    server?.child.kill("SIGTERM");
    await server?.exited;
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /**
   * Runs one snippet in bash in the work directory, with the variables the
   * earlier ones exported (state.sh), and records every command that failed.
   */
  function run(snippet: Snippet, index: number): Promise<{ stdout: string; stderr: string; failed: string[] }> {
    const code = snippet.code.replaceAll("4599", serverPort).replaceAll("2773", agentPort);
    const file = join(work, `snippet-${index}.${{ sh: "sh", js: "mjs", ts: "mts", python: "py" }[snippet.lang]}`);
    writeFileSync(file, code);
    const body = {
      sh: `source ${file}`,
      js: `node ${file}`,
      ts: `node --import tsx ${file}`,
      python: `python3 ${file}`,
    }[snippet.lang];
    const script = `source ${join(work, "state.sh")}\ntrap 'echo "::failed:: $BASH_COMMAND" >&2' ERR\n${body}\n${snippet.lang === "sh" ? `export -p > ${join(work, "state.sh")}\n` : ""}`;
    const child = spawn("bash", ["-c", script], {
      cwd: work,
      detached: true,
      env: {
        PATH: `${join(work, "bin")}:${process.env.PATH}`,
        HOME: work,
        AWS_CONFIG_FILE: join(work, "no-config"),
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
        NODE_OPTIONS: "--no-warnings",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    groups.push(child.pid!);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d));
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    // A snippet that leaves a process behind holding its output would never close: that is a failure too.
    const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
    const leftBehind = exited.then(() => new Promise((resolve) => setTimeout(resolve, 5000, true)));
    leftBehind.then((left) => left && (stderr += "::failed:: a process outlived the snippet, holding its output\n"));
    return new Promise((resolve) =>
      Promise.race([new Promise((r) => child.on("close", r)), leftBehind]).then(() => resolve({
          stdout,
          stderr,
          // The `source` of the snippet fails too when its last command did.
          failed: [...stderr.matchAll(/^::failed:: (.*)$/gm)].map((m) => m[1]).filter((c) => c !== `source ${file}`),
        })),
    );
  }

  /** The failures a snippet announces: lines ending in `# SomeException`. */
  const announced = (code: string) => [...code.matchAll(/#\s*(\w+Exception)\s*$/gm)].map((m) => m[1]);

  async function runAll(markdown: string) {
    const results: string[] = [];
    let i = 0;
    for (const snippet of snippets(markdown)) {
      i++;
      const reason = NOT_RUN.get(snippet.code.trim());
      if (reason) continue;
      const r = await run(snippet, i);
      const context = `snippet ${i} (${snippet.lang}):\n${snippet.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
      const expectedErrors = announced(snippet.code);
      expect(r.failed.length, context).toBe(expectedErrors.length);
      for (const name of expectedErrors) expect(r.stderr, context).toContain(name);
      if (snippet.output) {
        for (const line of snippet.output.trim().split("\n")) expect(r.stdout, context).toContain(line.replaceAll("4599", serverPort));
      }
      results.push(r.stdout);
    }
    return results;
  }

  it("README.md", async () => {
    const out = (await runAll(readFileSync(join(repo, "README.md"), "utf8"))).join("\n");
    // What the snippets say they show.
    expect(out).toContain('"SecretString": "{\\"username\\":\\"app\\",\\"password\\":\\"s3cret\\"}"'); // aws get-secret-value
    expect(out).toContain('{"username":"app","password":"s3cret"}'); // boto3
    expect(out).toMatch(/arn:aws:sts::000000000000:assumed-role\/myapp\//);
    expect(out).toContain("connecting as app"); // the cache
    expect(out).toContain("healthy"); // the agent
    expect(out).toMatch(/"SecretString":"\{\\"username\\":\\"app\\"/); // ... and its answer
  }, 240_000);

  it("docs/cli.md", async () => {
    // A fresh shell: nothing exported by the README's snippets.
    writeFileSync(join(work, "state.sh"), "");
    const out = (await runAll(readFileSync(join(repo, "docs/cli.md"), "utf8"))).join("\n");
    expect(out).toContain("ci-bot");
  }, 240_000);
});
