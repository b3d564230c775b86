import { describe, expect, it } from "vitest";
import { checkBulkNames, dangerReason } from "./run-env-guard.ts";

describe("run-env-guard", () => {
  it("knows exact names and families, whatever the case", () => {
    for (const name of ["PATH", "Path", "NODE_OPTIONS", "LD_PRELOAD", "ld_audit", "DYLD_INSERT_LIBRARIES", "BASH_ENV", "IFS", "PS4", "HOME", "GIT_CONFIG_KEY_0"]) {
      expect(dangerReason(name), name).toBeDefined();
    }
    for (const name of ["DB_HOST", "PATHS", "MY_PATH", "NODE_ENV", "LOG_LEVEL", "HOMEPAGE", "__PROTO__", "CONSTRUCTOR"]) {
      expect(dangerReason(name), name).toBeUndefined();
    }
  });

  it("lists every refused variable with its origin, and lets allowed ones through", () => {
    const vars = [
      { variable: "PATH", origin: "/app/path" },
      { variable: "LD_PRELOAD", origin: 'key "ld-preload" of secret s' },
      { variable: "DB_HOST", origin: "/app/db/host" },
    ];
    expect(() => checkBulkNames(vars, [])).toThrow(/LD_PRELOAD \(from key "ld-preload" of secret s\)[\s\S]*PATH \(from \/app\/path\)/);
    expect(() => checkBulkNames(vars, ["path"])).toThrow(/LD_PRELOAD/);
    expect(() => checkBulkNames(vars, ["PATH", "LD_PRELOAD"])).not.toThrow();
  });
});
