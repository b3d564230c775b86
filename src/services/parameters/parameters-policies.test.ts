import { describe, expect, it } from "vitest";
import { CofferError } from "../../shared/errors.ts";
import { nextDue, parsePolicies, policyAttributes, schedulePolicies } from "./parameters-policies.ts";

const NOW = Date.parse("2030-01-01T00:00:00.000Z");
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const expiration = (ts: string) => ({ Type: "Expiration", Version: "1.0", Attributes: { Timestamp: ts } });
const notifyBefore = (before: string, unit = "Days") => ({ Type: "ExpirationNotification", Version: "1.0", Attributes: { Before: before, Unit: unit } });
const noChange = (after: string, unit = "Hours") => ({ Type: "NoChangeNotification", Version: "1.0", Attributes: { After: after, Unit: unit } });

function codeOf(policies: unknown): string {
  try {
    parsePolicies(typeof policies === "string" ? policies : JSON.stringify(policies), NOW);
    return "ok";
  } catch (err) {
    if (err instanceof CofferError) return err.code;
    throw err;
  }
}

describe("parameter policies", () => {
  it("accepts the three AWS policy types", () => {
    const parsed = parsePolicies(JSON.stringify([expiration("2030-02-01T00:00:00.000Z"), notifyBefore("5"), noChange("12")]), NOW);
    expect(parsed.map((p) => [p.type, p.status])).toEqual([
      ["Expiration", "Pending"],
      ["ExpirationNotification", "Pending"],
      ["NoChangeNotification", "Pending"],
    ]);
    expect(policyAttributes(parsed[1])).toEqual({ Before: "5", Unit: "Days" });
    expect(parsePolicies("[]", NOW)).toEqual([]);
  });

  it("refuses bad policies with AWS's errors", () => {
    expect(codeOf("not json")).toBe("Validation");
    expect(codeOf({ Type: "Expiration" })).toBe("Validation"); // not an array
    expect(codeOf([{ Type: "Rotation", Version: "1.0", Attributes: {} }])).toBe("InvalidPolicyType");
    expect(codeOf([{ ...expiration("2030-02-01T00:00:00Z"), Version: "2.0" }])).toBe("InvalidPolicyAttribute");
    expect(codeOf([expiration("next tuesday")])).toBe("InvalidPolicyAttribute");
    expect(codeOf([expiration("2029-12-31T23:59:59Z")])).toBe("InvalidPolicyAttribute"); // in the past
    expect(codeOf([noChange("0")])).toBe("InvalidPolicyAttribute");
    expect(codeOf([noChange("3", "Weeks")])).toBe("InvalidPolicyAttribute");
    expect(codeOf([expiration("2030-02-01T00:00:00Z"), expiration("2030-03-01T00:00:00Z")])).toBe("IncompatiblePolicy");
    expect(codeOf([notifyBefore("1")])).toBe("IncompatiblePolicy"); // a notification needs an expiration
    expect(codeOf(Array.from({ length: 11 }, () => noChange("1")))).toBe("PoliciesLimitExceeded");
  });

  it("schedules each policy and restarts NoChangeNotification with every change", () => {
    const parsed = parsePolicies(JSON.stringify([expiration("2030-02-01T00:00:00.000Z"), notifyBefore("5"), noChange("12")]), NOW);
    const scheduled = schedulePolicies(parsed, NOW);
    const expiry = Date.parse("2030-02-01T00:00:00.000Z");
    expect(scheduled.map((p) => p.dueAt)).toEqual([expiry, expiry - 5 * DAY, NOW + 12 * HOUR]);
    expect(nextDue(scheduled)).toBe(NOW + 12 * HOUR);

    // A notification that has been sent stays finished; a later change re-arms only NoChangeNotification.
    const sent = scheduled.map((p) => (p.type === "NoChangeNotification" ? p : { ...p }));
    sent[2] = { type: "NoChangeNotification", text: sent[2].text, status: "Finished" };
    sent[1] = { type: "ExpirationNotification", text: sent[1].text, status: "Finished" };
    const later = schedulePolicies(sent, NOW + DAY);
    expect(later.map((p) => [p.status, p.dueAt])).toEqual([
      ["Pending", expiry],
      ["Finished", undefined],
      ["Pending", NOW + DAY + 12 * HOUR],
    ]);
    expect(nextDue([])).toBeUndefined();
  });
});
