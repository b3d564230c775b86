import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import type { ErrorCode } from "../../shared/errors.ts";
import { shapes } from "./generated/shapes.ts";
import { ssmError, ssmErrors } from "./ssm-errors.ts";

const doc = readFileSync(new URL("../../../docs/parameters.md", import.meta.url), "utf8");
const rows = [...doc.matchAll(/^\| (\w+) \| (\w+) \| (\d+) \|/gm)].map((m) => ({ code: m[1] as ErrorCode, type: m[2], status: Number(m[3]) }));

it("documents every Parameter Store error exactly as the API maps it", () => {
  for (const code of Object.keys(ssmErrors)) expect(rows.map((r) => r.code), code).toContain(code);
  for (const r of rows) expect(ssmError(r.code), r.code).toEqual({ type: r.type, status: r.status });
  // The protocol's shared errors a parameters call can end with are there too.
  for (const code of ["Validation", "AccessDenied"] as const) expect(rows.map((r) => r.code)).toContain(code);
});

it("uses the SSM model's exception names (only the protocol's own errors are not in the model)", () => {
  const modelled = new Set(Object.entries(shapes).filter(([, s]) => s.type === "structure" && s.exception).map(([name]) => name));
  for (const { type } of Object.values(ssmErrors)) {
    if (type !== "ValidationException") expect(modelled.has(type), type).toBe(true);
  }
  expect(ssmError("Internal")).toEqual({ type: "InternalServerError", status: 500 });
  expect(ssmError("AccessDenied")).toEqual({ type: "AccessDeniedException", status: 400 });
});
