import type { Rotator } from "../rotation-types.ts";
import { createMysqlRotators } from "./mysql.ts";
import { createPostgresRotators } from "./postgres.ts";

/** The built-in database rotators, by name (coffer-<name> in every account). */
export function databaseRotators(): Record<string, Rotator> {
  const postgres = createPostgresRotators();
  const mysql = createMysqlRotators();
  return {
    "postgres-single-user": postgres.singleUser(),
    "postgres-alternating-users": postgres.alternatingUsers(),
    "mysql-single-user": mysql.singleUser(),
    "mysql-alternating-users": mysql.alternatingUsers(),
  };
}
