/**
 * AWS's cron dialect for rotation schedules: parsing, validation and the next
 * matching minute. Pure functions, all times in UTC, instants as milliseconds
 * since the epoch.
 *
 * Hand-written because AWS's cron dialect (six fields, `?`, `L`, `W`, `#`, a
 * year field, always UTC) is not what cron libraries implement.
 *
 * Rules enforced by parseCron (each failure is a CofferError("InvalidParameter")):
 * - `cron(Minutes Hours Day-of-month Month Day-of-week Year)`, six fields:
 *   minutes a single value 0–59; hours 0–23 with `* , - /`; day-of-month 1–31
 *   with `* , - /`, or one of `L`, `LW`, `nW`; month 1–12 / JAN–DEC with
 *   `* , - /`; day-of-week 1–7 / SUN–SAT (1 = SUN) with `* , - /`, or one of
 *   `L` (= SAT), `nL` (last weekday n of the month), `n#k` (k-th weekday n,
 *   k 1–5); year 1970–2199 with `* , - /`. Ranges must be ascending. Exactly
 *   one of day-of-month and day-of-week is `?`;
 * - the cron expression matches at least one date;
 * - windows may not start less than 4 hours apart (within a day, and across
 *   midnight when two consecutive days can both match).
 */
import { DAY, HOUR, MIN_INTERVAL_HOURS, MINUTE, invalid } from "./rotation-limits.ts";

const SEARCH_YEARS = 5;
const MIN_YEAR = 1970;
const MAX_YEAR = 2199;

// ---------------------------------------------------------------------------
// Parsing

type DomSpec =
  | { kind: "set"; days: boolean[] } // index 1..31
  | { kind: "last" } // L
  | { kind: "lastWeekday" } // LW
  | { kind: "nearestWeekday"; day: number }; // nW

type DowSpec =
  | { kind: "set"; days: boolean[] } // index 1..7, 1 = SUN
  | { kind: "last"; weekday: number } // nL
  | { kind: "nth"; weekday: number; n: number }; // n#k

export interface CronSpec {
  minute: number;
  /** Matching hours, ascending, distinct. */
  hours: number[];
  /** index 1..12 */
  months: boolean[];
  /** null when the field is `?`. */
  dom: DomSpec | null;
  dow: DowSpec | null;
  /** Matching years, ascending; null for `*`. */
  years: number[] | null;
  /** The normalized expression. */
  expression: string;
}

const MONTH_NAMES = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAY_NAMES = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

interface FieldDef {
  name: string;
  min: number;
  max: number;
  names?: string[]; // names[i] stands for min + i
}

const HOURS: FieldDef = { name: "hours", min: 0, max: 23 };
const DOM: FieldDef = { name: "day-of-month", min: 1, max: 31 };
const MONTHS: FieldDef = { name: "month", min: 1, max: 12, names: MONTH_NAMES };
const DOW: FieldDef = { name: "day-of-week", min: 1, max: 7, names: DAY_NAMES };
const YEARS: FieldDef = { name: "year", min: MIN_YEAR, max: MAX_YEAR };

function fieldError(expression: string, def: FieldDef, text: string, why: string): never {
  invalid(`Invalid cron expression ${expression}: ${JSON.stringify(text)} in the ${def.name} field ${why}`);
}

function fieldValue(expression: string, def: FieldDef, text: string): number {
  let v: number;
  if (/^\d+$/.test(text)) v = Number(text);
  else {
    const i = def.names?.indexOf(text) ?? -1;
    if (i < 0) fieldError(expression, def, text, def.names ? `is not a number or a name (${def.names[0]}-${def.names[def.names.length - 1]})` : "is not a number");
    v = def.min + i;
  }
  if (v < def.min || v > def.max) fieldError(expression, def, text, `is out of range ${def.min}-${def.max}`);
  return v;
}

/** A list of `*`, `v`, `a-b`, each optionally `/step`; returns a membership array indexed by value. */
function parseList(expression: string, def: FieldDef, text: string): boolean[] {
  const set: boolean[] = new Array(def.max + 1).fill(false);
  for (const item of text.split(",")) {
    if (item === "") fieldError(expression, def, text, "has an empty list item");
    const [range, stepText, extra] = item.split("/");
    if (extra !== undefined) fieldError(expression, def, item, "has more than one /");
    let lo: number;
    let hi: number;
    if (range === "*") {
      lo = def.min;
      hi = def.max;
    } else if (range.includes("-")) {
      const [a, b, more] = range.split("-");
      if (more !== undefined) fieldError(expression, def, item, "is not a valid range");
      lo = fieldValue(expression, def, a);
      hi = fieldValue(expression, def, b);
      if (hi < lo) fieldError(expression, def, item, "is a descending range");
    } else {
      lo = fieldValue(expression, def, range);
      hi = stepText === undefined ? lo : def.max;
    }
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) < 1) fieldError(expression, def, item, "has an invalid step");
      step = Number(stepText);
    }
    for (let v = lo; v <= hi; v += step) set[v] = true;
  }
  return set;
}

function parseDom(expression: string, text: string): DomSpec | null {
  if (text === "?") return null;
  if (text === "L") return { kind: "last" };
  if (text === "LW") return { kind: "lastWeekday" };
  const w = /^(\d+)W$/.exec(text);
  if (w) return { kind: "nearestWeekday", day: fieldValue(expression, DOM, w[1]) };
  if (/[LW#?]/.test(text)) fieldError(expression, DOM, text, "is not valid: L, LW and nW must stand alone");
  return { kind: "set", days: parseList(expression, DOM, text) };
}

function parseDow(expression: string, text: string): DowSpec | null {
  if (text === "?") return null;
  if (text === "L") return { kind: "set", days: [false, false, false, false, false, false, false, true] };
  const last = /^(\w+)L$/.exec(text);
  if (last) return { kind: "last", weekday: fieldValue(expression, DOW, last[1]) };
  const nth = /^(\w+)#(\d+)$/.exec(text);
  if (nth) {
    const n = Number(nth[2]);
    if (n < 1 || n > 5) fieldError(expression, DOW, text, "is not valid: the number after # must be from 1 to 5");
    return { kind: "nth", weekday: fieldValue(expression, DOW, nth[1]), n };
  }
  if (/[LW#?]/.test(text)) fieldError(expression, DOW, text, "is not valid: nL and n#k must stand alone");
  return { kind: "set", days: parseList(expression, DOW, text) };
}

/** Syntax only: no frequency or satisfiability checks. */
function parseCronSyntax(expression: string): CronSpec {
  const m = /^cron\((.*)\)$/.exec(expression);
  if (!m) invalid(`Invalid cron expression ${expression}: expected cron(Minutes Hours Day-of-month Month Day-of-week Year)`);
  const fields = m[1].trim().toUpperCase().split(/\s+/).filter((f) => f !== "");
  if (fields.length !== 6) {
    invalid(`Invalid cron expression ${expression}: expected six fields (Minutes Hours Day-of-month Month Day-of-week Year), got ${fields.length}`);
  }
  const [minText, hourText, domText, monthText, dowText, yearText] = fields;
  const normalized = `cron(${fields.join(" ")})`;

  if (!/^\d+$/.test(minText) || Number(minText) > 59) {
    invalid(`Invalid cron expression ${expression}: the minutes field must be a single value from 0 to 59 (rotation windows start once per matching hour), got ${JSON.stringify(minText)}`);
  }
  const hourSet = parseList(expression, HOURS, hourText);
  const hours: number[] = [];
  hourSet.forEach((on, h) => on && hours.push(h));
  const months = parseList(expression, MONTHS, monthText);
  const dom = parseDom(expression, domText);
  const dow = parseDow(expression, dowText);
  if (dom === null && dow === null) {
    invalid(`Invalid cron expression ${expression}: the day-of-month and day-of-week fields can't both be ?; use ? in exactly one of them`);
  }
  if (dom !== null && dow !== null) {
    invalid(`Invalid cron expression ${expression}: you can't specify both the day-of-month and the day-of-week fields; use ? in one of them`);
  }
  let years: number[] | null = null;
  if (yearText !== "*") {
    years = [];
    parseList(expression, YEARS, yearText).forEach((on, y) => on && years!.push(y));
  }
  return { minute: Number(minText), hours, months, dom, dow, years, expression: normalized };
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** 1 = SUN … 7 = SAT */
function weekdayOf(year: number, month: number, day: number): number {
  return new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 1;
}

/** The weekday (Mon–Fri) nearest to `day`, without leaving the month. */
function nearestWeekday(day: number, weekday: number, dim: number): number {
  if (weekday === 7) return day === 1 ? 3 : day - 1; // Saturday: Friday before, or Monday 3rd
  if (weekday === 1) return day === dim ? day - 2 : day + 1; // Sunday: Monday after, or Friday before
  return day;
}

/** Does day `day` of `month` match, given the weekday of the 1st and the month's length? */
function dayMatches(spec: CronSpec, day: number, firstWeekday: number, dim: number): boolean {
  const weekday = ((firstWeekday - 1 + day - 1) % 7) + 1;
  const dom = spec.dom;
  if (dom !== null) {
    switch (dom.kind) {
      case "set":
        return dom.days[day];
      case "last":
        return day === dim;
      case "lastWeekday": {
        const lastWeekday = ((firstWeekday - 1 + dim - 1) % 7) + 1;
        return day === nearestWeekday(dim, lastWeekday, dim);
      }
      case "nearestWeekday": {
        if (dom.day > dim) return false;
        const w = ((firstWeekday - 1 + dom.day - 1) % 7) + 1;
        return day === nearestWeekday(dom.day, w, dim);
      }
    }
  }
  const dow = spec.dow!;
  switch (dow.kind) {
    case "set":
      return dow.days[weekday];
    case "last":
      return weekday === dow.weekday && day + 7 > dim;
    case "nth":
      return weekday === dow.weekday && Math.ceil(day / 7) === dow.n;
  }
}

function yearMatches(spec: CronSpec, year: number): boolean {
  return spec.years === null || spec.years.includes(year);
}

/**
 * Calls `visit` with the epoch day number of every matching date, in order,
 * over the expression's years, or a 29-year span when the year is `*` (every
 * combination of leap year and weekday of January 1st, plus a year boundary).
 * Stops when `visit` returns true; returns whether it did.
 */
function scanDays(spec: CronSpec, visit: (epochDay: number) => boolean): boolean {
  const years = spec.years ?? Array.from({ length: 29 }, (_, i) => 2000 + i);
  for (const y of years) {
    for (let mo = 1; mo <= 12; mo++) {
      if (!spec.months[mo]) continue;
      const dim = daysInMonth(y, mo);
      const first = weekdayOf(y, mo, 1);
      for (let d = 1; d <= dim; d++) {
        if (dayMatches(spec, d, first, dim) && visit(Date.UTC(y, mo - 1, d) / DAY)) return true;
      }
    }
  }
  return false;
}

/** Syntax plus the semantic rules: satisfiable, windows at least 4 hours apart. */
export function parseCron(expression: string): CronSpec {
  const spec = parseCronSyntax(expression);
  const e = spec.expression;
  if (spec.hours.length === 0) invalid(`Invalid cron expression ${e}: the hours field matches no hour`);
  if (!scanDays(spec, () => true)) invalid(`Invalid cron expression ${e}: it never matches a date`);
  const gap = minHourGap(spec.hours);
  if (gap < MIN_INTERVAL_HOURS) {
    invalid(`Invalid cron expression ${e}: rotation is too frequent; windows would start ${gap} hour${gap === 1 ? "" : "s"} apart, and a secret can be rotated at most every ${MIN_INTERVAL_HOURS} hours`);
  }
  const overnight = 24 - spec.hours[spec.hours.length - 1] + spec.hours[0];
  if (overnight < MIN_INTERVAL_HOURS) {
    let previous = Number.NaN;
    const consecutive = scanDays(spec, (day) => {
      const hit = day === previous + 1;
      previous = day;
      return hit;
    });
    if (consecutive) {
      invalid(`Invalid cron expression ${e}: rotation is too frequent; windows would start ${overnight} hour${overnight === 1 ? "" : "s"} apart across midnight, and a secret can be rotated at most every ${MIN_INTERVAL_HOURS} hours`);
    }
  }
  return spec;
}

/** Smallest gap between consecutive hours of one day (Infinity for a single hour). */
export function minHourGap(hours: number[]): number {
  let gap = Number.POSITIVE_INFINITY;
  for (let i = 1; i < hours.length; i++) gap = Math.min(gap, hours[i] - hours[i - 1]);
  return gap;
}

// ---------------------------------------------------------------------------
// Next matching minute

const cronCache = new Map<string, CronSpec>();

/** A stored schedule's spec, syntax only: its rules were checked by parseCron when it was set. */
export function cronFor(expression: string): CronSpec {
  let spec = cronCache.get(expression);
  if (!spec) {
    spec = parseCronSyntax(expression);
    if (cronCache.size >= 256) cronCache.clear();
    cronCache.set(expression, spec);
  }
  return spec;
}

/** The first minute strictly after `after` that matches, searching at most SEARCH_YEARS years. */
export function nextCronStart(spec: CronSpec, after: number): number {
  const first = (Math.floor(after / MINUTE) + 1) * MINUTE;
  const limitDate = new Date(after);
  limitDate.setUTCFullYear(limitDate.getUTCFullYear() + SEARCH_YEARS);
  const limit = limitDate.getTime();
  const from = new Date(first);
  let y = from.getUTCFullYear();
  let mo = from.getUTCMonth() + 1;
  let fromDay = from.getUTCDate();
  while (Date.UTC(y, mo - 1, 1) <= limit) {
    if (!yearMatches(spec, y)) {
      y++;
      mo = 1;
      fromDay = 1;
      continue;
    }
    if (spec.months[mo]) {
      const dim = daysInMonth(y, mo);
      const firstWeekday = weekdayOf(y, mo, 1);
      for (let d = fromDay; d <= dim; d++) {
        if (!dayMatches(spec, d, firstWeekday, dim)) continue;
        const dayStart = Date.UTC(y, mo - 1, d);
        for (const h of spec.hours) {
          const start = dayStart + h * HOUR + spec.minute * MINUTE;
          if (start < first) continue;
          if (start > limit) break;
          return start;
        }
      }
    }
    fromDay = 1;
    if (++mo > 12) {
      mo = 1;
      y++;
    }
  }
  invalid(`The schedule ${spec.expression} has no rotation window within ${SEARCH_YEARS} years after ${new Date(after).toISOString()}`);
}
