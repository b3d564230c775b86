import { createHash } from "node:crypto";
import { connect } from "node:net";
import { SignatureV4 } from "@smithy/signature-v4";
import { Sha256 } from "../test/e2e/raw.ts";
import { hostileJson, KNOWN, mayBeSigned, operations, queryBody, Rng, valueFor, type Operation } from "./fuzz-gen.ts";

/**
 * The fuzzer's core (bench/fuzz.ts is its command, test/security/fuzz.test.ts
 * runs it in `npm test`): builds request `index` of run `seed` (the same
 * request for the same pair, so a failure can be replayed), sends it over a
 * raw socket, and judges the answer. A failure is a 5xx, no answer within the
 * timeout, a 2xx on a request that is not correctly signed, or a server that
 * refuses connections.
 */

type Credentials = { accessKeyId: string; secretAccessKey: string };

/** How a request is authenticated: only "signed", "presigned" and "public" (GET /health) may ever get a 2xx. */
export type AuthClass = "signed" | "presigned" | "public" | "unsigned" | "bogus-key" | "tampered";

export interface FuzzRequest {
  index: number;
  kind: string;
  auth: AuthClass;
  op?: string;
  how: string;
  method: string;
  path: string;
  headers: [string, string][];
  body: Buffer;
  /** Bytes sent verbatim instead of a request built from the fields above (malformed HTTP). */
  raw?: Buffer;
  /** Trickled over a few seconds. */
  slow?: boolean;
}

export interface FuzzContext {
  url: string;
  credentials: Credentials;
  region: string;
}

const BOGUS: Credentials = { accessKeyId: "AKIAFUZZFUZZFUZZFUZZ", secretAccessKey: "fuzz/not-a-real-secret-key-000000000000" };

async function sign(ctx: FuzzContext, creds: Credentials, service: string, headers: Record<string, string>, body: Buffer, date?: Date) {
  const u = new URL(ctx.url);
  const signer = new SignatureV4({ credentials: creds, region: ctx.region, service, sha256: Sha256 });
  const signed = await signer.sign(
    { method: "POST", protocol: u.protocol, hostname: u.hostname, port: Number(u.port), path: "/", headers: { host: u.host, ...headers }, body },
    { signingDate: date },
  );
  return signed.headers as Record<string, string>;
}

async function presign(ctx: FuzzContext, creds: Credentials, service: string, headers: Record<string, string>, body: Buffer, expiresIn: number, date?: Date) {
  const u = new URL(ctx.url);
  const signer = new SignatureV4({ credentials: creds, region: ctx.region, service, sha256: Sha256 });
  const signed = await signer.presign(
    { method: "POST", protocol: u.protocol, hostname: u.hostname, port: Number(u.port), path: "/", headers: { host: u.host, ...headers }, body },
    { expiresIn, signingDate: date, unhoistableHeaders: new Set(Object.keys(headers)) },
  );
  const query = Object.entries(signed.query ?? {})
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join("&");
  return { path: `/?${query}`, headers: signed.headers as Record<string, string> };
}

const entries = (h: Record<string, string>): [string, string][] => Object.entries(h);

/** A plausible or hostile body for an operation, in its protocol. */
function bodyFor(op: Operation, rng: Rng): { body: Buffer; how: string; contentType: string } {
  const shapes = op.service.shapes;
  const spec = op.service.operations[op.name];
  let input = spec.input ? valueFor(shapes, spec.input, rng) : {};
  // Point signed requests at things that exist now and then, so handlers go past "not found".
  if (input && typeof input === "object" && rng.chance(0.3)) {
    const o = input as Record<string, unknown>;
    for (const k of ["SecretId", "Name", "UserName", "Path"]) if (k in o) o[k] = k === "UserName" ? KNOWN.user : k === "SecretId" ? KNOWN.secret : KNOWN.parameter;
  }
  if (op.service.metadata.protocol === "query") {
    return {
      body: Buffer.from(queryBody(op.name, op.service.metadata.apiVersion, input, rng)),
      how: "query",
      contentType: "application/x-www-form-urlencoded; charset=utf-8",
    };
  }
  const { text, how } = rng.chance(0.4) ? { text: JSON.stringify(input), how: "plausible" } : hostileJson(input, rng);
  return { body: Buffer.isBuffer(text) ? text : Buffer.from(text), how, contentType: "application/x-amz-json-1.1" };
}

function opHeaders(op: Operation, contentType: string): Record<string, string> {
  return { "content-type": contentType, ...(op.target ? { "x-amz-target": op.target } : {}) };
}

const GARBAGE_AUTH = [
  "",
  "AWS4-HMAC-SHA256",
  "AWS4-HMAC-SHA256 Credential=",
  "AWS4-HMAC-SHA256 Credential=/////, SignedHeaders=, Signature=",
  "Bearer abc",
  "AWS4-HMAC-SHA256 Credential=AKIA/20240101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=00",
  "AWS4-HMAC-SHA256 Credential=A/B/C/D/E, Credential=F/G/H/I/J, SignedHeaders=host;host, Signature=zz, Signature=yy",
  "AWS4-HMAC-SHA256 " + "Credential=x,".repeat(2000),
  "\u00ff\u00fe",
];

/** Builds request `index` of run `seed`. */
export async function buildRequest(seed: number, index: number, ctx: FuzzContext): Promise<FuzzRequest> {
  const rng = new Rng(seed, index);
  const ops = operations();
  const base = { index, method: "POST", path: "/" };
  const roll = rng.next();

  if (roll < 0.002) {
    // Slow: a correctly signed request trickled in pieces.
    const op = rng.pick(ops.filter((o) => o.target && mayBeSigned(o)));
    const { body, how, contentType } = bodyFor(op, rng);
    const headers = await sign(ctx, ctx.credentials, op.service.metadata.signingName, opHeaders(op, contentType), body);
    return { ...base, kind: "slow", auth: "signed", op: op.name, how, headers: entries(headers), body, slow: true };
  }
  if (roll < 0.34) {
    // Correctly signed, over a mutated body: passes authentication, hits validation and handlers.
    const op = rng.pick(ops.filter(mayBeSigned));
    const { body, how, contentType } = bodyFor(op, rng);
    const headers = await sign(ctx, ctx.credentials, op.service.metadata.signingName, opHeaders(op, contentType), body);
    if (rng.chance(0.1)) headers["user-agent"] = "fuzz/" + "u".repeat(rng.pick([100, 4000, 12_000]));
    return { ...base, kind: "signed", auth: "signed", op: op.name, how, headers: entries(headers), body };
  }
  if (roll < 0.48) {
    // No signature at all, or a garbage Authorization header.
    const op = rng.pick(ops);
    const { body, how, contentType } = bodyFor(op, rng);
    const headers = entries(opHeaders(op, contentType));
    if (rng.chance(0.6)) headers.push(["authorization", rng.pick(GARBAGE_AUTH)]);
    if (rng.chance(0.3)) headers.push(["x-amz-date", rng.pick(["20240101T000000Z", "garbage", "99999999T999999Z", ""])]);
    return { ...base, kind: "unsigned", auth: "unsigned", op: op.name, how, headers, body };
  }
  if (roll < 0.58) {
    // Signed with a key Coffer does not know, or a known key id with the wrong secret.
    const op = rng.pick(ops);
    const { body, how, contentType } = bodyFor(op, rng);
    const creds = rng.chance(0.5) ? BOGUS : { accessKeyId: ctx.credentials.accessKeyId, secretAccessKey: BOGUS.secretAccessKey };
    const headers = await sign(ctx, creds, op.service.metadata.signingName, opHeaders(op, contentType), body);
    return { ...base, kind: "bogus-key", auth: "bogus-key", op: op.name, how, headers: entries(headers), body };
  }
  if (roll < 0.7) return tampered(rng, ctx, base);
  if (roll < 0.76) return presigned(rng, ctx, base);
  if (roll < 0.86) return headerChaos(rng, ctx, base);
  if (roll < 0.93) return malformedHttp(rng, base);
  // Other methods and paths.
  const method = rng.pick(["GET", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH", "POST"]);
  const path = rng.pick(["/", "/health", "/x", "/..%2f..%2fetc%2fpasswd", "/?Action=GetCallerIdentity&Version=2011-06-15", "//", "/" + "a".repeat(3000), "/%ff"]);
  const auth: AuthClass = (method === "GET" || method === "HEAD") && path === "/health" ? "public" : "unsigned";
  return { ...base, kind: "route", auth, how: `${method} ${path.slice(0, 40)}`, method, path, headers: [["content-type", "application/x-amz-json-1.1"]], body: Buffer.from("{}") };
}

/** Correctly signed, then changed in a part the signature covers: must never succeed. */
async function tampered(rng: Rng, ctx: FuzzContext, base: { index: number; method: string; path: string }): Promise<FuzzRequest> {
  const jsonOps = operations().filter((o) => o.target && mayBeSigned(o));
  const op = rng.pick(jsonOps);
  const { body, contentType } = bodyFor(op, rng);
  const headers = await sign(ctx, ctx.credentials, op.service.metadata.signingName, opHeaders(op, contentType), body);
  let list = entries(headers);
  let sent = body;
  let how: string;
  switch (rng.int(8)) {
    case 0:
      sent = Buffer.concat([body, Buffer.from(" ")]);
      how = "body changed after signing";
      break;
    case 1: {
      const other = rng.pick(jsonOps.filter((o) => o.service === op.service));
      list = list.map(([k, v]) => (k.toLowerCase() === "x-amz-target" ? [k, other.target!] : [k, v]));
      how = `target changed to ${other.name} after signing`;
      if (other.name === op.name) how = "target re-sent unchanged, signature altered";
      if (other.name === op.name) list = list.map(([k, v]) => (k.toLowerCase() === "authorization" ? [k, v.replace(/.$/, (c) => (c === "0" ? "1" : "0"))] : [k, v]));
      break;
    }
    case 2:
      list = list.map(([k, v]) => (k.toLowerCase() === "host" ? [k, "evil.example:443"] : [k, v]));
      how = "host changed after signing";
      break;
    case 3:
      list = list.map(([k, v]) => (k.toLowerCase() === "authorization" ? [k, v.replace(/.$/, (c) => (c === "0" ? "1" : "0"))] : [k, v]));
      how = "signature altered";
      break;
    case 4:
      list.push(["x-amz-target", rng.pick(jsonOps).target!]);
      how = "second X-Amz-Target";
      break;
    case 5: {
      const auth = headers.authorization;
      list.push(["authorization", auth.replace(/Signature=\w+/, "Signature=" + "0".repeat(64))]);
      how = "second Authorization";
      break;
    }
    case 6:
      list = list.map(([k, v]) => (k.toLowerCase() === "authorization" ? [k, `${v}, Signature=${"0".repeat(64)}`] : [k, v]));
      how = "repeated Signature= parameter";
      break;
    default:
      list = list.map(([k, v]) => (k.toLowerCase() === "x-amz-date" ? [k, "20990101T000000Z"] : [k, v]));
      how = "date changed after signing";
  }
  return { ...base, kind: "tampered", auth: "tampered", op: op.name, how, headers: list, body: sent };
}

/** Presigned URLs: valid, expired, for a bogus key, or moved to another operation after signing. */
async function presigned(rng: Rng, ctx: FuzzContext, base: { index: number; method: string; path: string }): Promise<FuzzRequest> {
  const jsonOps = operations().filter((o) => o.target && mayBeSigned(o));
  const op = rng.pick(jsonOps);
  const { body, contentType } = bodyFor(op, rng);
  const service = op.service.metadata.signingName;
  const variant = rng.int(5);
  if (variant === 0) {
    const p = await presign(ctx, ctx.credentials, service, opHeaders(op, contentType), body, 300);
    return { ...base, kind: "presigned", auth: "presigned", op: op.name, how: "valid", path: p.path, headers: entries(p.headers), body };
  }
  if (variant === 1) {
    const p = await presign(ctx, ctx.credentials, service, opHeaders(op, contentType), body, 1, new Date(Date.now() - 3_600_000));
    return { ...base, kind: "presigned", auth: "tampered", op: op.name, how: "expired", path: p.path, headers: entries(p.headers), body };
  }
  if (variant === 2) {
    const p = await presign(ctx, BOGUS, service, opHeaders(op, contentType), body, 300);
    return { ...base, kind: "presigned", auth: "bogus-key", op: op.name, how: "bogus key", path: p.path, headers: entries(p.headers), body };
  }
  const siblings = jsonOps.filter((o) => o.service === op.service && o.name !== op.name);
  const other = rng.pick(siblings.length > 0 ? siblings : jsonOps.filter((o) => o.name !== op.name));
  if (variant === 3) {
    const p = await presign(ctx, ctx.credentials, service, opHeaders(op, contentType), body, 300);
    const headers = entries(p.headers).map(([k, v]): [string, string] => (k.toLowerCase() === "x-amz-target" ? [k, other.target!] : [k, v]));
    return { ...base, kind: "presigned", auth: "tampered", op: other.name, how: `signed for ${op.name}, sent as ${other.name}`, path: p.path, headers, body };
  }
  // The target left out of the signature and added afterwards.
  const p = await presign(ctx, ctx.credentials, service, { "content-type": contentType }, body, 300);
  const headers: [string, string][] = [...entries(p.headers), ["x-amz-target", other.target!]];
  return { ...base, kind: "presigned", auth: "tampered", op: other.name, how: "X-Amz-Target not signed", path: p.path, headers, body };
}

/** Odd headers around an operation: huge, repeated, badly dated, wrongly typed. */
async function headerChaos(rng: Rng, ctx: FuzzContext, base: { index: number; method: string; path: string }): Promise<FuzzRequest> {
  const op = rng.pick(operations().filter((o) => o.target));
  const body = Buffer.from("{}");
  const headers: [string, string][] = [["content-type", "application/x-amz-json-1.1"]];
  let how: string;
  switch (rng.int(9)) {
    case 0:
      headers.push(["x-amz-target", op.target!], ["x-fuzz", "h".repeat(rng.pick([8_000, 20_000, 70_000]))]);
      how = "huge header";
      break;
    case 1:
      for (let i = 0; i < 300; i++) headers.push([`x-fuzz-${i}`, String(i)]);
      headers.push(["x-amz-target", op.target!]);
      how = "many headers";
      break;
    case 2:
      headers.push(["x-amz-target", rng.pick(["", ".", "secretsmanager.", "AmazonSSM.__proto__", "Nope.Nope", "secretsmanager.constructor", "x".repeat(5000), "TrentService.toString"])]);
      how = "unknown target";
      break;
    case 3:
      headers.push(["x-amz-target", op.target!], ["x-amz-target", op.target!]);
      how = "repeated target";
      break;
    case 4:
      headers.push(["x-amz-target", op.target!], ["x-amz-date", rng.pick(["", "0", "20240230T250000Z", "-1", "2024-01-01T00:00:00Z", "\u00ff"])]);
      headers.push(["authorization", rng.pick(GARBAGE_AUTH)]);
      how = "bad date";
      break;
    case 5:
      headers[0] = ["content-type", rng.pick(["", "text/plain", "application/x-www-form-urlencoded", "application/json; charset=utf-16", "multipart/form-data; boundary=x"])];
      headers.push(["x-amz-target", op.target!]);
      how = "content type";
      break;
    case 6:
      headers.push(["x-amz-target", op.target!], ["transfer-encoding", "chunked"], ["content-length", "2"]);
      how = "TE and CL";
      break;
    case 7:
      headers.push(["x-amz-target", op.target!], ["x-amz-security-token", "t".repeat(rng.pick([10, 5000]))]);
      headers.push(["authorization", rng.pick(GARBAGE_AUTH)]);
      how = "session token";
      break;
    default: {
      // A valid signature, then the request goes out with its content type changed.
      const signed = await sign(ctx, ctx.credentials, op.service.metadata.signingName, { "content-type": "application/x-amz-json-1.1", "x-amz-target": op.target! }, body);
      const list = entries(signed).map(([k, v]): [string, string] => (k === "content-type" ? [k, "application/x-www-form-urlencoded"] : [k, v]));
      return { ...base, kind: "headers", auth: "tampered", op: op.name, how: "content type changed after signing", headers: list, body };
    }
  }
  return { ...base, kind: "headers", auth: "unsigned", op: op.name, how, headers, body };
}

function malformedHttp(rng: Rng, base: { index: number; method: string; path: string }): FuzzRequest {
  const variants: [string, Buffer][] = [
    ["garbage", Buffer.from("\u0000\u0001\u0002 hello\r\n\r\n")],
    ["no version", Buffer.from("POST /\r\n\r\n")],
    ["HTTP/1.0", Buffer.from("POST / HTTP/1.0\r\ncontent-length: 2\r\n\r\n{}")],
    ["bad chunk", Buffer.from("POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")],
    ["nul in header", Buffer.from("POST / HTTP/1.1\r\nhost: x\r\nx-amz-target: secretsmanager.ListSecrets\u0000\r\ncontent-length: 2\r\n\r\n{}")],
    ["bare LF", Buffer.from("POST / HTTP/1.1\nhost: x\ncontent-length: 2\n\n{}")],
    ["space before colon", Buffer.from("POST / HTTP/1.1\r\nhost : x\r\ncontent-length: 2\r\n\r\n{}")],
    ["absolute form", Buffer.from("POST http://evil.example/ HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}")],
    ["two content-lengths", Buffer.from("POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\n{}")],
    ["negative content-length", Buffer.from("POST / HTTP/1.1\r\nhost: x\r\ncontent-length: -1\r\n\r\n{}")],
    ["huge request line", Buffer.from(`POST /${"a".repeat(100_000)} HTTP/1.1\r\nhost: x\r\n\r\n`)],
    ["invalid utf-8 header", Buffer.concat([Buffer.from("POST / HTTP/1.1\r\nhost: x\r\nx-amz-target: "), Buffer.from([0xff, 0xc3, 0x28]), Buffer.from("\r\ncontent-length: 2\r\n\r\n{}")])],
    // The unsigned request first: only the first answer is read.
    ["pipelined", Buffer.from("POST / HTTP/1.1\r\nhost: x\r\nx-amz-target: secretsmanager.ListSecrets\r\ncontent-length: 2\r\n\r\n{}GET /health HTTP/1.1\r\nhost: x\r\n\r\n")],
  ];
  const [how, raw] = rng.pick(variants);
  return { ...base, kind: "http", auth: "unsigned", how, headers: [], body: Buffer.alloc(0), raw };
}

/** The bytes of a request. */
export function wireBytes(req: FuzzRequest): Buffer {
  if (req.raw) return req.raw;
  const lines = [`${req.method} ${req.path} HTTP/1.1`];
  const names = new Set(req.headers.map(([k]) => k.toLowerCase()));
  for (const [k, v] of req.headers) lines.push(`${k}: ${v}`);
  if (!names.has("host")) lines.push("host: localhost");
  if (!names.has("content-length") && !names.has("transfer-encoding")) lines.push(`content-length: ${req.body.length}`);
  lines.push("connection: close");
  return Buffer.concat([Buffer.from(lines.join("\r\n") + "\r\n\r\n", "latin1"), req.body]);
}

export interface FuzzResult {
  /** HTTP status; 0 when the connection closed with no answer. */
  status: number;
  ms: number;
  error?: string;
}

/** Sends one request on its own connection and reads the status of the first answer. */
export function send(url: string, req: FuzzRequest, timeoutMs: number): Promise<FuzzResult> {
  const u = new URL(url);
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = connect({ host: u.hostname, port: Number(u.port) });
    let head = "";
    let done = false;
    const finish = (r: Omit<FuzzResult, "ms">) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...r, ms: Date.now() - started });
    };
    const timer = setTimeout(() => finish({ status: -1, error: "timeout" }), timeoutMs);
    socket.on("data", (d: Buffer) => {
      if (head.length < 256) head += d.toString("latin1");
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      if (m) finish({ status: Number(m[1]) });
    });
    socket.on("error", (err: NodeJS.ErrnoException) => finish({ status: 0, error: err.code ?? err.message }));
    socket.on("close", () => finish({ status: 0, error: "closed" }));
    socket.on("connect", async () => {
      const bytes = wireBytes(req);
      if (!req.slow) {
        socket.write(bytes);
        return;
      }
      const pieces = 6;
      const step = Math.ceil(bytes.length / pieces);
      for (let i = 0; i < bytes.length && !done; i += step) {
        socket.write(bytes.subarray(i, i + step));
        await new Promise((r) => setTimeout(r, 500));
      }
    });
  });
}

/** Why a result is a failure, or undefined when it is fine. */
export function judge(req: FuzzRequest, res: FuzzResult): string | undefined {
  if (res.status === -1) return "no answer within the timeout (hang)";
  if (res.error === "ECONNREFUSED") return "connection refused (server down?)";
  if (res.status >= 500) return `server error ${res.status}`;
  if (res.status >= 200 && res.status < 300 && req.auth !== "signed" && req.auth !== "presigned" && req.auth !== "public") {
    return `success (${res.status}) on a request that is ${req.auth}`;
  }
  return undefined;
}

/** A failure as the summary prints it: enough to read, and seed + index to replay. */
export function reproducer(seed: number, req: FuzzRequest, res: FuzzResult, why: string) {
  const bytes = wireBytes(req);
  return {
    why,
    seed,
    index: req.index,
    replay: `npm run fuzz -- --seed ${seed} --only ${req.index}`,
    kind: req.kind,
    auth: req.auth,
    op: req.op,
    how: req.how,
    status: res.status,
    error: res.error,
    request: {
      bytes: bytes.length,
      sha256: createHash("sha256").update(bytes).digest("hex").slice(0, 16),
      head: bytes.subarray(0, 1500).toString("latin1").replace(/(Signature=)[0-9a-f]{64}/g, "$1…"),
    },
  };
}

export interface FuzzOptions {
  url: string;
  credentials: Credentials;
  region?: string;
  seed: number;
  count: number;
  /** First index (with count 1: replay one request). */
  start?: number;
  concurrency?: number;
  /** Requests started per second at most. */
  rps?: number;
  timeoutMs?: number;
  /** Called when the server process is known to have died. */
  alive?: () => boolean;
}

export interface FuzzSummary {
  seed: number;
  count: number;
  seconds: number;
  byStatus: Record<string, number>;
  byKind: Record<string, number>;
  failures: ReturnType<typeof reproducer>[];
  healthy: boolean;
}

/** Runs `count` requests from index `start`, `concurrency` at a time, and checks the server's health at the end. */
export async function runFuzz(opts: FuzzOptions): Promise<FuzzSummary> {
  const ctx: FuzzContext = { url: opts.url, credentials: opts.credentials, region: opts.region ?? "us-east-1" };
  const start = opts.start ?? 0;
  const concurrency = opts.concurrency ?? 8;
  const rps = opts.rps ?? 150;
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const byStatus: Record<string, number> = {};
  const byKind: Record<string, number> = {};
  const failures: FuzzSummary["failures"] = [];
  const began = Date.now();
  let next = start;
  const worker = async () => {
    for (;;) {
      const index = next++;
      if (index >= start + opts.count) return;
      const due = began + ((index - start) * 1000) / rps;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      let req: FuzzRequest;
      try {
        req = await buildRequest(opts.seed, index, ctx);
      } catch (err) {
        // A bug of the fuzzer's own: reported, and the run goes on.
        failures.push({ why: `the fuzzer could not build this request: ${(err as Error).message}`, seed: opts.seed, index, replay: `npm run fuzz -- --seed ${opts.seed} --only ${index}` } as FuzzSummary["failures"][number]);
        continue;
      }
      const res = await send(opts.url, req, req.slow ? timeoutMs * 2 : timeoutMs);
      const key = res.status > 0 ? String(res.status) : res.status === 0 ? `closed:${res.error}` : "timeout";
      byStatus[key] = (byStatus[key] ?? 0) + 1;
      byKind[`${req.kind}/${req.auth}`] = (byKind[`${req.kind}/${req.auth}`] ?? 0) + 1;
      const why = judge(req, res) ?? (opts.alive && !opts.alive() ? "server process exited" : undefined);
      if (why && failures.length < 200) failures.push(reproducer(opts.seed, req, res, why));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const healthy = await stillServes(ctx);
  return { seed: opts.seed, count: opts.count, seconds: Math.round((Date.now() - began) / 100) / 10, byStatus, byKind, failures, healthy };
}

/** /health answers, and so does a correctly signed read: the server still serves good requests. */
export async function stillServes(ctx: FuzzContext): Promise<boolean> {
  try {
    const health = await fetch(`${ctx.url}/health`, { signal: AbortSignal.timeout(10_000) });
    const body = Buffer.from("{}");
    const headers = await sign(ctx, ctx.credentials, "secretsmanager", { "content-type": "application/x-amz-json-1.1", "x-amz-target": "secretsmanager.ListSecrets" }, body);
    delete headers.host;
    const list = await fetch(ctx.url, { method: "POST", headers, body, signal: AbortSignal.timeout(10_000) });
    return health.status === 200 && list.status === 200;
  } catch {
    return false;
  }
}
