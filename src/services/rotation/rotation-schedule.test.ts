import { describe, expect, it } from "vitest";
import { CofferError } from "../../shared/errors.ts";
import { nextWindow, parseRotationRules, spreadWithin, type RotationRules, type Schedule } from "./rotation-schedule.ts";

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const at = (iso: string): number => Date.parse(iso);
const iso = (ms: number): string => new Date(ms).toISOString().replace(".000Z", "Z");

function rejection(fn: () => unknown): CofferError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CofferError);
    return err as CofferError;
  }
  throw new Error("expected a CofferError");
}

describe("parseRotationRules: valid rules", () => {
  const cases: [string, RotationRules, Schedule][] = [
    ["AutomaticallyAfterDays", { automaticallyAfterDays: 30 }, { kind: "days", expression: "rate(30 days)", windowMs: DAY }],
    ["AutomaticallyAfterDays 1 with Duration", { automaticallyAfterDays: 1, duration: "3h" }, { kind: "days", expression: "rate(1 day)", windowMs: 3 * HOUR }],
    ["AutomaticallyAfterDays 1000", { automaticallyAfterDays: 1000 }, { kind: "days", expression: "rate(1000 days)", windowMs: DAY }],
    ["rate(1 day)", { scheduleExpression: "rate(1 day)" }, { kind: "rate", expression: "rate(1 day)", windowMs: DAY }],
    ["rate(10 days) with 24h", { scheduleExpression: "rate(10 days)", duration: "24h" }, { kind: "rate", expression: "rate(10 days)", windowMs: DAY }],
    ["rate(4 hours) default 1h", { scheduleExpression: "rate(4 hours)" }, { kind: "rate", expression: "rate(4 hours)", windowMs: HOUR }],
    ["rate(4 hours) with 4h", { scheduleExpression: "rate(4 hours)", duration: "4h" }, { kind: "rate", expression: "rate(4 hours)", windowMs: 4 * HOUR }],
    ["rate, spaces normalized", { scheduleExpression: "rate( 12  hours )" }, { kind: "rate", expression: "rate(12 hours)", windowMs: HOUR }],
    ["cron nth weekday, name lower case", { scheduleExpression: "cron(0 16 ? * sat#2 *)" }, { kind: "cron", expression: "cron(0 16 ? * SAT#2 *)", windowMs: 8 * HOUR }],
    ["cron last day of month", { scheduleExpression: "cron(0 8 L * ? *)" }, { kind: "cron", expression: "cron(0 8 L * ? *)", windowMs: 16 * HOUR }],
    ["cron nearest weekday", { scheduleExpression: "cron(0 8 15W * ? *)" }, { kind: "cron", expression: "cron(0 8 15W * ? *)", windowMs: 16 * HOUR }],
    ["cron last weekday of month", { scheduleExpression: "cron(0 8 LW * ? *)" }, { kind: "cron", expression: "cron(0 8 LW * ? *)", windowMs: 16 * HOUR }],
    ["cron last Friday", { scheduleExpression: "cron(0 8 ? * 6L *)" }, { kind: "cron", expression: "cron(0 8 ? * 6L *)", windowMs: 16 * HOUR }],
    ["cron last Friday by name", { scheduleExpression: "cron(0 8 ? * FRIL *)" }, { kind: "cron", expression: "cron(0 8 ? * FRIL *)", windowMs: 16 * HOUR }],
    ["cron L in day-of-week (Saturday)", { scheduleExpression: "cron(0 0 ? * L *)" }, { kind: "cron", expression: "cron(0 0 ? * L *)", windowMs: DAY }],
    ["cron month and weekday names", { scheduleExpression: "cron(0 9 ? JAN-MAR,OCT SUN *)" }, { kind: "cron", expression: "cron(0 9 ? JAN-MAR,OCT SUN *)", windowMs: 15 * HOUR }],
    ["cron weekdays range, whitespace collapsed", { scheduleExpression: "cron(0  12 ?  * MON-FRI  *)" }, { kind: "cron", expression: "cron(0 12 ? * MON-FRI *)", windowMs: 12 * HOUR }],
    ["cron year range", { scheduleExpression: "cron(0 0 1 1 ? 2025-2027)" }, { kind: "cron", expression: "cron(0 0 1 1 ? 2025-2027)", windowMs: DAY }],
    ["cron year list and step", { scheduleExpression: "cron(0 0 1 1 ? 2030,2040/5)" }, { kind: "cron", expression: "cron(0 0 1 1 ? 2030,2040/5)", windowMs: DAY }],
    ["cron non-zero minute", { scheduleExpression: "cron(30 22 * * ? *)" }, { kind: "cron", expression: "cron(30 22 * * ? *)", windowMs: 90 * MINUTE }],
    ["cron every 4 hours: in hours, default 1h", { scheduleExpression: "cron(0 0/4 * * ? *)" }, { kind: "cron", expression: "cron(0 0/4 * * ? *)", windowMs: HOUR }],
    ["cron 4/12 with Duration 8h", { scheduleExpression: "cron(0 4/12 * * ? *)", duration: "8h" }, { kind: "cron", expression: "cron(0 4/12 * * ? *)", windowMs: 8 * HOUR }],
    ["cron 22:00 with Duration 2h", { scheduleExpression: "cron(0 22 * * ? *)", duration: "2h" }, { kind: "cron", expression: "cron(0 22 * * ? *)", windowMs: 2 * HOUR }],
    ["cron day-of-month list and step", { scheduleExpression: "cron(0 16 1,15 * ? *)" }, { kind: "cron", expression: "cron(0 16 1,15 * ? *)", windowMs: 8 * HOUR }],
    ["cron 22:00 and 00:00 on Mondays only", { scheduleExpression: "cron(0 0,22 ? * MON *)" }, { kind: "cron", expression: "cron(0 0,22 ? * MON *)", windowMs: HOUR }],
    ["cron 01:00 and 22:00 on the 1st only", { scheduleExpression: "cron(0 1,22 1 * ? *)" }, { kind: "cron", expression: "cron(0 1,22 1 * ? *)", windowMs: HOUR }],
    ["cron Feb 29 (leap years)", { scheduleExpression: "cron(0 0 29 2 ? *)" }, { kind: "cron", expression: "cron(0 0 29 2 ? *)", windowMs: DAY }],
    ["Duration 03h", { scheduleExpression: "rate(7 days)", duration: "03h" }, { kind: "rate", expression: "rate(7 days)", windowMs: 3 * HOUR }],
  ];
  it.each(cases)("%s", (_name, rules, expected) => {
    expect(parseRotationRules(rules)).toEqual(expected);
  });
});

describe("parseRotationRules: invalid rules", () => {
  const cases: [string, RotationRules, RegExp][] = [
    ["both rules", { automaticallyAfterDays: 30, scheduleExpression: "rate(30 days)" }, /can't specify both AutomaticallyAfterDays and ScheduleExpression/],
    ["neither rule", { duration: "3h" }, /must specify AutomaticallyAfterDays or ScheduleExpression/],
    ["AutomaticallyAfterDays 0", { automaticallyAfterDays: 0 }, /AutomaticallyAfterDays must be an integer from 1 to 1000, got 0/],
    ["AutomaticallyAfterDays 1001", { automaticallyAfterDays: 1001 }, /from 1 to 1000, got 1001/],
    ["AutomaticallyAfterDays 1.5", { automaticallyAfterDays: 1.5 }, /must be an integer/],
    ["empty expression", { scheduleExpression: "" }, /1 to 256 characters/],
    ["257-character expression", { scheduleExpression: `cron(0 0 1 1 ? ${"2030,".repeat(50)}2031)` }, /1 to 256 characters/],
    ["neither rate nor cron", { scheduleExpression: "every 5 days" }, /expected a rate\(\) or cron\(\) expression/],
    ["rate(1 hours) too frequent", { scheduleExpression: "rate(1 hours)" }, /too frequent; a secret can be rotated at most every 4 hours/],
    ["rate(3 hours) too frequent", { scheduleExpression: "rate(3 hours)" }, /too frequent/],
    ["rate(0 days)", { scheduleExpression: "rate(0 days)" }, /the rate in days must be from 1 to 1000/],
    ["rate(1001 days)", { scheduleExpression: "rate(1001 days)" }, /the rate in days must be from 1 to 1000/],
    ["rate(1 days) plural for 1", { scheduleExpression: "rate(1 days)" }, /use the singular unit for 1, e.g. rate\(1 day\)/],
    ["rate(2 day) singular for 2", { scheduleExpression: "rate(2 day)" }, /use the plural unit .* rate\(2 days\)/],
    ["rate in weeks", { scheduleExpression: "rate(2 weeks)" }, /unit must be hour, hours, day or days/],
    ["rate without a space", { scheduleExpression: "rate(4hours)" }, /expected rate\(Value Unit\)/],
    ["rate negative", { scheduleExpression: "rate(-4 hours)" }, /expected rate\(Value Unit\)/],
    ["cron with five fields", { scheduleExpression: "cron(0 8 * * ?)" }, /expected six fields .* got 5/],
    ["cron minutes with a list", { scheduleExpression: "cron(0,30 8 * * ? *)" }, /minutes field must be a single value from 0 to 59/],
    ["cron minutes *", { scheduleExpression: "cron(* 8 * * ? *)" }, /minutes field must be a single value/],
    ["cron minutes 60", { scheduleExpression: "cron(60 8 * * ? *)" }, /minutes field must be a single value/],
    ["cron day-of-month and day-of-week both set", { scheduleExpression: "cron(0 8 1 * MON *)" }, /can't specify both the day-of-month and the day-of-week fields; use \? in one of them/],
    ["cron day-of-month and day-of-week both *", { scheduleExpression: "cron(0 8 * * * *)" }, /can't specify both the day-of-month and the day-of-week/],
    ["cron day-of-month and day-of-week both ?", { scheduleExpression: "cron(0 8 ? * ? *)" }, /can't both be \?/],
    ["cron every 2 hours too frequent", { scheduleExpression: "cron(0 0/2 * * ? *)" }, /too frequent; windows would start 2 hours apart/],
    ["cron every hour too frequent", { scheduleExpression: "cron(0 * * * ? *)" }, /too frequent; windows would start 1 hour apart/],
    ["cron 22:00 then 00:00 the next day", { scheduleExpression: "cron(0 0,22 * * ? *)" }, /too frequent; windows would start 2 hours apart across midnight/],
    ["cron 22:00 on the 1st, 01:00 on the 2nd", { scheduleExpression: "cron(0 1,22 1,2 * ? *)" }, /3 hours apart across midnight/],
    ["cron hour 24", { scheduleExpression: "cron(0 24 * * ? *)" }, /"24" in the hours field is out of range 0-23/],
    ["cron month 13", { scheduleExpression: "cron(0 8 1 13 ? *)" }, /"13" in the month field is out of range 1-12/],
    ["cron month full name", { scheduleExpression: "cron(0 8 1 JANUARY ? *)" }, /"JANUARY" in the month field is not a number or a name \(JAN-DEC\)/],
    ["cron day-of-week 8", { scheduleExpression: "cron(0 8 ? * 8 *)" }, /"8" in the day-of-week field is out of range 1-7/],
    ["cron day-of-week 0", { scheduleExpression: "cron(0 8 ? * 0 *)" }, /"0" in the day-of-week field is out of range 1-7/],
    ["cron descending range", { scheduleExpression: "cron(0 8 ? * FRI-MON *)" }, /"FRI-MON" in the day-of-week field is a descending range/],
    ["cron year 1969", { scheduleExpression: "cron(0 8 1 1 ? 1969)" }, /"1969" in the year field is out of range 1970-2199/],
    ["cron year 2200", { scheduleExpression: "cron(0 8 1 1 ? 2100-2200)" }, /"2200" in the year field is out of range 1970-2199/],
    ["cron descending year range", { scheduleExpression: "cron(0 8 1 1 ? 2027-2025)" }, /"2027-2025" in the year field is a descending range/],
    ["cron L in a list", { scheduleExpression: "cron(0 8 L,1 * ? *)" }, /L, LW and nW must stand alone/],
    ["cron 0W", { scheduleExpression: "cron(0 8 0W * ? *)" }, /"0" in the day-of-month field is out of range 1-31/],
    ["cron #6", { scheduleExpression: "cron(0 8 ? * SAT#6 *)" }, /the number after # must be from 1 to 5/],
    ["cron step 0", { scheduleExpression: "cron(0 0/0 * * ? *)" }, /has an invalid step/],
    ["cron empty list item", { scheduleExpression: "cron(0 8 1,,2 * ? *)" }, /has an empty list item/],
    ["cron Feb 30 never matches", { scheduleExpression: "cron(0 0 30 2 ? *)" }, /never matches a date/],
    ["cron 31st of 30-day months never matches", { scheduleExpression: "cron(0 0 31 APR,JUN,SEP,NOV ? *)" }, /never matches a date/],
    ["cron uppercase keyword", { scheduleExpression: "CRON(0 8 * * ? *)" }, /expected a rate\(\) or cron\(\) expression/],
    ["Duration 25h", { scheduleExpression: "rate(10 days)", duration: "25h" }, /Invalid Duration "25h": the rotation window must be from 1h to 24h/],
    ["Duration 0h", { automaticallyAfterDays: 10, duration: "0h" }, /Invalid Duration "0h": the rotation window must be from 1h to 24h/],
    ["Duration without h", { automaticallyAfterDays: 10, duration: "3" }, /Invalid Duration "3": it must be a number of hours followed by h/],
    ["Duration in minutes", { automaticallyAfterDays: 10, duration: "90m" }, /must be a number of hours followed by h/],
    ["Duration longer than rate(4 hours)", { scheduleExpression: "rate(4 hours)", duration: "5h" }, /must not extend into the next rotation window; rate\(4 hours\) opens a window every 4 hours/],
    ["Duration past midnight", { scheduleExpression: "cron(0 22 * * ? *)", duration: "3h" }, /window starting at 22:00 UTC would extend into the next UTC day/],
    ["Duration past midnight, later of two hours", { scheduleExpression: "cron(0 4/12 * * ? *)", duration: "9h" }, /starting at 16:00 UTC would extend into the next UTC day/],
    ["Duration into the next window", { scheduleExpression: "cron(0 0,6 * * ? *)", duration: "7h" }, /must not extend into the next rotation window; .* opens windows 6 hours apart/],
  ];
  it.each(cases)("%s", (_name, rules, reason) => {
    const err = rejection(() => parseRotationRules(rules));
    expect(err.code).toBe("InvalidParameter");
    expect(err.message).toMatch(reason);
  });
});

describe("nextWindow: cron", () => {
  const cases: [string, string, string, string, string?][] = [
    // [name, expression, after, expected start, expected end (default: from windowMs)]
    ["daily, later today", "cron(0 16 * * ? *)", "2024-06-01T10:00:00Z", "2024-06-01T16:00:00Z", "2024-06-02T00:00:00Z"],
    ["strictly after a matching instant", "cron(0 16 * * ? *)", "2024-06-01T16:00:00Z", "2024-06-02T16:00:00Z"],
    ["one ms before a matching instant", "cron(0 16 * * ? *)", "2024-06-01T15:59:59.999Z", "2024-06-01T16:00:00Z"],
    ["non-zero minute", "cron(30 22 * * ? *)", "2024-06-01T22:31:00Z", "2024-06-02T22:30:00Z", "2024-06-03T00:00:00Z"],
    ["every 4 hours", "cron(0 0/4 * * ? *)", "2024-06-01T09:15:00Z", "2024-06-01T12:00:00Z", "2024-06-01T13:00:00Z"],
    ["hours reset each day", "cron(0 4/12 * * ? *)", "2024-06-01T17:00:00Z", "2024-06-02T04:00:00Z"],
    ["across the year end", "cron(0 0 1 * ? *)", "2024-12-15T00:00:00Z", "2025-01-01T00:00:00Z"],
    ["Dec 31 across the year end", "cron(0 23 31 12 ? *)", "2024-12-31T23:00:00Z", "2025-12-31T23:00:00Z"],
    ["last day of February, leap year", "cron(0 8 L * ? *)", "2024-02-01T00:00:00Z", "2024-02-29T08:00:00Z"],
    ["last day of February, common year", "cron(0 8 L * ? *)", "2023-02-01T00:00:00Z", "2023-02-28T08:00:00Z"],
    ["last day, 30-day month", "cron(0 8 L * ? *)", "2024-04-30T08:00:00Z", "2024-05-31T08:00:00Z"],
    ["last day across the year end", "cron(0 8 L * ? *)", "2024-12-31T08:00:00Z", "2025-01-31T08:00:00Z"],
    ["Feb 29 skips to the next leap year", "cron(0 0 29 2 ? *)", "2024-03-01T00:00:00Z", "2028-02-29T00:00:00Z"],
    ["Feb 29 on the day", "cron(0 12 29 2 ? *)", "2024-02-29T11:00:00Z", "2024-02-29T12:00:00Z"],
    ["31st skips short months", "cron(0 0 31 * ? *)", "2024-04-01T00:00:00Z", "2024-05-31T00:00:00Z"],
    ["second Saturday", "cron(0 16 ? * SAT#2 *)", "2024-06-01T00:00:00Z", "2024-06-08T16:00:00Z"],
    ["second Saturday, next month", "cron(0 16 ? * 7#2 *)", "2024-06-08T16:00:00Z", "2024-07-13T16:00:00Z"],
    ["fifth Friday skips months with four", "cron(0 8 ? * FRI#5 *)", "2024-06-01T00:00:00Z", "2024-08-30T08:00:00Z"],
    ["first Sunday across the year end", "cron(0 0 ? * SUN#1 *)", "2024-12-02T00:00:00Z", "2025-01-05T00:00:00Z"],
    ["last Friday", "cron(0 8 ? * 6L *)", "2024-06-01T00:00:00Z", "2024-06-28T08:00:00Z"],
    ["last Thursday", "cron(0 8 ? * 5L *)", "2024-02-01T00:00:00Z", "2024-02-29T08:00:00Z"],
    ["L in day-of-week is Saturday", "cron(0 0 ? * L *)", "2024-06-03T00:00:00Z", "2024-06-08T00:00:00Z"],
    ["15W, 15th a Saturday: Friday 14th", "cron(0 8 15W * ? *)", "2024-06-01T00:00:00Z", "2024-06-14T08:00:00Z"],
    ["15W, 15th a Sunday: Monday 16th", "cron(0 8 15W * ? *)", "2024-09-01T00:00:00Z", "2024-09-16T08:00:00Z"],
    ["15W, 15th a weekday", "cron(0 8 15W * ? *)", "2024-07-01T00:00:00Z", "2024-07-15T08:00:00Z"],
    ["1W, 1st a Saturday: Monday 3rd", "cron(0 8 1W * ? *)", "2024-05-31T00:00:00Z", "2024-06-03T08:00:00Z"],
    ["1W, 1st a Sunday: Monday 2nd", "cron(0 8 1W * ? *)", "2024-08-31T00:00:00Z", "2024-09-02T08:00:00Z"],
    ["31W, last day a Sunday: Friday 29th", "cron(0 8 31W * ? *)", "2025-08-01T00:00:00Z", "2025-08-29T08:00:00Z"],
    ["31W skips 30-day months", "cron(0 8 31W * ? *)", "2024-06-01T00:00:00Z", "2024-07-31T08:00:00Z"],
    ["LW, last day a Saturday", "cron(0 8 LW * ? *)", "2024-08-01T00:00:00Z", "2024-08-30T08:00:00Z"],
    ["LW, last day a Sunday", "cron(0 8 LW * ? *)", "2024-06-01T00:00:00Z", "2024-06-28T08:00:00Z"],
    ["weekdays skip the weekend", "cron(0 12 ? * MON-FRI *)", "2024-06-07T12:00:00Z", "2024-06-10T12:00:00Z"],
    ["month names", "cron(0 9 ? JAN-MAR,OCT SUN *)", "2024-03-31T09:00:00Z", "2024-10-06T09:00:00Z"],
    ["month step", "cron(0 0 1 1/3 ? *)", "2024-02-01T00:00:00Z", "2024-04-01T00:00:00Z"],
    ["day-of-month step", "cron(0 8 1/10 * ? *)", "2024-06-21T09:00:00Z", "2024-07-01T08:00:00Z"],
    ["year range", "cron(0 0 1 1 ? 2025-2027)", "2024-06-01T00:00:00Z", "2025-01-01T00:00:00Z"],
    ["year range, last year", "cron(0 0 1 1 ? 2025-2027)", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"],
    ["year list skips years", "cron(0 0 1 6 ? 2025,2029)", "2025-06-01T00:00:00Z", "2029-06-01T00:00:00Z"],
    ["Mondays at 00:00 and 22:00", "cron(0 0,22 ? * MON *)", "2024-06-03T00:00:00Z", "2024-06-03T22:00:00Z", "2024-06-03T23:00:00Z"],
  ];
  it.each(cases)("%s", (_name, expression, after, start, end) => {
    const schedule = parseRotationRules({ scheduleExpression: expression });
    const w = nextWindow(schedule, at(after));
    expect(iso(w.start)).toBe(start);
    expect(iso(w.end)).toBe(end ?? iso(w.start + schedule.windowMs));
  });

  it("ignores lastRotated", () => {
    const schedule = parseRotationRules({ scheduleExpression: "cron(0 16 * * ? *)" });
    expect(nextWindow(schedule, at("2024-06-01T10:00:00Z"), at("2024-06-01T09:00:00Z"))).toEqual(nextWindow(schedule, at("2024-06-01T10:00:00Z")));
  });

  it("uses Duration for the window's end", () => {
    const schedule = parseRotationRules({ scheduleExpression: "cron(0 4/12 * * ? *)", duration: "3h" });
    const w = nextWindow(schedule, at("2024-06-01T05:00:00Z"));
    expect([iso(w.start), iso(w.end)]).toEqual(["2024-06-01T16:00:00Z", "2024-06-01T19:00:00Z"]);
  });

  it("works on a schedule that went through JSON", () => {
    const schedule = JSON.parse(JSON.stringify(parseRotationRules({ scheduleExpression: "cron(0 8 L * ? *)" }))) as Schedule;
    expect(iso(nextWindow(schedule, at("2024-02-01T00:00:00Z")).start)).toBe("2024-02-29T08:00:00Z");
  });

  it("throws when nothing matches within 5 years", () => {
    const feb29 = parseRotationRules({ scheduleExpression: "cron(0 0 29 2 ? *)" });
    // 2100 is not a leap year: after Feb 29, 2096 the next one is in 2104.
    const gap = rejection(() => nextWindow(feb29, at("2096-03-01T00:00:00Z")));
    expect(gap.message).toMatch(/has no rotation window within 5 years after 2096-03-01T00:00:00.000Z/);

    const past = parseRotationRules({ scheduleExpression: "cron(0 0 1 1 ? 2025-2027)" });
    expect(rejection(() => nextWindow(past, at("2027-01-01T00:00:00Z"))).message).toMatch(/no rotation window within 5 years/);

    // A schedule built by hand skips parseRotationRules's "never matches" check.
    const feb30: Schedule = { kind: "cron", expression: "cron(0 0 30 2 ? *)", windowMs: DAY };
    expect(rejection(() => nextWindow(feb30, at("2024-01-01T00:00:00Z"))).code).toBe("InvalidParameter");
  });

  it("searches efficiently (month by month, not minute by minute)", () => {
    const feb30: Schedule = { kind: "cron", expression: "cron(0 0 30 2 ? *)", windowMs: DAY };
    const rare = parseRotationRules({ scheduleExpression: "cron(0 0 ? 2 MON#5 *)" }); // Feb 29 on a Monday: 2016, 2044
    const t0 = performance.now();
    for (let i = 0; i < 200; i++) {
      rejection(() => nextWindow(feb30, at("2024-01-01T00:00:00Z") + i * HOUR));
      nextWindow(rare, at("2040-01-01T00:00:00Z") + i * HOUR);
    }
    expect(iso(nextWindow(rare, at("2040-01-01T00:00:00Z")).start)).toBe("2044-02-29T00:00:00Z");
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});

describe("nextWindow: rates and AutomaticallyAfterDays", () => {
  const cases: [string, RotationRules, string, string | undefined, string, string][] = [
    // [name, rules, after, lastRotated, expected start, expected end]
    ["days from lastRotated", { automaticallyAfterDays: 30 }, "2024-01-20T00:00:00Z", "2024-01-15T13:45:00Z", "2024-02-14T00:00:00Z", "2024-02-15T00:00:00Z"],
    ["days across Feb 29", { automaticallyAfterDays: 1 }, "2024-02-28T10:00:00Z", "2024-02-28T09:00:00Z", "2024-02-29T00:00:00Z", "2024-03-01T00:00:00Z"],
    ["days across the year end", { automaticallyAfterDays: 7 }, "2024-12-28T00:00:00Z", "2024-12-27T23:59:59Z", "2025-01-03T00:00:00Z", "2025-01-04T00:00:00Z"],
    ["days with Duration", { automaticallyAfterDays: 7, duration: "2h" }, "2024-06-02T00:00:00Z", "2024-06-01T10:00:00Z", "2024-06-08T00:00:00Z", "2024-06-08T02:00:00Z"],
    ["days, never rotated: from after", { automaticallyAfterDays: 2 }, "2024-02-28T10:00:00Z", undefined, "2024-03-01T00:00:00Z", "2024-03-02T00:00:00Z"],
    ["days, overdue: next midnight", { automaticallyAfterDays: 7 }, "2024-03-10T05:00:00Z", "2024-01-01T00:00:00Z", "2024-03-11T00:00:00Z", "2024-03-12T00:00:00Z"],
    ["days, due today at midnight: tomorrow", { automaticallyAfterDays: 7 }, "2024-01-08T00:00:00Z", "2024-01-01T12:00:00Z", "2024-01-09T00:00:00Z", "2024-01-10T00:00:00Z"],
    ["rate(1 day), never rotated", { scheduleExpression: "rate(1 day)" }, "2024-02-28T10:00:00Z", undefined, "2024-02-29T00:00:00Z", "2024-03-01T00:00:00Z"],
    ["rate(10 days) from lastRotated", { scheduleExpression: "rate(10 days)", duration: "4h" }, "2024-12-25T00:00:00Z", "2024-12-24T18:00:00Z", "2025-01-03T00:00:00Z", "2025-01-03T04:00:00Z"],
    ["rate(4 hours) aligned down to the hour", { scheduleExpression: "rate(4 hours)" }, "2024-06-01T10:40:00Z", "2024-06-01T10:37:12Z", "2024-06-01T14:00:00Z", "2024-06-01T15:00:00Z"],
    ["rate(4 hours) on the hour", { scheduleExpression: "rate(4 hours)" }, "2024-06-01T10:00:00Z", "2024-06-01T10:00:00Z", "2024-06-01T14:00:00Z", "2024-06-01T15:00:00Z"],
    ["rate(4 hours) never rotated", { scheduleExpression: "rate(4 hours)" }, "2024-06-01T10:37:00Z", undefined, "2024-06-01T14:00:00Z", "2024-06-01T15:00:00Z"],
    ["rate(12 hours) across midnight", { scheduleExpression: "rate(12 hours)", duration: "3h" }, "2024-12-31T16:00:00Z", "2024-12-31T15:10:00Z", "2025-01-01T03:00:00Z", "2025-01-01T06:00:00Z"],
    ["rate(4 hours) overdue: next hour", { scheduleExpression: "rate(4 hours)" }, "2024-06-01T10:37:00Z", "2024-05-01T00:00:00Z", "2024-06-01T11:00:00Z", "2024-06-01T12:00:00Z"],
  ];
  it.each(cases)("%s", (_name, rules, after, lastRotated, start, end) => {
    const w = nextWindow(parseRotationRules(rules), at(after), lastRotated === undefined ? undefined : at(lastRotated));
    expect([iso(w.start), iso(w.end)]).toEqual([start, end]);
    expect(w.start).toBeGreaterThan(at(after));
  });

  it("treats AutomaticallyAfterDays and rate(N days) alike", () => {
    const a = parseRotationRules({ automaticallyAfterDays: 15 });
    const b = parseRotationRules({ scheduleExpression: "rate(15 days)" });
    for (const [after, last] of [["2024-02-20T00:00:00Z", "2024-02-14T23:00:00Z"], ["2024-12-31T12:00:00Z", undefined]] as const) {
      const l = last === undefined ? undefined : at(last);
      expect(nextWindow(a, at(after), l)).toEqual(nextWindow(b, at(after), l));
    }
  });

  it("rejects instants that are not finite numbers", () => {
    const s = parseRotationRules({ automaticallyAfterDays: 1 });
    expect(rejection(() => nextWindow(s, Number.NaN)).message).toMatch(/after must be a finite number/);
    expect(rejection(() => nextWindow(s, 0, Number.POSITIVE_INFINITY)).message).toMatch(/lastRotated must be a finite number/);
  });
});

describe("spreadWithin", () => {
  const day = { start: at("2024-06-01T00:00:00Z"), end: at("2024-06-02T00:00:00Z") };
  const keys = Array.from({ length: 1000 }, (_, i) => `arn:aws:secretsmanager:us-east-1:111122223333:secret:app/db-${i}-AbCdEf`);

  it("is deterministic", () => {
    for (const key of keys.slice(0, 20)) expect(spreadWithin(day, key)).toBe(spreadWithin({ ...day }, key));
    expect(new Set(keys.slice(0, 20).map((k) => spreadWithin(day, k))).size).toBe(20);
  });

  const windows: [string, { start: number; end: number }, number][] = [
    // [name, window, margin]
    ["24 h window: margin capped at 30 min", day, 30 * MINUTE],
    ["1 h window: margin 6 min", { start: at("2024-06-01T16:00:00Z"), end: at("2024-06-01T17:00:00Z") }, 6 * MINUTE],
    ["3 h window: margin 18 min", { start: at("2024-06-01T04:00:00Z"), end: at("2024-06-01T07:00:00Z") }, 18 * MINUTE],
    ["odd length window", { start: 1_000_003, end: 1_000_003 + 12_345 }, 1234.5],
  ];
  it.each(windows)("stays within [start, end - margin): %s", (_name, window, margin) => {
    for (const key of keys) {
      const t = spreadWithin(window, key);
      expect(Number.isInteger(t)).toBe(true);
      expect(t).toBeGreaterThanOrEqual(window.start);
      expect(t).toBeLessThan(window.end - margin);
    }
  });

  it("returns the start of an empty window", () => {
    expect(spreadWithin({ start: 5000, end: 5000 }, "k")).toBe(5000);
  });

  it("spreads 1,000 keys over at least 80% of 24 one-hour buckets", () => {
    const counts = new Array<number>(24).fill(0);
    for (const key of keys) counts[Math.floor((spreadWithin(day, key) - day.start) / HOUR)]++;
    expect(counts.filter((c) => c > 0).length).toBeGreaterThanOrEqual(20);
    // No herd: no bucket holds more than three times its fair share.
    expect(Math.max(...counts)).toBeLessThan((3 * 1000) / 24);
  });
});

describe("nextWindow agrees with a brute-force hourly scan", () => {
  const dim = (d: Date): number => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  const isWeekday = (d: Date, day: number): boolean => {
    const w = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), day)).getUTCDay();
    return w >= 1 && w <= 5;
  };
  /** The weekday of the month closest to day n (ties: the earlier one). */
  const nearestWeekdayTo = (d: Date, n: number): number | undefined => {
    let best: number | undefined;
    for (let day = 1; day <= dim(d); day++) {
      if (isWeekday(d, day) && (best === undefined || Math.abs(day - n) < Math.abs(best - n))) best = day;
    }
    return n <= dim(d) ? best : undefined;
  };
  const cases: [string, (d: Date) => boolean][] = [
    ["cron(0 8 L * ? *)", (d) => d.getUTCHours() === 8 && d.getUTCDate() === dim(d)],
    ["cron(0 8 15W * ? *)", (d) => d.getUTCHours() === 8 && d.getUTCDate() === nearestWeekdayTo(d, 15)],
    ["cron(0 8 1W * ? *)", (d) => d.getUTCHours() === 8 && d.getUTCDate() === nearestWeekdayTo(d, 1)],
    ["cron(0 8 31W * ? *)", (d) => d.getUTCHours() === 8 && d.getUTCDate() === nearestWeekdayTo(d, 31)],
    ["cron(0 8 LW * ? *)", (d) => d.getUTCHours() === 8 && d.getUTCDate() === nearestWeekdayTo(d, dim(d))],
    ["cron(0 16 ? * SAT#2 *)", (d) => d.getUTCHours() === 16 && d.getUTCDay() === 6 && d.getUTCDate() >= 8 && d.getUTCDate() <= 14],
    ["cron(0 8 ? * 6L *)", (d) => d.getUTCHours() === 8 && d.getUTCDay() === 5 && new Date(d.getTime() + 7 * DAY).getUTCMonth() !== d.getUTCMonth()],
    ["cron(0 4/12 * * ? *)", (d) => d.getUTCHours() === 4 || d.getUTCHours() === 16],
    ["cron(0 12 ? * MON-FRI *)", (d) => d.getUTCHours() === 12 && isWeekday(d, d.getUTCDate())],
    ["cron(0 0 29 2 ? *)", (d) => d.getUTCHours() === 0 && d.getUTCMonth() === 1 && d.getUTCDate() === 29],
    ["cron(0 9 ? JAN-MAR,OCT SUN *)", (d) => d.getUTCHours() === 9 && [0, 1, 2, 9].includes(d.getUTCMonth()) && d.getUTCDay() === 0],
    ["cron(0 8 1/10 * ? *)", (d) => d.getUTCHours() === 8 && [1, 11, 21, 31].includes(d.getUTCDate())],
    ["cron(0 3 ? * 2#5 2024-2026)", (d) => d.getUTCHours() === 3 && d.getUTCFullYear() >= 2024 && d.getUTCFullYear() <= 2026 && d.getUTCDay() === 1 && d.getUTCDate() > 28],
  ];
  it.each(cases)("%s", (expression, matches) => {
    const schedule = parseRotationRules({ scheduleExpression: expression });
    const from = at("2023-06-01T00:00:00Z");
    const to = at("2027-01-01T00:00:00Z");
    const expected: string[] = [];
    for (let t = from + HOUR; t < to; t += HOUR) if (matches(new Date(t))) expected.push(iso(t));
    const actual: string[] = [];
    for (let t = from; ; ) {
      let start: number;
      try {
        start = nextWindow(schedule, t).start;
      } catch {
        break;
      }
      if (start >= to) break;
      actual.push(iso(start));
      t = start;
    }
    expect(actual.length).toBeGreaterThan(0);
    expect(actual).toEqual(expected);
  });
});
