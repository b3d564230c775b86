import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const bin = fileURLToPath(new URL("../../bin/coffer.js", import.meta.url));

/** `coffer <args>` as its own process, through bin/coffer.js as a user runs it (in `cwd`, default the test's). */
export function coffer(args: string[], env: Record<string, string | undefined>, cwd?: string): ChildProcess {
  return spawn(process.execPath, [bin, ...args], { env: env as NodeJS.ProcessEnv, stdio: ["ignore", "pipe", "pipe"], cwd });
}

/** Runs to completion: exit code (128+signal if killed), stdout, stderr. */
export function finished(child: ChildProcess, onStdout?: (all: string) => void) {
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => {
    stdout += d.toString();
    onStdout?.(stdout);
  });
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code: code ?? (signal === "SIGKILL" ? 137 : -1), stdout, stderr })),
  );
}

/** The caller's own variables, without any AWS settings that could leak in from the machine running the tests. */
export function isolatedEnv(home: string, credentials: { accessKeyId: string; secretAccessKey: string }) {
  return {
    PATH: process.env.PATH,
    HOME: home,
    AWS_CONFIG_FILE: join(home, "none"),
    AWS_SHARED_CREDENTIALS_FILE: join(home, "none"),
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_REGION: "us-east-1",
  };
}
