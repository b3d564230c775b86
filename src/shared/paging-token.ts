/**
 * Paging tokens (NextToken, Marker): the one codec every list operation uses.
 * Opaque to callers; a token that does not decode to a position of the
 * expected kind was not issued here, and the caller answers with its API's
 * error (InvalidNextToken, or IAM's "Invalid Marker").
 */
export type PagePosition = string | number;

export function encodePageToken(position: PagePosition): string {
  return Buffer.from(JSON.stringify({ p: position })).toString("base64url");
}

/** The position in `token`, or undefined when it is not a token of this kind (numbers: non-negative safe integers). */
export function decodePageToken(token: string, kind: "number"): number | undefined;
export function decodePageToken(token: string, kind: "string"): string | undefined;
export function decodePageToken(token: string, kind: "string" | "number"): PagePosition | undefined {
  let p: unknown;
  try {
    p = (JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { p?: unknown } | null)?.p;
  } catch {
    return undefined;
  }
  if (kind === "number") return Number.isSafeInteger(p) && (p as number) >= 0 ? (p as number) : undefined;
  return typeof p === "string" ? p : undefined;
}

/**
 * Offset paging over a list held in memory: the page of at most `limit` items
 * from `token` (undefined: the first page), with the token of the next page
 * when there is one; undefined when `token` was not issued here.
 */
export function offsetPage<T>(items: readonly T[], limit: number, token: string | undefined): { items: T[]; next?: string } | undefined {
  const start = token === undefined ? 0 : decodePageToken(token, "number");
  if (start === undefined) return undefined;
  const end = start + limit;
  return end < items.length ? { items: items.slice(start, end), next: encodePageToken(end) } : { items: items.slice(start, end) };
}
