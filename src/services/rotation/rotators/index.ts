import type { Rotator } from "../rotation-types.ts";

/** The built-in database rotators, by name (coffer-<name> in every account). */
export function databaseRotators(): Record<string, Rotator> {
  return {};
}
