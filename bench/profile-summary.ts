import { readFileSync } from "node:fs";

/**
 * `node --import tsx bench/profile-summary.ts file.cpuprofile [top]`: self time
 * by function and by file (node_modules packages grouped), as shares of the
 * non-idle samples. Used for docs/performance.md.
 */
interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number; children?: number[] }
const [file, topArg] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file, "utf8")) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const top = Number(topArg ?? 25);
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const fn = new Map<string, number>();
const area = new Map<string, number>();
let total = 0;
let idle = 0;
for (const [id, t] of self) {
  const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
  if (functionName === "(idle)") { idle += t; continue; }
  total += t;
  const short = url.replace(/^.*node_modules\//, "nm:").replace(/^.*\/wt\/[^/]+\//, "").replace(/^file:\/\//, "");
  fn.set(`${functionName || "(anon)"} ${short}:${lineNumber}`, (fn.get(`${functionName || "(anon)"} ${short}:${lineNumber}`) ?? 0) + t);
  const pkg = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  const key = pkg ? `pkg ${pkg}` : url.startsWith("node:") ? url : url === "" ? functionName : short;
  area.set(key, (area.get(key) ?? 0) + t);
}
const pct = (t: number) => `${((100 * t) / total).toFixed(1)}%`;
const show = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, t]) => `${pct(t).padStart(6)}  ${k}`).join("\n");
process.stdout.write(`busy ${(total / 1e6).toFixed(2)} s, idle ${(idle / 1e6).toFixed(2)} s\n-- by area --\n${show(area)}\n-- by function --\n${show(fn)}\n`);

// Inclusive time of named functions (FOCUS_FUNCTIONS=a,b,c), each counted once per stack.
const names = (process.env.FOCUS_FUNCTIONS ?? "").split(",").filter(Boolean);
if (names.length > 0) {
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inclusive = new Map<string, number>(names.map((n) => [n, 0]));
  for (const [id, t] of self) {
    if (byId.get(id)!.callFrame.functionName === "(idle)") continue;
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const name = byId.get(cur)!.callFrame.functionName;
      if (inclusive.has(name) && !seen.has(name)) {
        seen.add(name);
        inclusive.set(name, inclusive.get(name)! + t);
      }
    }
  }
  process.stdout.write(`-- inclusive --\n${[...inclusive].map(([k, t]) => `${pct(t).padStart(6)}  ${k}`).join("\n")}\n`);
}
