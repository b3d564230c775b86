/**
 * The layer rules of docs/architecture.md, checked by test/architecture.test.ts
 * (part of `npm test`). Run by hand: npx depcruise src --config .dependency-cruiser.cjs
 *
 * Server side, top to bottom (a layer may import only the layers below it):
 *   cli > app > server > api > audit > services > policy > crypto > storage > shared
 * Client side (run by applications, never by the server):
 *   cli > agent > client > shared
 * Unit tests beside the code (*.test.ts) may import anything but src/ code never
 * imports a test, test/, bench/ or tools/.
 */

/** Each layer and the layers it may import (besides itself). */
const LAYERS = {
  cli: ["app", "server", "api", "audit", "services", "policy", "crypto", "storage", "shared", "agent", "client"],
  app: ["server", "api", "audit", "services", "policy", "crypto", "storage", "shared"],
  server: ["api", "audit", "services", "policy", "crypto", "storage", "shared"],
  api: ["audit", "services", "policy", "crypto", "storage", "shared"],
  audit: ["services", "policy", "crypto", "storage", "shared"],
  services: ["policy", "crypto", "storage", "shared"],
  policy: ["shared"],
  crypto: ["storage", "shared"],
  storage: ["shared"],
  shared: [],
  agent: ["client", "shared"],
  client: ["shared"],
};

const ALL = Object.keys(LAYERS);
const TEST_FILE = "\\.test\\.ts$";

const layerRules = Object.entries(LAYERS).map(([layer, allowed]) => {
  const forbidden = ALL.filter((l) => l !== layer && !allowed.includes(l));
  return {
    name: `layer-${layer}`,
    comment: `src/${layer}/ may import only ${allowed.length ? allowed.map((l) => `src/${l}/`).join(", ") : "nothing else in src/"} (docs/architecture.md)`,
    severity: "error",
    from: { path: `^src/${layer}/`, pathNot: TEST_FILE },
    to: { path: `^src/(${forbidden.join("|")})/` },
  };
});

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "No import cycles, type-only imports included.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "no-unknown-layer",
      comment: "Every folder of src/ is a layer of docs/architecture.md; a new one is added there and here.",
      severity: "error",
      from: { path: "^src/", pathNot: `^src/(${ALL.join("|")})/` },
      to: {},
    },
    {
      name: "src-not-to-tests",
      comment: "Code under src/ never depends on tests, benchmarks or tools.",
      severity: "error",
      from: { path: "^src/", pathNot: TEST_FILE },
      to: { path: [`^(test|bench|tools)/`, TEST_FILE] },
    },
    ...layerRules,
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^node_modules" },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: [".ts", ".js"] },
    skipAnalysisNotInRules: true,
  },
};
