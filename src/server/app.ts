import { randomUUID } from "node:crypto";
import http from "node:http";
import https from "node:https";
import { CofferError } from "../shared/errors.ts";
import { createDispatcher, scrub, type DispatchOptions } from "./dispatch.ts";
import { applyListenerTimeouts, listenerOptions, type ListenerTimeouts } from "../shared/listener-timeouts.ts";
import type { Reply } from "./protocols/codec.ts";
import { protocolErrors } from "../api/api-errors.ts";
import type { IncomingRequest } from "./request-context.ts";
import { loadConsole } from "./console-static.ts";

/** The dispatcher's options (who audits, which services, how credentials are found) and the listener's own. */
export interface ServerOptions extends Omit<DispatchOptions, "secureTransport"> {
  bodyLimit: number;
  https?: { key: string | Buffer; cert: string | Buffer };
  /** Slow or idle clients are cut off after these (defaults: DEFAULT_LISTENER_TIMEOUTS). */
  timeouts?: Partial<ListenerTimeouts>;
  /**
   * Readiness (GET /ready): resolves to why this node cannot serve requests
   * now, or undefined when it can. Without one, only `sync` is tried.
   */
  readiness?: () => Promise<string | undefined>;
  /** GET /metrics: the exposition (Prometheus text); without one, /metrics is not served. */
  metrics?: () => Promise<{ contentType: string; body: string }>;
  /** Where the built web console is (default dist/console/, docs/console.md); served at /console/. */
  consoleDir?: string;
}

export interface CofferServer {
  /** The node server (http or https). */
  server: http.Server;
  listen(at: { host: string; port: number }): Promise<void>;
  /** Stops accepting connections and waits for in-flight requests to be answered; idle connections are closed. */
  close(): Promise<void>;
}

const JSON_TYPE = "application/json; charset=utf-8";
/** Liveness: the process serves HTTP. */
const HEALTH = JSON.stringify({ status: "ok" });
/** Readiness: it can serve requests (store, audit writer and master key usable). */
const READY = JSON.stringify({ status: "ready" });
const notReady = (reason: string) => JSON.stringify({ status: "unavailable", reason });

/**
 * The HTTP side: node:http (fastify cost 10-16 µs more CPU per request than
 * node:http for the same request, bench/transport.ts and docs/performance.md),
 * one route for the APIs (POST /), /health, /ready, /metrics, the web console
 * (GET /console/, console-static.ts), and an AWS-shaped error for
 * everything else. The request pipeline itself is the
 * dispatcher's (dispatch.ts): the body is read here, raw (SigV4 hashes the
 * exact bytes), up to the body limit.
 */
export function createServer(options: ServerOptions): CofferServer {
  const { logger } = options;
  const dispatcher = createDispatcher({ ...options, secureTransport: Boolean(options.https) });
  const tooLarge = () => new CofferError("PayloadTooLarge", `The request body is larger than the limit of ${options.bodyLimit} bytes.`);
  let stopping = false;
  const consoleFiles = loadConsole(options.region, options.consoleDir);
  const readiness =
    options.readiness ??
    (() => (options.sync?.() ?? Promise.resolve()).then(() => undefined, () => "the database cannot be reached"));

  function incoming(req: http.IncomingMessage, body: Buffer): IncomingRequest {
    return { method: req.method ?? "GET", url: req.url ?? "/", headers: req.headersDistinct, body, sourceIp: req.socket.remoteAddress ?? "" };
  }

  function send(res: http.ServerResponse, requestId: string, reply: Reply, close = false) {
    const body = reply.body;
    const headers: http.OutgoingHttpHeaders = {
      "content-type": reply.contentType,
      "content-length": Buffer.byteLength(body),
      "x-amzn-RequestId": requestId,
    };
    if (reply.errorType) headers["x-amzn-ErrorType"] = reply.errorType;
    // While stopping, every answer ends its connection, so close() does not wait on kept-alive clients.
    if (close || stopping) headers.connection = "close";
    res.writeHead(reply.status, headers);
    res.end(body);
  }

  /** A failure outside the pipeline (a bug): still an AWS-shaped answer. */
  function internal(res: http.ServerResponse, requestId: string, err: unknown) {
    logger.error({ reqId: requestId, err: scrub(err) }, "unexpected error");
    if (res.headersSent) return void res.destroy();
    const e = protocolErrors.Internal!;
    send(res, requestId, { status: e.status, contentType: "application/x-amz-json-1.1", errorType: e.type, body: JSON.stringify({ __type: e.type, message: "An internal error occurred." }) }, true);
  }

  function answer(res: http.ServerResponse, requestId: string, reply: Promise<Reply>, close = false) {
    reply.then(
      (r) => send(res, requestId, r, close),
      (err: unknown) => internal(res, requestId, err),
    );
  }

  /** Reads the body up to the limit; past it, the request is answered 413 and its connection closed (the client may still be sending). */
  function readBody(req: http.IncomingMessage, done: (body: Buffer | undefined) => void) {
    const declared = Number(req.headers["content-length"]);
    if (declared > options.bodyLimit) return done(undefined);
    const chunks: Buffer[] = [];
    let length = 0;
    const onData = (chunk: Buffer) => {
      length += chunk.length;
      if (length > options.bodyLimit) {
        req.off("data", onData).off("end", onEnd);
        return done(undefined);
      }
      chunks.push(chunk);
    };
    const onEnd = () => done(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, length));
    req.on("data", onData).on("end", onEnd);
  }

  function onRequest(req: http.IncomingMessage, res: http.ServerResponse) {
    const requestId = randomUUID();
    if (logger.isLevelEnabled("debug")) {
      // The audit trail is the per-request record; this line is for debugging only (docs/performance.md).
      const started = performance.now();
      res.once("finish", () =>
        logger.debug(
          { reqId: requestId, target: req.headersDistinct["x-amz-target"]?.[0]?.slice(0, 128), status: res.statusCode, ms: Math.round((performance.now() - started) * 100) / 100 },
          "request",
        ),
      );
    }
    try {
      const url = req.url ?? "/";
      const q = url.indexOf("?");
      const path = q >= 0 ? url.slice(0, q) : url;
      if (path === "/" && req.method === "POST") {
        readBody(req, (body) => {
          if (body === undefined) return answer(res, requestId, dispatcher.refuse(incoming(req, Buffer.alloc(0)), requestId, tooLarge()), true);
          answer(res, requestId, dispatcher.handle(incoming(req, body), requestId));
        });
        return;
      }
      req.resume();
      if (path === "/health" && (req.method === "GET" || req.method === "HEAD")) {
        return send(res, requestId, { status: 200, contentType: JSON_TYPE, body: HEALTH });
      }
      if (path === "/ready" && (req.method === "GET" || req.method === "HEAD")) {
        // A node whose store, audit trail or master key fails can serve nothing: a load balancer should skip it.
        return void readiness().then(
          (reason) => send(res, requestId, reason === undefined ? { status: 200, contentType: JSON_TYPE, body: READY } : { status: 503, contentType: JSON_TYPE, body: notReady(reason) }),
          (err: unknown) => internal(res, requestId, err),
        );
      }
      if (path === "/metrics" && options.metrics && (req.method === "GET" || req.method === "HEAD")) {
        // Aggregates only (counts, latencies, process figures): no name, value, ARN or account in any label.
        return answer(res, requestId, options.metrics().then((m) => ({ status: 200, contentType: m.contentType, body: m.body })));
      }
      if (consoleFiles.serve(req, res, path, requestId)) return;
      const err = new CofferError("UnknownOperation", `No operation is served at ${req.method} ${url}.`);
      answer(res, requestId, dispatcher.refuse(incoming(req, Buffer.alloc(0)), requestId, err, "json"));
    } catch (err) {
      internal(res, requestId, err);
    }
  }

  const base = listenerOptions(options.timeouts);
  const server: http.Server = options.https ? https.createServer({ ...base, ...options.https }, onRequest) : http.createServer(base, onRequest);
  applyListenerTimeouts(server, options.timeouts);
  return {
    server,
    listen({ host, port }) {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          resolve();
        });
      });
    },
    close() {
      stopping = true;
      return new Promise((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        // Kept-alive connections between requests would hold close() open; in-flight ones finish and then close.
        server.closeIdleConnections();
      });
    },
  };
}
