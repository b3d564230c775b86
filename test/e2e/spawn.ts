import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const bin = fileURLToPath(new URL("../../bin/coffer.js", import.meta.url));

export interface Spawned {
  child: ChildProcess;
  url: string;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  exited: Promise<number | null>;
}

/** Runs `coffer server` as its own process, the way `npm start` does (or another copy's `bin`), and waits until it listens. */
export async function spawnServer(
  args: string[],
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
  coffer: string = bin,
): Promise<Spawned> {
  const child = spawn(process.execPath, [...nodeArgs, coffer, "server", "--port", "0", ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  // Keeps the first megabyte (a benchmark's request log is far longer), and drains the rest.
  const keep = (d: Buffer) => {
    if (out.length < 1 << 20) out += d.toString();
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 20_000);
    const check = () => {
      const m = /Coffer listening on (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout!.on("data", check);
    child.stderr!.on("data", check);
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${out}`));
    });
  });
  return { child, url, output: () => out, exited };
}

/** Reads the administrator credentials the first start printed. */
export function printedCredentials(output: string): { accessKeyId: string; secretAccessKey: string } {
  const id = /AWS_ACCESS_KEY_ID=(\S+)/.exec(output);
  const secret = /AWS_SECRET_ACCESS_KEY=(\S+)/.exec(output);
  if (!id || !secret) throw new Error(`no credentials printed:\n${output}`);
  return { accessKeyId: id[1], secretAccessKey: secret[1] };
}
