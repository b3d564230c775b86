import { CofferError } from "../shared/errors.ts";
import type { CloudTrailEvent } from "./audit-types.ts";

/** Alert rules as the configuration file names them, and what a notification carries. */

export type AlertRule =
  | { name: string; type: "access-denied"; webhook: string; secret: string }
  | { name: string; type: "rotation-failed"; webhook: string; secret: string }
  | { name: string; type: "first-read"; webhook: string; secret: string }
  | { name: string; type: "parameter-policy"; webhook: string; secret: string }
  | { name: string; type: "auth-failures"; webhook: string; secret: string; threshold: number; windowSeconds: number };

/** The JSON body POSTed to a rule's webhook. */
export interface AlertPayload {
  alert: string;
  type: AlertRule["type"];
  /** When the event happened (ISO 8601). */
  time: string;
  summary: string;
  /** The audit record as written: it never holds secret values. */
  event: CloudTrailEvent;
  /** auth-failures: failures from the address within the window. */
  count?: number;
}

const RULE_TYPES: readonly AlertRule["type"][] = ["access-denied", "rotation-failed", "first-read", "auth-failures", "parameter-policy"];
const COMMON_FIELDS = ["name", "type", "webhook", "secret"];
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Validates the "alerts" list of the configuration file. Absent means no
 * rules. Messages name the rule and the field, never the secret or the URL.
 */
export function parseAlertRules(value: unknown): AlertRule[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalid(`"alerts" must be a list of rules, not ${typeof value}.`);
  const names = new Set<string>();
  return value.map((raw, i): AlertRule => {
    if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw invalid(`alerts[${i}] must be an object.`);
    const r = raw as Record<string, unknown>;
    if (typeof r.name !== "string" || !NAME_PATTERN.test(r.name)) {
      throw invalid(`alerts[${i}]: name must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit.`);
    }
    const name = r.name;
    if (names.has(name)) throw invalid(`alerts[${i}]: the name "${name}" is already used by another rule; names must be unique.`);
    names.add(name);
    const label = `alert rule "${name}"`;
    const type = r.type as AlertRule["type"];
    if (!RULE_TYPES.includes(type)) throw invalid(`${label}: type must be one of ${RULE_TYPES.join(", ")}.`);
    const allowed = type === "auth-failures" ? [...COMMON_FIELDS, "threshold", "windowSeconds"] : COMMON_FIELDS;
    const unknown = Object.keys(r).filter((k) => !allowed.includes(k));
    if (unknown.length) throw invalid(`${label}: unknown field${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `"${k}"`).join(", ")} for type ${type}.`);
    if (typeof r.webhook !== "string" || !isHttpUrl(r.webhook)) throw invalid(`${label}: webhook must be an http:// or https:// URL.`);
    if (typeof r.secret !== "string" || r.secret.length < 16) {
      throw invalid(`${label}: secret must be a string of at least 16 characters (it signs every notification).`);
    }
    const base = { name, webhook: r.webhook, secret: r.secret };
    if (type !== "auth-failures") return { ...base, type };
    for (const field of ["threshold", "windowSeconds"] as const) {
      if (!Number.isInteger(r[field]) || (r[field] as number) <= 0) throw invalid(`${label}: ${field} must be a positive integer.`);
    }
    return { ...base, type, threshold: r.threshold as number, windowSeconds: r.windowSeconds as number };
  });
}

function invalid(message: string): CofferError {
  return new CofferError("InvalidParameter", message);
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
  } catch {
    return false;
  }
}

