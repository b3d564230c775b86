import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

/**
 * The layer order of docs/architecture.md and "no import cycles", checked on
 * every `npm test` by dependency-cruiser with .dependency-cruiser.cjs.
 * By hand: npx depcruise src --config .dependency-cruiser.cjs
 */
const root = fileURLToPath(new URL("..", import.meta.url));
const require = createRequire(import.meta.url);

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
  cycle?: { name: string }[];
}

describe("architecture", () => {
  it("has no import cycle and no import against the layer order", async () => {
    const cli = path.join(root, "node_modules", "dependency-cruiser", "bin", "dependency-cruise.mjs");
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [cli, "src", "--config", ".dependency-cruiser.cjs", "--output-type", "json"],
      { cwd: root, maxBuffer: 64 * 1024 * 1024 },
    ).catch((err: { stdout?: string }) => {
      // depcruise exits non-zero when it finds violations; the JSON still says which.
      if (err.stdout) return { stdout: err.stdout };
      throw err;
    });
    const result = JSON.parse(stdout) as { summary: { violations: Violation[]; totalCruised: number } };
    const lines = result.summary.violations.map(
      (v) => `${v.rule.name}: ${v.from} -> ${v.to}${v.cycle?.length ? ` (cycle: ${v.cycle.map((c) => c.name).join(" -> ")})` : ""}`,
    );
    expect(lines).toEqual([]);
    expect(result.summary.totalCruised).toBeGreaterThan(100);
  });

  it("knows every folder of src/ as a layer", async () => {
    const config = require(path.join(root, ".dependency-cruiser.cjs")) as { forbidden: { name: string }[] };
    const layers = config.forbidden.filter((r) => r.name.startsWith("layer-")).map((r) => r.name.slice("layer-".length));
    const folders = readdirSync(path.join(root, "src"), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    expect(folders.sort()).toEqual(layers.sort());
  });
});
