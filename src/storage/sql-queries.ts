import type { AuditQuery } from "./store.ts";

/**
 * The two queries whose WHERE clause depends on the request, shared by the
 * SQL backends. Built from fixed fragments only; every value is a bound
 * parameter, written `?` (PostgreSQL numbers them: numberedParameters).
 */
export interface SqlQuery {
  text: string;
  args: unknown[];
}

/** How the backends spell "position of a substring" (1-based, 0 when absent). */
export type Dialect = { position: "instr" | "strpos" };

/**
 * The by-path query: a range of the (account_id, name) index, so its cost is
 * the size of the branch, not of the account. Names compare in byte order.
 */
export function parametersByPathQuery(
  dialect: Dialect,
  accountId: string,
  path: string,
  recursive: boolean,
  after: string | undefined,
  limit: number,
): SqlQuery {
  const where = ["account_id = ?"];
  const args: unknown[] = [accountId];
  const position = dialect.position;
  if (path === "/") {
    if (after !== undefined) (where.push("name > ?"), args.push(after));
    // At the root, "a" and "/a" are both one level down.
    if (!recursive) where.push(`${position}(CASE WHEN substr(name, 1, 1) = '/' THEN substr(name, 2) ELSE name END, '/') = 0`);
  } else {
    // Names starting with "/a/b/" sort after it and before "/a/b0" ("0" follows "/").
    const upper = path.slice(0, -1) + String.fromCharCode(path.charCodeAt(path.length - 1) + 1);
    where.push("name > ?", "name < ?");
    args.push(after !== undefined && after > path ? after : path, upper);
    if (!recursive) (where.push(`${position}(substr(name, ?), '/') = 0`), args.push(path.length + 1));
  }
  args.push(limit);
  return { text: `SELECT doc FROM parameters WHERE ${where.join(" AND ")} ORDER BY name LIMIT ?`, args };
}

/** LookupEvents: the account's events matching the query, newest first. */
export function auditEventsQuery(q: AuditQuery): SqlQuery {
  const where = ["kind = 'event'", "account_ids LIKE ?"];
  const args: unknown[] = [`%|${q.accountId}|%`];
  if (q.startTime !== undefined) (where.push("time >= ?"), args.push(q.startTime));
  if (q.endTime !== undefined) (where.push("time <= ?"), args.push(q.endTime));
  if (q.beforeSeq !== undefined) (where.push("seq < ?"), args.push(q.beforeSeq));
  if (q.attribute) {
    const column = {
      EventId: "event_id = ?",
      EventName: "event_name = ?",
      EventSource: "event_source = ?",
      Username: "username = ?",
      AccessKeyId: "access_key_id = ?",
      ReadOnly: "read_only = ?",
    }[q.attribute.key as string];
    if (column) {
      where.push(column);
      args.push(q.attribute.key === "ReadOnly" ? (q.attribute.value === "true" ? 1 : 0) : q.attribute.value);
    } else {
      // ResourceName / ResourceType: matched inside the JSON list of resources.
      where.push("resources LIKE ?");
      args.push(`%"${q.attribute.key === "ResourceType" ? "type" : "name"}":${JSON.stringify(q.attribute.value)}%`);
    }
  }
  args.push(q.limit);
  return { text: `SELECT * FROM audit_rows WHERE ${where.join(" AND ")} ORDER BY seq DESC LIMIT ?`, args };
}

/** `?` placeholders as PostgreSQL's $1, $2, ... (the fragments above hold no literal question mark). */
export function numberedParameters(text: string): string {
  let n = 0;
  return text.replace(/\?/g, () => `$${++n}`);
}
