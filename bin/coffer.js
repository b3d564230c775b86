#!/usr/bin/env node
// Entry point: loads the TypeScript sources through tsx (esbuild), so there is no build step.
import { register } from "tsx/esm/api";

register();
// The AWS SDK warns on every start that future releases will need Node 22; that is no news to an operator.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
await import("../src/cli/main.ts");
