import { execFile } from "node:child_process";
import { mkdirSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { printedCredentials, spawnServer } from "./spawn.ts";
import { spawnedCleanup } from "./spawned.ts";

/**
 * What `npm pack` ships, used as an installed copy is: the server started
 * from the unpacked tarball's own bin (its dependencies linked in, as npm
 * would install them), and a TypeScript program compiled with tsc against
 * `coffer/client` (no TS5097: the types are compiled .d.ts) and run against
 * that server. The full `npm install -g` (which fetches and builds the
 * dependencies, two minutes) is deploy/smoke-install.sh.
 */

const run = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));
const nodeModules = realpathSync(join(root, "node_modules"));
const { tempDir, track } = spawnedCleanup("coffer-pack-");

it("npm pack ships what the server and coffer/client need, and nothing of the tests", { timeout: 120_000 }, async () => {
  const dir = tempDir();
  const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", dir], { cwd: root, maxBuffer: 16 << 20 });
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf("["))) as [{ filename: string; files: { path: string }[] }];
  const files = packed.files.map((f) => f.path);
  for (const needed of [
    "bin/coffer.js",
    "src/cli/main.ts",
    "src/storage/sqlite/sqlite-audit-worker.mjs",
    "src/storage/audit-chain.mjs",
    "dist/client.js",
    "dist/types/index.d.ts",
    "dist/console/index.html",
    "dist/console/app.js",
    "dist/console/style.css",
    "docs/operations.md",
    "README.md",
  ]) {
    expect(files).toContain(needed);
  }
  expect(files.filter((f) => f.endsWith(".test.ts") || f.startsWith("test/") || f.startsWith("bench/"))).toEqual([]);

  // Unpacked as npm would, its dependencies beside it.
  await run("tar", ["-xzf", join(dir, packed.filename), "-C", dir]);
  const pkg = join(dir, "package");
  symlinkSync(nodeModules, join(pkg, "node_modules"));
  const server = track(await spawnServer(["--data-dir", join(dir, "data"), "--log-level", "warn"], {}, [], join(pkg, "bin", "coffer.js")));
  // The web console, built before packing, served by the installed server (docs/console.md).
  const page = await fetch(`${server.url}/console/`);
  expect(page.status).toBe(200);
  expect(await page.text()).toContain('src="app.js"');
  expect((await fetch(`${server.url}/console/app.js`)).headers.get("content-type")).toBe("text/javascript; charset=utf-8");

  // A TypeScript consumer of coffer/client, strict, without allowImportingTsExtensions.
  const app = join(dir, "app");
  mkdirSync(join(app, "node_modules", "@types"), { recursive: true });
  symlinkSync(pkg, join(app, "node_modules", "coffer"));
  symlinkSync(join(nodeModules, "@types", "node"), join(app, "node_modules", "@types", "node"));
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", type: "module", private: true }));
  writeFileSync(
    join(app, "tsconfig.json"),
    JSON.stringify({ compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, outDir: "out" }, include: ["main.ts"] }),
  );
  writeFileSync(
    join(app, "main.ts"),
    [
      'import { SecretsManagerClient, CreateSecretCommand } from "@aws-sdk/client-secrets-manager";',
      'import { SecretCache, isAuthError, type SecretCacheOptions } from "coffer/client";',
      "const clientConfig: SecretCacheOptions[\"clientConfig\"] = { endpoint: process.argv[2], region: \"us-east-1\" };",
      "await new SecretsManagerClient(clientConfig!).send(new CreateSecretCommand({ Name: \"app/db\", SecretString: \"from-the-package\" }));",
      "const cache = new SecretCache({ clientConfig });",
      "const value: string = await cache.getSecretString(\"app/db\");",
      "console.log(value, isAuthError(new Error(\"x\")));",
    ].join("\n"),
  );
  // The SDK for the consumer's own CreateSecret: what it would install itself.
  symlinkSync(join(nodeModules, "@aws-sdk"), join(app, "node_modules", "@aws-sdk"));
  await run(process.execPath, [join(nodeModules, "typescript", "bin", "tsc"), "-p", app]);
  const creds = printedCredentials(server.output());
  const out = await run(process.execPath, [join(app, "out", "main.js"), server.url], {
    env: { ...process.env, AWS_ACCESS_KEY_ID: creds.accessKeyId, AWS_SECRET_ACCESS_KEY: creds.secretAccessKey },
  });
  expect(out.stdout).toBe("from-the-package false\n");
});
