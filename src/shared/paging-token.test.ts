import { expect, it } from "vitest";
import { decodePageToken, encodePageToken, offsetPage } from "./paging-token.ts";

it("round-trips positions of the asked kind only", () => {
  expect(decodePageToken(encodePageToken(7), "number")).toBe(7);
  expect(decodePageToken(encodePageToken("b/c"), "string")).toBe("b/c");
  expect(decodePageToken(encodePageToken("7"), "number")).toBeUndefined();
  expect(decodePageToken(encodePageToken(-1), "number")).toBeUndefined();
  expect(decodePageToken(encodePageToken(1.5), "number")).toBeUndefined();
  expect(decodePageToken("not a token", "number")).toBeUndefined();
  expect(decodePageToken(Buffer.from("null").toString("base64url"), "string")).toBeUndefined();
});

it("pages a list by offset: every item once, a next token only while more remain", () => {
  const items = ["a", "b", "c", "d", "e"];
  const seen: string[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const page = offsetPage(items, 2, token)!;
    seen.push(...page.items);
    token = page.next;
    pages += 1;
  } while (token !== undefined);
  expect([seen, pages]).toEqual([items, 3]);
  expect(offsetPage(items, 5, undefined)).toEqual({ items });
  expect(offsetPage([], 5, undefined)).toEqual({ items: [] });
  expect(offsetPage(items, 2, encodePageToken("a"))).toBeUndefined();
  expect(offsetPage(items, 2, "garbage")).toBeUndefined();
});
