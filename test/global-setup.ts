import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { dropSchemas } from "./postgres.ts";

/**
 * `coffer/client` resolves to dist/client.js, the build plain Node programs
 * import: build it from the current sources before any test imports it.
 */
export default function setup(): () => Promise<void> {
  execFileSync("npm", ["run", "--silent", "build"], { stdio: "inherit" });
  // Names this run's PostgreSQL schemas (test/e2e/harness.ts), so the end of the run drops what it left.
  const run = (process.env.COFFER_TEST_RUN ??= randomBytes(4).toString("hex"));
  return async () => {
    if (process.env.COFFER_TEST_BACKEND === "postgres") await dropSchemas(`coffer_wire_${run}_`);
  };
}
