import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";

/**
 * Node has no setrlimit or prctl, so the server asks util-linux's prlimit(1)
 * to set its own RLIMIT_CORE to 0 (soft and hard, so nothing in the process can
 * raise it again): a crash then leaves no core file holding the master key or
 * unsealed secrets. Returns why it could not, if it could not.
 */
export function disableCoreDumps(): string | undefined {
  if (process.platform !== "linux") {
    return `core dumps are not disabled on ${process.platform}: start Coffer under \`ulimit -c 0\``;
  }
  if (coreLimitIsZero()) return undefined;
  const prlimit = ["/usr/bin/prlimit", "/bin/prlimit"].find((p) => existsSync(p)) ?? "prlimit";
  try {
    execFileSync(prlimit, ["--pid", String(process.pid), "--core=0:0"], { stdio: "ignore", timeout: 10_000 });
  } catch (err) {
    return `core dumps could not be disabled (${prlimit}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): start Coffer under \`ulimit -c 0\` (systemd: LimitCORE=0)`;
  }
  return coreLimitIsZero() ? undefined : "core dumps could not be disabled: start Coffer under `ulimit -c 0` (systemd: LimitCORE=0)";
}

function coreLimitIsZero(): boolean {
  const line = /^Max core file size\s+(\S+)\s+(\S+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
  return line !== null && line[1] === "0" && line[2] === "0";
}
