import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The baseline server (bench/bare-server.ts) in its own process, like Coffer. */
export async function startBare(): Promise<{ url: string; pid: number; stop(): void }> {
  const script = fileURLToPath(new URL("./bare-server.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", script], { stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise<string>((resolve) => child.stdout!.once("data", (d: Buffer) => resolve(d.toString().trim())));
  return { url, pid: child.pid!, stop: () => child.kill("SIGTERM") };
}
