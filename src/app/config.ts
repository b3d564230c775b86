import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { parseAlertRules, type AlertRule } from "../audit/alerts.ts";
import { webhookNetworks } from "../services/webhook/webhook-networks.ts";
import { unknownNameMessage } from "./config-names.ts";
import { parseCommandLine } from "../crypto/master-key.ts";

/**
 * Configuration, resolved as flags > environment (COFFER_*) > config file >
 * defaults. docs/configuration.md and the README table list every setting.
 */
export interface Config {
  host: string;
  port: number;
  dataDir: string;
  /**
   * postgres://user:pass@host:5432/db (TLS options as `pg` takes them: ?sslmode=verify-full&sslrootcert=...)
   * selects PostgreSQL, which several nodes share; unset keeps SQLite in the data directory.
   */
  databaseUrl?: string;
  region: string;
  accountId: string;
  /** "off": plain HTTP; "auto": a self-signed certificate in the data directory; "files": tlsCert/tlsKey. */
  tls: "off" | "auto" | "files";
  tlsCert?: string;
  tlsKey?: string;
  /** Master key: a key file (default <dataDir>/master.key), base64 in COFFER_MASTER_KEY, or a passphrase. */
  masterKeyFile: string;
  masterKey?: string;
  masterPassphrase?: string;
  /** A command (argv, no shell) that prints the master key as base64 (COFFER_MASTER_KEY_COMMAND, "masterKeyCommand"). */
  masterKeyCommand?: string[];
  logLevel: string;
  bodyLimit: number;
  /** A client must send its headers within this (a connection that sends nothing is closed too). */
  headersTimeoutSeconds: number;
  /** ... and its whole request, body included, within this. */
  requestTimeoutSeconds: number;
  /** A kept-alive connection with no request in flight is closed after this. */
  idleTimeoutSeconds: number;
  /** Unauthenticated (failed) requests one source address may make at once before it is throttled. */
  authFailureBurst: number;
  /** ... and how many more per second it may make after that. */
  authFailureRatePerSecond: number;
  purgeIntervalSeconds: number;
  /** How often the rotation scheduler looks for due rotations. */
  rotationPollSeconds: number;
  /** How often due parameter policies (Expiration, notifications) are acted on. */
  parameterPolicyPollSeconds: number;
  /** How often the replication outbox is looked at besides when a change is queued (docs/replication.md). */
  replicationPollSeconds: number;
  /** The longest wait between two attempts at a linked region that does not answer. */
  replicationRetryMaxSeconds: number;
  /** This node's name, stable across restarts: it claims the rotations it runs (default: the host name). */
  nodeId: string;
  /** "off" only for benchmarks: nothing is recorded. */
  audit: "on" | "off";
  /** Optional JSON-lines copy of every audit event. */
  auditFile?: string;
  /** Events older than this are exported to <dataDir>/audit-export/ and removed; 0 keeps them forever. */
  auditRetentionDays: number;
  /** Alert rules (docs/audit.md) from the config file's "alerts" array; `coffer alerts add` keeps more in the data directory. */
  alerts: AlertRule[];
  /**
   * Internal networks (CIDRs) that rotation and alert webhooks may reach; every
   * loopback, private, link-local and metadata address is refused otherwise.
   */
  webhookAllowedNetworks: string[];
  /** How long one rotation step (a webhook call, a command run) may take before it fails. */
  rotationStepTimeoutSeconds: number;
  /** Internal networks (CIDRs) OIDC issuers' discovery and key URLs may be on (docs/workload-identity.md); refused otherwise, as for webhooks. */
  oidcAllowedNetworks: string[];
  /** A PEM file of CA certificates trusted for OIDC issuers beside the system's (e.g. a Kubernetes cluster CA). */
  oidcCaFile?: string;
  /** "on": http:// issuers are accepted (tests only: their keys could be replaced on the way). */
  oidcAllowHttp: "on" | "off";
  /** "on": GET /metrics serves Prometheus text (aggregates only, no credentials asked); "off": not served. */
  metrics: "on" | "off";
}

/** Every setting: its flag-style name, environment variable, and how to read a string. */
const settings = {
  host: { env: "COFFER_HOST", parse: String },
  port: { env: "COFFER_PORT", parse: Number },
  dataDir: { env: "COFFER_DATA_DIR", parse: String },
  databaseUrl: { env: "COFFER_DATABASE_URL", parse: String },
  region: { env: "COFFER_REGION", parse: String },
  accountId: { env: "COFFER_ACCOUNT_ID", parse: String },
  tls: { env: "COFFER_TLS", parse: String },
  tlsCert: { env: "COFFER_TLS_CERT", parse: String },
  tlsKey: { env: "COFFER_TLS_KEY", parse: String },
  masterKeyFile: { env: "COFFER_MASTER_KEY_FILE", parse: String },
  masterKey: { env: "COFFER_MASTER_KEY", parse: String },
  masterPassphrase: { env: "COFFER_MASTER_PASSPHRASE", parse: String },
  masterKeyCommand: { env: "COFFER_MASTER_KEY_COMMAND", parse: String },
  logLevel: { env: "COFFER_LOG_LEVEL", parse: String },
  bodyLimit: { env: "COFFER_BODY_LIMIT", parse: Number },
  headersTimeoutSeconds: { env: "COFFER_HEADERS_TIMEOUT_SECONDS", parse: Number },
  requestTimeoutSeconds: { env: "COFFER_REQUEST_TIMEOUT_SECONDS", parse: Number },
  idleTimeoutSeconds: { env: "COFFER_IDLE_TIMEOUT_SECONDS", parse: Number },
  authFailureBurst: { env: "COFFER_AUTH_FAILURE_BURST", parse: Number },
  authFailureRatePerSecond: { env: "COFFER_AUTH_FAILURE_RATE", parse: Number },
  purgeIntervalSeconds: { env: "COFFER_PURGE_INTERVAL_SECONDS", parse: Number },
  rotationPollSeconds: { env: "COFFER_ROTATION_POLL_SECONDS", parse: Number },
  parameterPolicyPollSeconds: { env: "COFFER_PARAMETER_POLICY_POLL_SECONDS", parse: Number },
  replicationPollSeconds: { env: "COFFER_REPLICATION_POLL_SECONDS", parse: Number },
  replicationRetryMaxSeconds: { env: "COFFER_REPLICATION_RETRY_MAX_SECONDS", parse: Number },
  nodeId: { env: "COFFER_NODE_ID", parse: String },
  audit: { env: "COFFER_AUDIT", parse: String },
  auditFile: { env: "COFFER_AUDIT_FILE", parse: String },
  auditRetentionDays: { env: "COFFER_AUDIT_RETENTION_DAYS", parse: Number },
  webhookAllowedNetworks: { env: "COFFER_WEBHOOK_ALLOWED_NETWORKS", parse: String },
  rotationStepTimeoutSeconds: { env: "COFFER_ROTATION_STEP_TIMEOUT_SECONDS", parse: Number },
  oidcAllowedNetworks: { env: "COFFER_OIDC_ALLOWED_NETWORKS", parse: String },
  oidcCaFile: { env: "COFFER_OIDC_CA_FILE", parse: String },
  oidcAllowHttp: { env: "COFFER_OIDC_ALLOW_HTTP", parse: String },
  metrics: { env: "COFFER_METRICS", parse: String },
} as const;

export type ConfigInput = Partial<Record<keyof typeof settings, string | number>> & { config?: string };

const defaults = {
  host: "127.0.0.1",
  port: 4599,
  dataDir: ".coffer",
  region: "us-east-1",
  accountId: "000000000000",
  logLevel: "info",
  bodyLimit: 1024 * 1024,
  headersTimeoutSeconds: 10,
  requestTimeoutSeconds: 30,
  idleTimeoutSeconds: 5,
  authFailureBurst: 200,
  authFailureRatePerSecond: 20,
  purgeIntervalSeconds: 3600,
  rotationPollSeconds: 30,
  parameterPolicyPollSeconds: 60,
  replicationPollSeconds: 1,
  replicationRetryMaxSeconds: 10,
  nodeId: hostname(),
  audit: "on",
  auditRetentionDays: 0,
  webhookAllowedNetworks: "",
  rotationStepTimeoutSeconds: 60,
  oidcAllowedNetworks: "",
  oidcAllowHttp: "off",
  metrics: "on",
};

export class ConfigError extends Error {}

/** Config file keys that no flag or variable sets. */
const FILE_ONLY_KEYS = ["alerts"];

/** COFFER_* variables read outside the server's settings: by the CLI, or by the test tooling. */
const OTHER_VARIABLES = [
  "COFFER_CONFIG",
  "COFFER_ENDPOINT",
  "COFFER_DEBUG",
  "COFFER_CHECK_TRANSACTIONS",
  // Read by the test suite, not the server.
  "COFFER_REQUIRE_DATABASES",
  "COFFER_TEST_BACKEND",
  "COFFER_TEST_RUN",
  "COFFER_TEST_DATABASE_URL",
];

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/** Warnings for COFFER_* variables no setting reads (a typo would otherwise leave the default in force silently). */
export function unknownEnvironmentVariables(env: NodeJS.ProcessEnv = process.env): string[] {
  const known = [...Object.values(settings).map((s) => s.env), ...OTHER_VARIABLES];
  return Object.keys(env)
    .filter((name) => name.startsWith("COFFER_") && !name.startsWith("COFFER_TEST_") && !known.includes(name))
    .sort()
    .map((name) => `${unknownNameMessage("environment variable", name, known)} It is ignored.`);
}

export function loadConfig(flags: ConfigInput, env: NodeJS.ProcessEnv = process.env): Config {
  const configPath = flags.config ?? env.COFFER_CONFIG;
  const file: Record<string, unknown> = configPath ? readConfigFile(configPath) : {};
  const fileKeys = [...Object.keys(settings), ...FILE_ONLY_KEYS];
  for (const key of Object.keys(file)) {
    if (!fileKeys.includes(key)) throw new ConfigError(`${configPath}: ${unknownNameMessage("setting", key, fileKeys)}`);
  }
  const pick = (name: keyof typeof settings): unknown => {
    if (flags[name] !== undefined) return settings[name].parse(String(flags[name]));
    const fromEnv = env[settings[name].env];
    if (fromEnv !== undefined && fromEnv !== "") return settings[name].parse(fromEnv);
    if (file[name] !== undefined) return file[name];
    return (defaults as Record<string, unknown>)[name];
  };
  const dataDir = resolve(String(pick("dataDir")));
  const tlsCert = pick("tlsCert") as string | undefined;
  const tlsKey = pick("tlsKey") as string | undefined;
  let tls = (pick("tls") as string | undefined) ?? (tlsCert || tlsKey ? "files" : "off");
  if (tls === "files" && !(tlsCert && tlsKey)) throw new ConfigError("TLS needs both --tls-cert and --tls-key.");
  if (!["off", "auto", "files"].includes(tls)) throw new ConfigError(`--tls must be "auto" or "off", not "${tls}".`);
  if (tlsCert && tlsKey) tls = "files";
  const config: Config = {
    host: String(pick("host")),
    port: pick("port") as number,
    dataDir,
    databaseUrl: pick("databaseUrl") as string | undefined,
    region: String(pick("region")),
    accountId: String(pick("accountId")),
    tls: tls as Config["tls"],
    tlsCert,
    tlsKey,
    masterKeyFile: String(pick("masterKeyFile") ?? join(dataDir, "master.key")),
    masterKey: pick("masterKey") as string | undefined,
    masterPassphrase: pick("masterPassphrase") as string | undefined,
    masterKeyCommand: commandLine(pick("masterKeyCommand"), "masterKeyCommand (COFFER_MASTER_KEY_COMMAND)"),
    logLevel: String(pick("logLevel")),
    bodyLimit: pick("bodyLimit") as number,
    headersTimeoutSeconds: pick("headersTimeoutSeconds") as number,
    requestTimeoutSeconds: pick("requestTimeoutSeconds") as number,
    idleTimeoutSeconds: pick("idleTimeoutSeconds") as number,
    authFailureBurst: pick("authFailureBurst") as number,
    authFailureRatePerSecond: pick("authFailureRatePerSecond") as number,
    purgeIntervalSeconds: pick("purgeIntervalSeconds") as number,
    rotationPollSeconds: pick("rotationPollSeconds") as number,
    parameterPolicyPollSeconds: pick("parameterPolicyPollSeconds") as number,
    replicationPollSeconds: pick("replicationPollSeconds") as number,
    replicationRetryMaxSeconds: pick("replicationRetryMaxSeconds") as number,
    nodeId: String(pick("nodeId")),
    audit: pick("audit") as Config["audit"],
    auditFile: pick("auditFile") as string | undefined,
    auditRetentionDays: pick("auditRetentionDays") as number,
    alerts: parseRules(file.alerts),
    webhookAllowedNetworks: cidrList(pick("webhookAllowedNetworks")),
    rotationStepTimeoutSeconds: pick("rotationStepTimeoutSeconds") as number,
    oidcAllowedNetworks: cidrList(pick("oidcAllowedNetworks"), "oidcAllowedNetworks"),
    oidcCaFile: pick("oidcCaFile") as string | undefined,
    oidcAllowHttp: pick("oidcAllowHttp") as Config["oidcAllowHttp"],
    metrics: pick("metrics") as Config["metrics"],
  };
  validate(config);
  return config;
}

/** A command line from a flag, the environment (a string or JSON array text) or the config file (a JSON array). */
export function commandLine(value: unknown, what: string): string[] | undefined {
  if (value === undefined || value === "") return undefined;
  try {
    return parseCommandLine(value, what);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

/** A comma-separated string (flag, environment) or a JSON array (config file) of CIDRs. */
function cidrList(value: unknown, name = "webhookAllowedNetworks"): string[] {
  const list = Array.isArray(value) ? value : typeof value === "string" ? value.split(",") : undefined;
  if (!list || list.some((c) => typeof c !== "string")) throw new ConfigError(`${name} must be a list of CIDRs.`);
  const cidrs = (list as string[]).map((c) => c.trim()).filter((c) => c !== "");
  try {
    webhookNetworks(cidrs);
  } catch (err) {
    throw new ConfigError(`${name}: ${(err as Error).message}`);
  }
  return cidrs;
}

function parseRules(value: unknown): AlertRule[] {
  try {
    return parseAlertRules(value);
  } catch (err) {
    throw new ConfigError(`alerts: ${(err as Error).message}`);
  }
}

function readConfigFile(path: string): Record<string, unknown> {
  try {
    const parsed = JSON.parse(readFileSync(path, "utf8")) as unknown;
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(`Cannot read config file ${path}: ${(err as Error).message}`);
  }
  throw new ConfigError(`Config file ${path} must hold a JSON object.`);
}

function validate(c: Config): void {
  if (!LOG_LEVELS.includes(c.logLevel)) {
    throw new ConfigError(`Invalid log level "${c.logLevel.slice(0, 50)}": use one of ${LOG_LEVELS.join(", ")}.`);
  }
  if (!Number.isInteger(c.port) || c.port < 0 || c.port > 65535) throw new ConfigError(`Invalid port: ${c.port}`);
  if (!/^\d{12}$/.test(c.accountId)) throw new ConfigError(`The account id must be 12 digits, not "${c.accountId}".`);
  if (!/^([a-z]+-)+\d+$/.test(c.region)) throw new ConfigError(`Invalid region: "${c.region}".`);
  if (!Number.isInteger(c.bodyLimit) || c.bodyLimit < 1024) throw new ConfigError("The body limit must be at least 1024 bytes.");
  for (const name of ["headersTimeoutSeconds", "requestTimeoutSeconds", "idleTimeoutSeconds"] as const) {
    if (!(c[name] > 0 && c[name] <= 3600)) throw new ConfigError(`${name} must be a number of seconds above 0 and at most 3600.`);
  }
  if (c.headersTimeoutSeconds > c.requestTimeoutSeconds) {
    throw new ConfigError("headersTimeoutSeconds cannot be longer than requestTimeoutSeconds (the request includes its headers).");
  }
  if (!(Number.isInteger(c.authFailureBurst) && c.authFailureBurst >= 1)) throw new ConfigError("authFailureBurst must be a whole number of at least 1.");
  if (!(c.authFailureRatePerSecond > 0)) throw new ConfigError("authFailureRatePerSecond must be a positive number.");
  if (!(c.replicationPollSeconds > 0)) throw new ConfigError("The replication poll interval must be a positive number of seconds.");
  if (!(c.replicationRetryMaxSeconds > 0)) throw new ConfigError("The replication retry limit must be a positive number of seconds.");
  if (!(c.rotationPollSeconds > 0)) throw new ConfigError("The rotation poll interval must be a positive number of seconds.");
  if (!(c.parameterPolicyPollSeconds > 0)) throw new ConfigError("The parameter policy poll interval must be a positive number of seconds.");
  if (!(c.purgeIntervalSeconds > 0)) throw new ConfigError("The purge interval must be a positive number of seconds.");
  if (!(c.rotationStepTimeoutSeconds > 0)) throw new ConfigError("The rotation step timeout must be a positive number of seconds.");
  if (c.audit !== "on" && c.audit !== "off") throw new ConfigError(`audit must be "on" or "off", not "${c.audit}".`);
  if (c.oidcAllowHttp !== "on" && c.oidcAllowHttp !== "off") throw new ConfigError(`oidcAllowHttp must be "on" or "off", not "${c.oidcAllowHttp}".`);
  if (c.metrics !== "on" && c.metrics !== "off") throw new ConfigError(`metrics must be "on" or "off", not "${c.metrics}".`);
  if (!Number.isInteger(c.auditRetentionDays) || c.auditRetentionDays < 0) {
    throw new ConfigError("The audit retention must be a whole number of days (0 keeps events forever).");
  }
  if (c.databaseUrl !== undefined && !/^postgres(ql)?:\/\/./.test(c.databaseUrl)) {
    throw new ConfigError("databaseUrl must be a PostgreSQL URL: postgres://user:password@host:5432/database.");
  }
  if ([c.masterKey, c.masterPassphrase, c.masterKeyCommand].filter(Boolean).length > 1) {
    throw new ConfigError("Give one of COFFER_MASTER_KEY, COFFER_MASTER_PASSPHRASE and COFFER_MASTER_KEY_COMMAND (masterKeyCommand), not several.");
  }
}
