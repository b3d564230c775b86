/**
 * Database secrets as AWS RDS stores them: the JSON shape and its validation,
 * the user names of an alternating pair, and the scrubbing that keeps
 * passwords out of messages. The rotation steps that use them are in
 * db-rotator.ts.
 *
 * Secret JSON: { engine: "postgres" | "mysql" | "mariadb", host, port?
 * (number or numeric string; 5432 / 3306), username, password, dbname?
 * (postgres: "postgres"), masterarn? (alternating users: the admin secret),
 * ssl? (true | false | "true" | "false"; anything else: try TLS, fall back to
 * plain text if TLS can't be set up, as the templates do) }. Other keys are
 * kept untouched in every new version.
 *
 * A password never appears in an error message: messages built here name
 * fields, not values.
 */
import { CofferError } from "../../../shared/errors.ts";

export type DbEngine = "postgres" | "mysql" | "mariadb";

/** Names RDS and the AWS templates also use for the same engines. */
const ENGINE_NAMES: Record<string, DbEngine> = {
  postgres: "postgres",
  "aurora-postgresql": "postgres",
  mysql: "mysql",
  "aurora-mysql": "mysql",
  mariadb: "mariadb",
};

const DEFAULT_PORT: Record<DbEngine, number> = { postgres: 5432, mysql: 3306, mariadb: 3306 };

/**
 * Characters a generated password never contains: they break connection
 * strings and URLs (`postgres://u:p@h/db`, JDBC, DSNs) when applications
 * build those from the secret without escaping.
 */
export const DB_PASSWORD_EXCLUDE_CHARACTERS = `/@"'\\` + "`" + ` :;,%?#&=+`;
export const DB_PASSWORD_LENGTH = 32;

export const CLONE_SUFFIX = "_clone";

export interface DbSecret {
  engine: DbEngine;
  host: string;
  port: number;
  username: string;
  password: string;
  /** The database to log in to; postgres defaults to "postgres", MySQL to none. */
  dbname: string | undefined;
  masterarn: string | undefined;
  /** true: TLS required and the certificate verified; false: plain text; undefined: TLS, else plain text. */
  ssl: boolean | undefined;
  /** The JSON object as stored, so a new version keeps keys Coffer does not know. */
  fields: Record<string, unknown>;
}

/**
 * Parses one version of a database secret. `what` names it in messages
 * ("the AWSCURRENT version"). Rejects with CofferError("InvalidParameter")
 * naming the field at fault; never echoes the text (a JSON.parse message
 * quotes the input, so it is not passed on).
 */
export function parseDbSecret(text: string, what: string, engines: readonly DbEngine[]): DbSecret {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalid(`${what} is not valid JSON.`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw invalid(`${what} is not a JSON object.`);
  }
  const fields = parsed as Record<string, unknown>;

  const engineName = fields.engine;
  if (engineName === undefined || engineName === null) {
    throw invalid(`${what} has no "engine" (expected one of ${engines.join(", ")}).`);
  }
  const engine = typeof engineName === "string" ? ENGINE_NAMES[engineName] : undefined;
  if (engine === undefined || !engines.includes(engine)) {
    const shown = typeof engineName === "string" && /^[\w.-]{1,40}$/.test(engineName) ? `"${engineName}"` : "not recognised";
    throw invalid(`${what} has "engine" ${shown}; this rotator handles ${engines.join(", ")}.`);
  }

  const host = requiredString(fields, "host", what);
  const username = requiredString(fields, "username", what);
  if (!("password" in fields) || fields.password === null || fields.password === undefined) {
    throw invalid(`${what} has no "password".`);
  }
  if (typeof fields.password !== "string") throw invalid(`${what} has a "password" that is not a string.`);
  const password = fields.password;

  let port = DEFAULT_PORT[engine];
  if (fields.port !== undefined && fields.port !== null) {
    const raw = fields.port;
    const n = typeof raw === "number" ? raw : typeof raw === "string" && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw invalid(`${what} has a "port" that is not a port number (1-65535).`);
    port = n;
  }

  let dbname: string | undefined;
  if (fields.dbname !== undefined && fields.dbname !== null) {
    if (typeof fields.dbname !== "string" || fields.dbname === "") throw invalid(`${what} has a "dbname" that is not a non-empty string.`);
    dbname = fields.dbname;
  } else if (engine === "postgres") {
    dbname = "postgres";
  }

  let masterarn: string | undefined;
  if (fields.masterarn !== undefined && fields.masterarn !== null) {
    if (typeof fields.masterarn !== "string" || fields.masterarn === "") throw invalid(`${what} has a "masterarn" that is not a non-empty string.`);
    masterarn = fields.masterarn;
  }

  return { engine, host, port, username, password, dbname, masterarn, ssl: parseSsl(fields.ssl), fields };
}

function requiredString(fields: Record<string, unknown>, key: string, what: string): string {
  const value = fields[key];
  if (value === undefined || value === null) throw invalid(`${what} has no "${key}".`);
  if (typeof value !== "string" || value.trim() === "") throw invalid(`${what} has a "${key}" that is not a non-empty string.`);
  return value;
}

/** The templates' get_ssl_config: booleans and "true"/"false" (any case) are obeyed; anything else means "TLS if possible". */
function parseSsl(value: unknown): boolean | undefined {
  if (typeof value === "boolean") return value;
  if (typeof value === "string") {
    const v = value.toLowerCase();
    if (v === "true") return true;
    if (v === "false") return false;
  }
  return undefined;
}

function invalid(message: string): CofferError {
  return new CofferError("InvalidParameter", message);
}

/** `app_clone` -> `app`; `app` -> `app`. */
export function baseUsername(username: string): string {
  return username.endsWith(CLONE_SUFFIX) && username.length > CLONE_SUFFIX.length ? username.slice(0, -CLONE_SUFFIX.length) : username;
}

/** The other user of an alternating pair: `app` <-> `app_clone`. `maxLength` counts characters, or UTF-8 bytes when `bytes`. */
export function alternateUsername(username: string, maxLength: number, bytes = false): string {
  const base = baseUsername(username);
  if (base !== username) return base;
  const clone = username + CLONE_SUFFIX;
  const length = bytes ? Buffer.byteLength(clone) : [...clone].length;
  if (length > maxLength) {
    throw invalid(`The user name "${username}" is too long for alternating users: "${clone}" would exceed ${maxLength}${bytes ? " bytes" : " characters"}.`);
  }
  return clone;
}

// ---------------------------------------------------------------------------
// Scrubbing

/** The shortest piece of a password that is still masked when a message quotes only part of it. */
const MIN_FRAGMENT = 8;

/**
 * Replaces with "***" every occurrence in `message` of each secret, of its
 * forms after SQL or JSON escaping, and of any run of eight or more of its
 * characters (messages may quote truncated SQL, e.g. MySQL's "near '...'").
 * Secrets shorter than eight characters are masked whole only.
 */
export function scrubSecrets(message: string, secrets: Iterable<string>): string {
  const list = [...secrets].filter((s) => s.length > 0);
  const forms = new Set<string>();
  for (const secret of list) {
    forms.add(secret);
    forms.add(secret.replace(/'/g, "''"));
    forms.add(secret.replace(/\\/g, "\\\\").replace(/'/g, "''"));
    forms.add(secret.replace(/\\/g, "\\\\").replace(/'/g, "\\'"));
    forms.add(JSON.stringify(secret).slice(1, -1));
  }
  let out = message;
  // Longest first, so a whole secret goes before a shorter form inside it.
  for (const form of [...forms].sort((a, b) => b.length - a.length)) out = out.split(form).join("***");

  // Mark every character covered by an 8-character window of a secret; each
  // longer fragment is covered entirely by its own windows.
  const covered = new Array<boolean>(out.length).fill(false);
  let any = false;
  for (const secret of list) {
    for (let i = 0; i + MIN_FRAGMENT <= secret.length; i++) {
      const window = secret.slice(i, i + MIN_FRAGMENT);
      for (let at = out.indexOf(window); at !== -1; at = out.indexOf(window, at + 1)) {
        covered.fill(true, at, at + MIN_FRAGMENT);
        any = true;
      }
    }
  }
  if (!any) return out;
  let masked = "";
  for (let i = 0; i < out.length; i++) {
    if (!covered[i]) masked += out[i];
    else if (i === 0 || !covered[i - 1]) masked += "***";
  }
  return masked;
}
