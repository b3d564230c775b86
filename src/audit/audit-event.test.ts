import { describe, expect, it } from "vitest";
import { bounded, buildEvent, FIELD_LIMITS } from "./audit-event.ts";

describe("bounded request-controlled text", () => {
  it("keeps short text and cuts long text with its original UTF-8 size", () => {
    expect(bounded("abc", 3)).toBe("abc");
    expect(bounded("abcd", 3)).toBe("abc...(truncated, 4 bytes)");
    expect(bounded("é".repeat(10), 2)).toBe("éé...(truncated, 20 bytes)");
  });

  it("bounds every field of an unauthenticated event that the client controls", () => {
    const huge = "z".repeat(50_000);
    const event = buildEvent({
      requestId: "r",
      time: 0,
      service: huge,
      operation: huge,
      region: "us-east-1",
      defaultAccountId: "000000000000",
      sourceIp: "127.0.0.1",
      userAgent: huge,
      claimedAccessKeyId: huge,
      error: { code: huge, message: huge },
    });
    expect(event.userAgent.length).toBeLessThanOrEqual(FIELD_LIMITS.userAgent + 40);
    expect(JSON.stringify(event).length).toBeLessThan(4_000);
    expect(event.userAgent).toContain("(truncated, 50000 bytes)");
  });
});
