#!/usr/bin/env node
// Entry point: loads the TypeScript sources through tsx (esbuild), so there is no build step.
import { register } from "tsx/esm/api";

register();
// The AWS SDK warns on every start that future releases will need Node 22; that is no news to an operator.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = (warning, ...rest) => {
  if (String(warning).includes("NodeVersionSupportWarning") || rest.some((r) => String(r?.type ?? r).includes("NodeVersionSupportWarning"))) return;
  emitWarning(warning, ...rest);
};
await import("../src/cli/main.ts");
