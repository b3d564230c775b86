import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach } from "vitest";
import type { Spawned } from "./spawn.ts";

/**
 * For tests that run server processes: data directories and processes to
 * clean up after each test, or after the file's tests when `scope` is
 * "file" (processes are SIGKILLed, directories removed).
 */
export function spawnedCleanup(prefix: string, scope: "test" | "file" = "test") {
  const dirs: string[] = [];
  const procs: Spawned[] = [];
  (scope === "file" ? afterAll : afterEach)(() => {
    for (const p of procs.splice(0)) p.child.kill("SIGKILL");
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  return {
    /** A fresh directory, removed after the test (or the file). */
    tempDir(): string {
      const d = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(d);
      return d;
    },
    /** A process killed after the test (or the file), if it still runs. */
    track<T extends Spawned>(s: T): T {
      procs.push(s);
      return s;
    },
  };
}
