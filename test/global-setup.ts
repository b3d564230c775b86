import { execFileSync } from "node:child_process";

/**
 * `coffer/client` resolves to dist/client.js, the build plain Node programs
 * import: build it from the current sources before any test imports it.
 */
export default function setup(): void {
  execFileSync("npm", ["run", "--silent", "build"], { stdio: "inherit" });
}
