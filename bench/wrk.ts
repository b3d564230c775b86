import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Load from wrk (C, epoll): on a 2-core box a load generator written in node
 * (autocannon) takes a whole core from the server it measures, wrk a small
 * part of one. One wrk thread; requests come from a small Lua script.
 */
export const WRK = "/usr/bin/wrk";
export const hasWrk = () => existsSync(WRK);

export interface Run {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  requests: number;
}

/** A Lua string literal: printable ASCII as is, every other byte as a decimal escape. */
function lua(text: string): string {
  let out = '"';
  for (const byte of Buffer.from(text, "utf8")) {
    out += byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c ? String.fromCharCode(byte) : `\\${String(byte).padStart(3, "0")}`;
  }
  return out + '"';
}

/** wrk.format adds "Host" (without the port) unless that exact key is there: the signed host goes under it. */
function headerTable(headers: Record<string, string>): string {
  return `{${Object.entries(headers)
    .map(([k, v]) => `[${lua(k.toLowerCase() === "host" ? "Host" : k)}] = ${lua(v)}`)
    .join(", ")}}`;
}

/** One fixed request (a replayed signature), or a weighted mix of fixed requests cycled in order. */
export function fixedScript(requests: { headers: Record<string, string>; body: string; weight?: number }[]): string {
  const lines = ["local reqs = {}"];
  for (const r of requests) {
    const n = r.weight ?? 1;
    lines.push(`do local q = wrk.format("POST", "/", ${headerTable(r.headers)}, ${lua(r.body)}) for _ = 1, ${n} do reqs[#reqs + 1] = q end end`);
  }
  lines.push("local i = 0", "request = function() i = i + 1 if i > #reqs then i = 1 end return reqs[i] end");
  return lines.join("\n") + "\n";
}

/**
 * Pre-signed requests, each used once: `file` holds one request per line as
 * "x-amz-date<TAB>nonce<TAB>authorization"; the fixed headers and body are
 * the same for all. If the run outlasts the file the script starts over
 * (the caller compares the request count with the file's length).
 */
export function freshScript(file: string, headers: Record<string, string>, body: string): string {
  return `
local base = ${headerTable(headers)}
local body = ${lua(body)}
local lines = {}
for line in io.lines(${lua(file)}) do lines[#lines + 1] = line end
local i = 0
request = function()
  i = i + 1
  if i > #lines then i = 1 end
  local d, n, a = lines[i]:match("([^\\t]*)\\t([^\\t]*)\\t(.*)")
  base["x-amz-date"] = d
  base["x-bench-nonce"] = n
  base["authorization"] = a
  return wrk.format("POST", "/", base, body)
end
`;
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  return unit === "us" ? n / 1000 : unit === "s" ? n * 1000 : n;
}

/** Parses wrk --latency output; throws on any non-2xx answer or socket error. */
export function parseWrk(out: string, url: string): Run {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const p50 = /^\s+50%\s+([\d.]+)(us|ms|s)\s*$/m.exec(out);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s)\s*$/m.exec(out);
  const total = /(\d+) requests in/.exec(out);
  if (!rps || !p50 || !p99 || !total) throw new Error(`${url}: unreadable wrk output:\n${out}`);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  if (non2xx) throw new Error(`${url}: ${non2xx[1]} non-2xx responses`);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  if (socket && socket.slice(1).some((n) => Number(n) > 0)) throw new Error(`${url}: socket errors: ${socket[0]}`);
  const round = (n: number) => Math.round(n * 1000) / 1000;
  return { rps: Math.round(Number(rps[1])), p50_ms: round(toMs(p50[1], p50[2])), p99_ms: round(toMs(p99[1], p99[2])), requests: Number(total[1]) };
}

/** Runs wrk with `script` against `url`. */
export async function wrk(url: string, script: string, connections: number, seconds: number): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), "coffer-wrk-"));
  try {
    const file = join(dir, "load.lua");
    writeFileSync(file, script);
    const args = ["-t1", `-c${connections}`, `-d${seconds}s`, "--latency", "--timeout", "10s", "-s", file, url];
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(WRK, args, { stdio: ["ignore", "pipe", "pipe"] });
      let text = "";
      child.stdout.on("data", (d: Buffer) => (text += d.toString()));
      child.stderr.on("data", (d: Buffer) => (text += d.toString()));
      child.on("error", reject);
      child.on("exit", (code) => (code === 0 ? resolve(text) : reject(new Error(`wrk exited ${code}:\n${text}`))));
    });
    return parseWrk(out, url);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc; undefined where there is no /proc. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return undefined;
  }
}

/**
 * wrk against a server process, with the server's CPU time per request (µs):
 * on a shared machine the requests/s of a CPU-bound server follow whatever
 * else runs, its CPU per request much less.
 */
export async function wrkWithCpu(url: string, pid: number, script: string, connections: number, seconds: number): Promise<Run & { cpu_us_per_request?: number }> {
  const before = cpuSeconds(pid);
  const run = await wrk(url, script, connections, seconds);
  const after = cpuSeconds(pid);
  if (before === undefined || after === undefined) return run;
  return { ...run, cpu_us_per_request: Math.round(((after - before) * 1e6) / run.requests) };
}
