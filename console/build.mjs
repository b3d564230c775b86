// Builds the web console (docs/console.md) into dist/console/: one minified
// ES module bundle with Preact and the SigV4 signer, the page and its styles.
// Run by `npm run build` (and so by `npm install` in a checkout, via prepare).
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const out = here("../dist/console/");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [here("src/main.tsx")],
  bundle: true,
  minify: true,
  format: "esm",
  platform: "browser",
  target: ["chrome110", "firefox110", "safari16"],
  jsx: "automatic",
  jsxImportSource: "preact",
  outfile: `${out}app.js`,
  legalComments: "none",
  logLevel: "warning",
  define: { "process.env.NODE_ENV": '"production"' },
});
copyFileSync(here("index.html"), `${out}index.html`);
copyFileSync(here("style.css"), `${out}style.css`);
