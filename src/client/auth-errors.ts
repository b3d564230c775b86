/**
 * Common authentication failures: PostgreSQL (28P01 invalid password, 28000),
 * MySQL/MariaDB (ER_ACCESS_DENIED_ERROR, 1045), HTTP 401/403 (fetch Response
 * status, axios-style `response.status`, `status`/`statusCode`), and messages
 * saying "authentication failed" or "access denied for user".
 */
export function isAuthError(err: unknown): boolean {
  if (typeof err !== "object" || err === null) return false;
  const e = err as { code?: unknown; errno?: unknown; status?: unknown; statusCode?: unknown; response?: { status?: unknown }; message?: unknown };
  if (e.code === "28P01" || e.code === "28000" || e.code === "ER_ACCESS_DENIED_ERROR" || e.errno === 1045) return true;
  for (const status of [e.status, e.statusCode, e.response?.status]) if (status === 401 || status === 403) return true;
  return typeof e.message === "string" && /authentication failed|access denied for user/i.test(e.message);
}
