import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { applyListenerTimeouts, listenerOptions, type ListenerTimeouts } from "../shared/listener-timeouts.ts";
import { isIPv4, isIPv6, type Socket } from "node:net";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SSMClient } from "@aws-sdk/client-ssm";
import { ParameterCache, type CachedParameter, type SsmSender } from "../client/parameter-cache.ts";
import type { Clock } from "../client/refreshing-cache.ts";
import { SecretCache, type SecretValue, type SecretsManagerSender, type VersionSelector } from "../client/secret-cache.ts";
import { failoverClients, type RegionTarget } from "../client/failover.ts";

/**
 * `coffer agent`: a local HTTP cache compatible with the AWS Secrets Manager
 * Agent (and the Parameters and Secrets Lambda extension), so a program
 * written for either runs unchanged against Coffer (or AWS).
 *
 * Each request passes AWS's agent's checks in AWS's order, with its status
 * codes and texts: connection limit (429; /ping exempt), then, for all but
 * /ping, X-Forwarded-For (400 "Forwarded": it came through a proxy) and the
 * SSRF token (403 "Bad Token"), then the method (405, GET only), then the
 * route (404). Service errors pass through as AWS's agent passes them: the
 * service's status and `{"__type","message"}`; 502/504 when the service
 * cannot be reached or does not answer in time.
 *
 * Security rules:
 * - loopback only, unless allowRemote: the agent hands out secrets to anyone
 *   who can reach it and knows the token;
 * - the SSRF token is read once at start (AWS_TOKEN, AWS_SESSION_TOKEN,
 *   AWS_CONTAINER_AUTHORIZATION_TOKEN, first one set and not empty;
 *   `file://<path>` reads it from a file) and compared in constant time
 *   against X-Aws-Parameters-Secrets-Token or X-Vault-Token;
 * - read-only; a request's line and headers are at most 16 KiB and must
 *   arrive within 10 s; a call to the service gets two attempts of at most
 *   25 s each (AWS's agent gives a request 61 s in all);
 * - nothing it logs contains a secret value (error names and statuses only).
 */

export const TOKEN_VARIABLES = ["AWS_TOKEN", "AWS_SESSION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN"] as const;
const TOKEN_HEADERS = ["x-aws-parameters-secrets-token", "x-vault-token"] as const;

export interface AgentOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 2773; 0 picks a free port. */
  port?: number;
  /** Listen on a non-loopback address (default false: refused). */
  allowRemote?: boolean;
  /** How long an answer is served from the cache (default 300; 0..3600; 0 = no cache). */
  ttlSeconds?: number;
  /** Entries cached, per kind (secrets, parameters) (default 1000; 1..1000). */
  cacheSize?: number;
  /** Open connections served (default 800; 1..1000); requests on further connections get 429. */
  maxConnections?: number;
  /** Prefix of path-style reads, `GET /v1/<secretId>` (default /v1/). */
  pathPrefix?: string;
  /** The SSRF token; default: read from the environment (TOKEN_VARIABLES, first one set; `file://` reads a file). */
  token?: string;
  env?: NodeJS.ProcessEnv;
  /** Where Secrets Manager and SSM are (default: AWS_ENDPOINT_URL, else the SDK's own resolution). */
  endpoint?: string;
  region?: string;
  /**
   * More regions to read from when the first (endpoint/region) is unreachable,
   * in order (docs/replication.md); never on an answer such as an access denial.
   */
  failover?: RegionTarget[];
  /** More configuration for the SDK clients it builds (credentials, profile, TLS trust), per service. */
  clientConfig?: { secretsmanager?: object; ssm?: object };
  /** Clients to use instead of SDK clients built from endpoint/region and the standard credential chain. */
  secretsClient?: SecretsManagerSender;
  ssmClient?: SsmSender;
  clock?: Clock;
  /**
   * Slow or idle clients are cut off after these (default: 10 s for headers and
   * for the whole request, 60 s idle between requests, as before).
   */
  timeouts?: Partial<ListenerTimeouts>;
  /** Told about upstream failures (error name, status, id): never values. */
  log?: (message: string, fields: Record<string, unknown>) => void;
}

export interface Agent {
  /** Starts listening; resolves to the URL. */
  listen(): Promise<string>;
  close(): Promise<void>;
  /** The URL once listening. */
  readonly url: string;
}

/**
 * The agent's token: the first of AWS_TOKEN, AWS_SESSION_TOKEN,
 * AWS_CONTAINER_AUTHORIZATION_TOKEN that is set and not empty. As with AWS's
 * agent, `file://<path>` (file:///var/run/awssmatoken) names a file holding
 * the token, read once and trimmed.
 */
export function readSsrfToken(env: NodeJS.ProcessEnv): string {
  for (const name of TOKEN_VARIABLES) {
    const value = env[name];
    if (value === undefined || value === "") continue;
    const token = value.startsWith("file://") ? readFileSync(value.slice("file://".length), "utf8").trim() : value;
    if (token === "") throw new Error(`The SSRF token in ${name} is empty.`);
    return token;
  }
  throw new Error(`No SSRF token: set one of ${TOKEN_VARIABLES.join(", ")} (a value, or file:///path to a file holding it).`);
}

export function isLoopback(host: string): boolean {
  if (host === "localhost") return true;
  if (isIPv4(host)) return host.startsWith("127.");
  if (isIPv6(host)) return host === "::1" || /^::ffff:127\./i.test(host);
  return false;
}

function inRange(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`${name} must be an integer from ${min} to ${max}, not ${value}.`);
  return value;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly json = false,
  ) {
    super(body);
  }
}

const digest = (text: string) => createHash("sha256").update(text).digest();

export function createAgent(options: AgentOptions = {}): Agent {
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? 2773;
  if (port !== 0) inRange("port", port, 1024, 65535);
  if (!isLoopback(host) && !options.allowRemote) {
    throw new Error(`Refusing to listen on ${host}: the agent serves secrets to whoever reaches it. Use a loopback address, or --allow-remote.`);
  }
  const ttlMs = inRange("ttlSeconds", options.ttlSeconds ?? 300, 0, 3600) * 1000;
  const maxEntries = inRange("cacheSize", options.cacheSize ?? 1000, 1, 1000);
  const maxConnections = inRange("maxConnections", options.maxConnections ?? 800, 1, 1000);
  const prefix = options.pathPrefix ?? "/v1/";
  if (!prefix.startsWith("/") || prefix.length < 2) throw new RangeError(`The path prefix must begin with / and name a path, not "${prefix}".`);
  const tokenDigest = digest(options.token ?? readSsrfToken(options.env ?? process.env));
  const log = options.log ?? (() => {});

  const endpoint = options.endpoint ?? (options.env ?? process.env).AWS_ENDPOINT_URL;
  const clientConfig = {
    ...(endpoint ? { endpoint } : {}),
    ...(options.region ? { region: options.region } : {}),
    // Named in the service's audit trail, as AWS's agent names itself in CloudTrail.
    customUserAgent: "coffer-agent",
    // Two attempts of at most 25 s: inside the 61 s AWS's agent gives a request.
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 25_000 },
    maxAttempts: 2,
  };
  // As AWS's agent: refresh lazily on read after the TTL, no background refresh, no stale answers.
  const timings = { ttlMs, maxEntries, refreshAheadMs: 0, maxStaleMs: 0, clock: options.clock };
  const failover = options.failover ?? [];
  if (failover.length > 0 && !options.region && !(options.clientConfig?.secretsmanager as { region?: string } | undefined)?.region) {
    throw new Error("With failover regions, the first region must be named too (--region).");
  }
  const regionsOf = (config: { region?: unknown; endpoint?: unknown }): RegionTarget[] => [
    { region: String(config.region ?? options.region ?? ""), ...(typeof config.endpoint === "string" ? { endpoint: config.endpoint } : {}) },
    ...failover,
  ];
  const onFailover = (region: string, err: unknown) => log("region unreachable; reading from the next one", { region, error: (err as Error).name });
  const smConfig = { ...clientConfig, ...options.clientConfig?.secretsmanager } as { region?: string; endpoint?: string };
  const ssmConfig = { ...clientConfig, ...options.clientConfig?.ssm } as { region?: string; endpoint?: string };
  const smClient =
    options.secretsClient ??
    (failover.length > 0
      ? failoverClients(regionsOf(smConfig), smConfig, (c) => new SecretsManagerClient(c), { onFailover })
      : new SecretsManagerClient(smConfig));
  const ssmClient =
    options.ssmClient ??
    (failover.length > 0
      ? (failoverClients(regionsOf(ssmConfig), ssmConfig, (c) => new SSMClient(c), { onFailover }) as unknown as SsmSender)
      : new SSMClient(ssmConfig));
  const secrets = new SecretCache({ ...timings, client: smClient });
  const parameters = new ParameterCache({ ...timings, client: ssmClient });
  const bodies = new WeakMap<object, Buffer>();

  let open = 0;
  // Node checks header and request timeouts every connectionsCheckingInterval
  // (30 s by default); listenerOptions shortens it so a slowloris client is gone
  // within the timeout plus at most a second.
  const timeouts = { headersMs: 10_000, requestMs: 10_000, idleMs: 60_000, ...options.timeouts };
  const server = createServer({ ...listenerOptions(timeouts), maxHeaderSize: 16 * 1024 }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      log("request failed", { error: err instanceof Error ? err.name : typeof err });
      if (!res.headersSent) send(res, 500, "Internal error", "text/plain");
    });
  });
  applyListenerTimeouts(server, timeouts);
  server.on("connection", (socket: Socket) => {
    open++;
    socket.once("close", () => open--);
  });

  function authorised(req: IncomingMessage): boolean {
    let ok = false;
    for (const name of TOKEN_HEADERS) {
      const given = req.headers[name];
      // Every present header is compared, so timing does not tell which one matched.
      if (typeof given === "string" && timingSafeEqual(digest(given), tokenDigest)) ok = true;
    }
    return ok;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    const query = new URLSearchParams(q < 0 ? "" : url.slice(q + 1));
    try {
      if (open > maxConnections && path !== "/ping") {
        res.setHeader("connection", "close");
        throw new HttpError(429, "Connection limit exceeded");
      }
      if (path !== "/ping") {
        if (req.headers["x-forwarded-for"] !== undefined) throw new HttpError(400, "Forwarded");
        if (!authorised(req)) throw new HttpError(403, "Bad Token");
      }
      if (req.method !== "GET") throw new HttpError(405, "Not allowed");
      let body: Buffer;
      if (path === "/ping") {
        return send(res, 200, "healthy", "text/plain");
      } else if (path === "/secretsmanager/get") {
        body = await secret(query.get("secretId"), query, ["secretId", "versionId", "versionStage", "refreshNow"], "missing parameter secretId");
      } else if (path.startsWith(prefix)) {
        body = await secret(decodePath(path.slice(prefix.length)), query, ["versionId", "versionStage", "refreshNow"], "missing secret ID");
      } else if (path === "/systemsmanager/parameters/get") {
        body = await parameter(query);
      } else {
        throw new HttpError(404, "Not found");
      }
      res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
      res.end(body);
    } catch (err) {
      const e = err instanceof HttpError ? err : upstream(err);
      send(res, e.status, e.body, e.json ? "application/json" : "text/plain");
    }
  }

  async function secret(secretId: string | null, query: URLSearchParams, allowed: string[], missing: string): Promise<Buffer> {
    checkParameters(query, allowed);
    if (!secretId) throw new HttpError(400, missing);
    const selector: VersionSelector = {
      versionId: query.get("versionId") ?? undefined,
      versionStage: query.get("versionStage") ?? undefined,
    };
    const value = flag(query, "refreshNow")
      ? await secrets.refresh(secretId, selector)
      : (secrets.peekSecretValue(secretId, selector) ?? (await secrets.getSecretValue(secretId, selector)));
    return bodyOf(value, secretBody);
  }

  async function parameter(query: URLSearchParams): Promise<Buffer> {
    checkParameters(query, ["name", "withDecryption", "version", "label", "refreshNow"]);
    let name = query.get("name");
    if (!name) throw new HttpError(400, "missing parameter name");
    const version = query.get("version");
    const label = query.get("label");
    if (version !== null && label !== null) throw new HttpError(400, "give version or label, not both");
    if (version !== null || label !== null) name += `:${version ?? label}`;
    const read = { withDecryption: flag(query, "withDecryption") };
    const value = flag(query, "refreshNow")
      ? await parameters.refresh(name, read)
      : (parameters.peekParameter(name, read) ?? (await parameters.getParameter(name, read)));
    return bodyOf(value, parameterBody);
  }

  /** The JSON is built once per fetched value; a hit writes the same bytes. */
  function bodyOf<T extends object>(value: T, render: (v: T) => string): Buffer {
    let body = bodies.get(value);
    if (body === undefined) {
      body = Buffer.from(render(value));
      bodies.set(value, body);
    }
    return body;
  }

  /**
   * As AWS's agent: a service error keeps the service's status, code and
   * message (AWS's messages name resources, never values); a timeout is 504,
   * a connection failure 502, anything else 500 InternalFailure.
   */
  function upstream(err: unknown): HttpError {
    const e = (typeof err === "object" && err !== null ? err : {}) as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const status = e.$metadata?.httpStatusCode;
    log("upstream error", { error: e.name ?? typeof err, ...(e.code ? { code: e.code } : {}), ...(status ? { status } : {}) });
    const answer = (s: number, body: object) => new HttpError(s, JSON.stringify(body), true);
    if (status !== undefined && e.name && e.message) return answer(status, { __type: e.name, message: e.message });
    if (e.name === "TimeoutError" || e.code === "ETIMEDOUT") return answer(504, { __type: "TimeoutError", message: "Timeout" });
    if (typeof e.code === "string" && /^E[A-Z]+$/.test(e.code)) return answer(502, { __type: "ConnectionError", message: "Read Error" });
    return answer(500, { __type: "InternalFailure" });
  }

  let url = "";
  return {
    get url() {
      return url;
    },
    async listen() {
      // Fail at start, not on every request, when the credential chain has no region to sign for.
      if (options.secretsClient === undefined && failover.length === 0) {
        try {
          await (smClient as SecretsManagerClient).config.region();
        } catch {
          throw new Error("No region: set AWS_REGION, a region in the AWS profile, or --region.");
        }
      }
      return new Promise<string>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          const address = server.address();
          const actual = typeof address === "object" && address !== null ? address.port : port;
          url = `http://${isIPv6(host) ? `[${host}]` : host}:${actual}`;
          resolve(url);
        });
      });
    },
    close() {
      if (options.secretsClient === undefined) (smClient as SecretsManagerClient).destroy();
      if (options.ssmClient === undefined) (ssmClient as SSMClient).destroy();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function checkParameters(query: URLSearchParams, allowed: string[]): void {
  for (const name of query.keys()) {
    if (!allowed.includes(name)) throw new HttpError(400, `unknown parameter: ${name.slice(0, 100)}`);
  }
}

function flag(query: URLSearchParams, name: string): boolean {
  const value = query.get(name);
  if (value === null) return false;
  const v = value.toLowerCase();
  if (v === "true" || v === "1") return true;
  if (v === "false" || v === "0") return false;
  throw new HttpError(400, `invalid ${name} value`);
}

function decodePath(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, "invalid secretId");
  }
}

function send(res: ServerResponse, status: number, body: string, type: string): void {
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) });
  res.end(body);
}

const epochSeconds = (date: Date | undefined) => (date === undefined ? undefined : date.getTime() / 1000);

/** GetSecretValue's wire response: the same field names and order, SecretBinary base64, CreatedDate in epoch seconds. */
function secretBody(v: SecretValue): string {
  return JSON.stringify({
    ARN: v.ARN,
    Name: v.Name,
    VersionId: v.VersionId,
    SecretBinary: v.SecretBinary === undefined ? undefined : Buffer.from(v.SecretBinary).toString("base64"),
    SecretString: v.SecretString,
    VersionStages: v.VersionStages,
    CreatedDate: epochSeconds(v.CreatedDate),
  });
}

/** GetParameter's wire response. */
function parameterBody(p: CachedParameter): string {
  return JSON.stringify({
    Parameter: {
      ARN: p.ARN,
      DataType: p.DataType,
      LastModifiedDate: epochSeconds(p.LastModifiedDate),
      Name: p.Name,
      Selector: p.Selector,
      SourceResult: p.SourceResult,
      Type: p.Type,
      Value: p.Value,
      Version: p.Version,
    },
  });
}
