import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { spawnServer, type Spawned } from "./spawn.ts";

/**
 * The README tells the truth (issue 15, item 8): its snippets run verbatim,
 * in order, in one shell session in a fresh directory of the checkout, as a
 * reader pastes them after `npm install && npm start` and `npm link` (here a
 * `coffer` on the PATH as `npm link` makes it, without touching the machine's
 * global prefix); then the docs in DOCS, each on a fresh server. A block
 * after `<!-- not run: why -->` is left out, and says why. Two things are
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

const RUNNERS = new Set(["sh", "js", "ts", "python"]);

/** The runnable blocks: shell, JavaScript, TypeScript and Python, but for those after a `<!-- not run: why -->` comment. */
function snippets(markdown: string): Snippet[] {
  const blocks = [...markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```\n/gm)];
  const out: Snippet[] = [];
  blocks.forEach((b, i) => {
    const lang = b[1];
    if (!RUNNERS.has(lang)) return;
    if (/<!-- not run: [^>]+ -->\s*$/.test(markdown.slice(0, b.index))) return;
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

/** The quick start's exports, which the docs' snippets take as given ("in the shell of the quick start"). */
const QUICK_START_SHELL = "export AWS_SHARED_CREDENTIALS_FILE=$PWD/.coffer/admin-credentials AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1\n";

/** A reader on a fresh machine: a directory in the checkout, a server started there as `npm start` does, a shell. */
interface Session {
  work: string;
  server: Spawned;
  serverPort: string;
  agentPort: string;
}

const sessions: Session[] = [];
const groups: number[] = [];

async function session(shell = ""): Promise<Session> {
  // In the checkout, as a reader runs them: `coffer/client` and the SDKs resolve from its node_modules.
  const work = mkdtempSync(join(repo, ".readme-run-"));
  mkdirSync(join(work, "bin"));
  // What `npm link` puts on the PATH.
  writeFileSync(join(work, "bin", "coffer"), `#!/bin/sh\nexec "${process.execPath}" "${join(repo, "bin/coffer.js")}" "$@"\n`, { mode: 0o755 });
  writeFileSync(join(work, "state.sh"), shell);
  const server = await spawnServer(["--data-dir", join(work, ".coffer")]);
  const s = { work, server, serverPort: new URL(server.url).port, agentPort: String(await freePort()) };
  sessions.push(s);
  return s;
}

afterAll(async () => {
  for (const g of groups) {
    try {
      process.kill(-g, "SIGTERM");
    } catch {
      // already gone
    }
  }
  for (const { server, work } of sessions) {
    server.child.kill("SIGTERM");
    await server.exited;
    rmSync(work, { recursive: true, force: true });
  }
});

/**
 * Runs one snippet in bash in the session's directory, with the variables
 * the earlier ones exported (state.sh), and records every command that failed.
 */
function run(s: Session, snippet: Snippet, index: number): Promise<{ stdout: string; stderr: string; failed: string[] }> {
  const code = snippet.code.replaceAll("4599", s.serverPort).replaceAll("2773", s.agentPort);
  const file = join(s.work, `snippet-${index}.${{ sh: "sh", js: "mjs", ts: "mts", python: "py" }[snippet.lang]}`);
  writeFileSync(file, code);
  const body = { sh: `source ${file}`, js: `node ${file}`, ts: `node --import tsx ${file}`, python: `python3 ${file}` }[snippet.lang];
  const state = join(s.work, "state.sh");
  const script = `source ${state}\ntrap 'echo "::failed:: $BASH_COMMAND" >&2' ERR\n${body}\n${snippet.lang === "sh" ? `export -p > ${state}\n` : ""}`;
  const child = spawn("bash", ["-c", script], {
    cwd: s.work,
    detached: true,
    env: {
      PATH: `${join(s.work, "bin")}:${process.env.PATH}`,
      HOME: s.work,
      AWS_CONFIG_FILE: join(s.work, "no-config"),
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
  leftBehind.then(() => (stderr += "::failed:: a process outlived the snippet, holding its output\n"));
  return Promise.race([new Promise((r) => child.on("close", r)), leftBehind]).then(() => ({
    stdout,
    stderr,
    // The `source` of the snippet fails too when its last command did.
    failed: [...stderr.matchAll(/^::failed:: (.*)$/gm)].map((m) => m[1]).filter((c) => c !== `source ${file}`),
  }));
}

/** The failures a snippet announces: lines ending in `# SomeException`. */
const announced = (code: string) => [...code.matchAll(/#\s*(\w+Exception)\s*$/gm)].map((m) => m[1]);

/** Runs a document's snippets in order in a fresh session; returns what each printed. */
async function runDocument(doc: string, shell = ""): Promise<string> {
  const s = await session(shell);
  const results: string[] = [];
  let i = 0;
  for (const snippet of snippets(readFileSync(join(repo, doc), "utf8"))) {
    i++;
    if (NOT_RUN.has(snippet.code.trim())) continue;
    const r = await run(s, snippet, i);
    const context = `${doc}, snippet ${i} (${snippet.lang}):\n${snippet.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
    const expectedErrors = announced(snippet.code);
    expect(r.failed, context).toHaveLength(expectedErrors.length);
    for (const name of expectedErrors) expect(r.stderr, context).toContain(name);
    if (snippet.output) {
      for (const line of snippet.output.trim().split("\n")) expect(r.stdout, context).toContain(line.replaceAll("4599", s.serverPort));
    }
    results.push(r.stdout);
  }
  return results.join("\n");
}

/**
 * The docs whose snippets run against a local server, each from a fresh
 * start, in the quick start's shell. The others (clients, rotation, deploy,
 * packaging, operations) show production hosts: a database to rotate, an
 * agent under /var/run, systemd, containers; the e2e tests they name run
 * the same steps.
 */
const DOCS = ["docs/cli.md", "docs/access.md", "docs/parameters.md", "docs/audit.md", "docs/backup.md", "docs/master-key.md"];

describe.skipIf(!haveAws || !haveBoto3)("the README's and docs' snippets, verbatim, in order", () => {
  it("README.md", async () => {
    const out = await runDocument("README.md");
    // What the snippets say they show.
    expect(out).toContain('"SecretString": "{\\"username\\":\\"app\\",\\"password\\":\\"s3cret\\"}"'); // aws get-secret-value
    expect(out).toContain('{"username":"app","password":"s3cret"}'); // boto3
    expect(out).toMatch(/arn:aws:sts::000000000000:assumed-role\/myapp\//);
    expect(out).toContain("connecting as app"); // the cache
    expect(out).toContain("healthy"); // the agent
    expect(out).toMatch(/"SecretString":"\{\\"username\\":\\"app\\"/); // ... and its answer
  }, 240_000);

  for (const doc of DOCS) {
    it(doc, () => runDocument(doc, QUICK_START_SHELL), 240_000);
  }
});
