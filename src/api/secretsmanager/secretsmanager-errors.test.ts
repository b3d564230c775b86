import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { secretsManagerErrors } from "./secretsmanager-errors.ts";
import { shapes } from "./generated/shapes.ts";

const doc = readFileSync(new URL("../../../docs/errors.md", import.meta.url), "utf8");

it("documents every error code exactly as mapped", () => {
  for (const [code, { type, status }] of Object.entries(secretsManagerErrors)) {
    expect(doc, code).toMatch(new RegExp(`^\\| ${code} \\| ${type} \\| ${status} \\|`, "m"));
  }
  const documented = [...doc.matchAll(/^\| (\w+) \| \w+ \| \d+ \|/gm)].map((m) => m[1]);
  expect(documented.sort()).toEqual(Object.keys(secretsManagerErrors).sort());
});

it("uses the model's exception names where the model has them", () => {
  const modelled = Object.entries(shapes)
    .filter(([, s]) => s.type === "structure" && s.exception)
    .map(([name]) => name);
  for (const name of ["ResourceNotFoundException", "ResourceExistsException", "InvalidParameterException", "InvalidRequestException",
    "LimitExceededException", "EncryptionFailure", "DecryptionFailure", "InvalidNextTokenException"]) {
    expect(modelled).toContain(name);
    expect(Object.values(secretsManagerErrors).map((e) => e.type)).toContain(name);
  }
});
