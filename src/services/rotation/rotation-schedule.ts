/**
 * Rotation schedules: parsing and validating AWS Secrets Manager RotationRules
 * and computing rotation windows. Pure functions, all times in UTC, instants
 * as milliseconds since the epoch. The cron dialect itself lives in
 * rotation-cron.ts.
 *
 * Rules enforced by parseRotationRules (each failure is a
 * CofferError("InvalidParameter")):
 * - exactly one of AutomaticallyAfterDays (an integer 1–1000) and
 *   ScheduleExpression (1–256 characters, `rate(...)` or `cron(...)`);
 * - `rate(N hours)` with 4 <= N <= 24000, `rate(N days)` with 1 <= N <= 1000;
 *   the unit is singular exactly when N is 1 ("rate(1 day)");
 * - `cron(...)` as described in rotation-cron.ts;
 * - Duration matches `^[0-9]+h$` and is 1h–24h; for rate(N hours) it is at
 *   most N hours; for a cron expression the window may not extend into the
 *   next UTC day (start time of day + Duration <= 24h, for every start time)
 *   nor into the next window of the same day.
 *
 * Default windows (no Duration): rate(N hours) 1 hour; AutomaticallyAfterDays
 * and rate(N days) the whole UTC day; a cron expression "in days" (its hours
 * field names one hour) until the end of the UTC day; a cron expression "in
 * hours" (several hours a day) 1 hour, as AWS documents.
 */
import { createHash } from "node:crypto";
import type { RotationRules } from "../../storage/store.ts";
import { cronFor, minHourGap, nextCronStart, parseCron } from "./rotation-cron.ts";
import { DAY, HOUR, MIN_INTERVAL_HOURS, MINUTE, invalid } from "./rotation-limits.ts";

export type { RotationRules };

export interface Schedule {
  /** "days": AutomaticallyAfterDays; "rate": a rate() expression; "cron": a cron() expression. */
  kind: "days" | "rate" | "cron";
  /** Normalized, for display: "rate(30 days)" (also for kind "days"), "rate(4 hours)", "cron(0 16 ? * SAT#2 *)". */
  expression: string;
  /** Length of every window of this schedule, in ms. */
  windowMs: number;
}

const MAX_DAYS = 1000;

// ---------------------------------------------------------------------------
// rate()

interface Rate {
  unit: "hours" | "days";
  value: number;
}

const RATE_RE = /^rate\(\s*(\d+)\s+([A-Za-z]+)\s*\)$/;

/** Parses `rate(N unit)`, checking the value's range and the unit's number. */
function parseRate(expression: string): Rate {
  const m = RATE_RE.exec(expression);
  if (!m) invalid(`Invalid rate expression ${expression}: expected rate(Value Unit), e.g. rate(4 hours) or rate(10 days)`);
  const value = Number(m[1]);
  const word = m[2];
  if (!["hour", "hours", "day", "days"].includes(word)) {
    invalid(`Invalid rate expression ${expression}: the unit must be hour, hours, day or days`);
  }
  const unit = word.startsWith("hour") ? "hours" : "days";
  if (unit === "hours") {
    if (value < MIN_INTERVAL_HOURS) {
      invalid(`Invalid rate expression ${expression}: rotation is too frequent; a secret can be rotated at most every ${MIN_INTERVAL_HOURS} hours`);
    }
    if (value > MAX_DAYS * 24) invalid(`Invalid rate expression ${expression}: the rate in hours must be at most ${MAX_DAYS * 24}`);
  } else if (value < 1 || value > MAX_DAYS) {
    invalid(`Invalid rate expression ${expression}: the rate in days must be from 1 to ${MAX_DAYS}`);
  }
  const plural = word.endsWith("s");
  if (value === 1 && plural) invalid(`Invalid rate expression ${expression}: use the singular unit for 1, e.g. rate(1 ${word.slice(0, -1)})`);
  if (value !== 1 && !plural) invalid(`Invalid rate expression ${expression}: use the plural unit for values other than 1, e.g. rate(${value} ${word}s)`);
  return { unit, value };
}

function rateExpression(rate: Rate): string {
  const word = rate.unit === "hours" ? "hour" : "day";
  return `rate(${rate.value} ${word}${rate.value === 1 ? "" : "s"})`;
}

// ---------------------------------------------------------------------------
// RotationRules

function parseDuration(duration: string | undefined): number | undefined {
  if (duration === undefined || duration === null) return undefined;
  if (typeof duration !== "string" || !/^[0-9]+h$/.test(duration)) {
    invalid(`Invalid Duration ${JSON.stringify(duration)}: it must be a number of hours followed by h, e.g. 3h`);
  }
  const hours = Number(duration.slice(0, -1));
  if (hours < 1 || hours > 24) invalid(`Invalid Duration ${JSON.stringify(duration)}: the rotation window must be from 1h to 24h`);
  return hours;
}

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}

export function parseRotationRules(rules: RotationRules): Schedule {
  if (rules === null || typeof rules !== "object") invalid("RotationRules must be an object");
  const days = rules.automaticallyAfterDays ?? undefined;
  const expression = rules.scheduleExpression ?? undefined;
  if (days !== undefined && expression !== undefined) {
    invalid("You can't specify both AutomaticallyAfterDays and ScheduleExpression in RotationRules; use ScheduleExpression");
  }
  if (days === undefined && expression === undefined) {
    invalid("RotationRules must specify AutomaticallyAfterDays or ScheduleExpression");
  }
  const duration = parseDuration(rules.duration ?? undefined);

  if (days !== undefined) {
    if (typeof days !== "number" || !Number.isInteger(days) || days < 1 || days > MAX_DAYS) {
      invalid(`AutomaticallyAfterDays must be an integer from 1 to ${MAX_DAYS}, got ${String(days)}`);
    }
    return { kind: "days", expression: rateExpression({ unit: "days", value: days }), windowMs: (duration ?? 24) * HOUR };
  }

  if (typeof expression !== "string" || expression.length < 1 || expression.length > 256) {
    invalid("ScheduleExpression must be a string of 1 to 256 characters");
  }
  if (expression.startsWith("rate(")) {
    const rate = parseRate(expression);
    const normalized = rateExpression(rate);
    if (rate.unit === "days") return { kind: "rate", expression: normalized, windowMs: (duration ?? 24) * HOUR };
    if (duration !== undefined && duration > rate.value) {
      invalid(`Invalid Duration ${duration}h: the rotation window must not extend into the next rotation window; ${normalized} opens a window every ${rate.value} hours`);
    }
    return { kind: "rate", expression: normalized, windowMs: (duration ?? 1) * HOUR };
  }
  if (expression.startsWith("cron(")) {
    const spec = parseCron(expression);
    const lastStart = spec.hours[spec.hours.length - 1] * HOUR + spec.minute * MINUTE;
    if (duration !== undefined) {
      if (lastStart + duration * HOUR > DAY) {
        const at = `${pad2(spec.hours[spec.hours.length - 1])}:${pad2(spec.minute)}`;
        invalid(`Invalid Duration ${duration}h: the rotation window starting at ${at} UTC would extend into the next UTC day`);
      }
      const gap = minHourGap(spec.hours);
      if (duration > gap) {
        invalid(`Invalid Duration ${duration}h: the rotation window must not extend into the next rotation window; ${spec.expression} opens windows ${gap} hours apart`);
      }
      return { kind: "cron", expression: spec.expression, windowMs: duration * HOUR };
    }
    // AWS: a schedule "in hours" closes after 1 hour, one "in days" at the end of the UTC day.
    const windowMs = spec.hours.length > 1 ? HOUR : DAY - lastStart;
    return { kind: "cron", expression: spec.expression, windowMs };
  }
  invalid(`Invalid ScheduleExpression ${expression}: expected a rate() or cron() expression, e.g. rate(10 days) or cron(0 16 1,15 * ? *)`);
}

// ---------------------------------------------------------------------------
// Windows

function requireInstant(name: string, value: number): void {
  if (typeof value !== "number" || !Number.isFinite(value)) invalid(`${name} must be a finite number of milliseconds`);
}

/**
 * Start of the next window strictly after `after` (ms epoch), and the
 * window's end (start + schedule.windowMs).
 *
 * - AutomaticallyAfterDays / rate(N days): N whole UTC days after the UTC day
 *   of `lastRotated` (or of `after` when never rotated), starting at 00:00 UTC.
 * - rate(N hours): `lastRotated` (or `after`) aligned down to the hour, plus N hours.
 * - cron: the first matching minute strictly after `after` (throws if none
 *   within 5 years).
 *
 * A rate window already due at or before `after` (overdue: the secret was
 * last rotated long ago) is replaced by the first one possible: the next UTC
 * midnight (days) or the next whole hour (hours) after `after`.
 */
export function nextWindow(schedule: Schedule, after: number, lastRotated?: number): { start: number; end: number } {
  requireInstant("after", after);
  if (lastRotated !== undefined) requireInstant("lastRotated", lastRotated);
  const base = lastRotated ?? after;
  let start: number;
  if (schedule.kind === "cron") {
    start = nextCronStart(cronFor(schedule.expression), after);
  } else {
    const m = RATE_RE.exec(schedule.expression);
    if (!m) invalid(`Invalid schedule expression ${schedule.expression}`);
    const value = Number(m[1]);
    const unitMs = m[2].startsWith("hour") ? HOUR : DAY;
    start = Math.floor(base / unitMs) * unitMs + value * unitMs;
    if (start <= after) start = Math.floor(after / unitMs) * unitMs + unitMs;
  }
  return { start, end: start + schedule.windowMs };
}

/**
 * A deterministic instant in [start, end - margin) derived from `key` (e.g.
 * the secret's ARN), so that rotations due in the same window don't all
 * start at its opening. The margin is 10% of the window, at most 30 minutes,
 * leaving time for the rotation to finish inside the window.
 */
export function spreadWithin(window: { start: number; end: number }, key: string): number {
  const length = window.end - window.start;
  if (!(length > 0)) return window.start;
  const margin = Math.min(length * 0.1, 30 * MINUTE);
  const fraction = createHash("sha256").update(key).digest().readUIntBE(0, 6) / 2 ** 48;
  return window.start + Math.floor(fraction * (length - margin));
}
