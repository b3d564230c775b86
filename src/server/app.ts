import { randomUUID } from "node:crypto";
import http from "node:http";
import https from "node:https";
import { createFailureLimiter, type FailureLimit } from "./failure-limiter.ts";
import { applyListenerTimeouts, listenerOptions, type ListenerTimeouts } from "../shared/listener-timeouts.ts";
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Logger } from "pino";
import type { OperationSpec } from "../shared/shape-types.ts";
import { validateInput } from "../api/validate.ts";
import { CofferError, type ErrorCode } from "../shared/errors.ts";
import type { Credential } from "../services/identity/identity-types.ts";
import { decodeInput, parseJsonBody, serializeError, serializeOutput } from "./protocols/aws-json.ts";
import { decodeQueryInput, parseQueryBody, serializeQueryError, serializeQueryOutput } from "./protocols/aws-query.ts";
import { authenticate, signedTarget, type CredentialLookup } from "./authenticate.ts";
import type { RequestFacts } from "../audit/audit-event.ts";
import type { RequestAuditor } from "../audit/audit-service.ts";
import type { ApiService, RequestContext } from "../api/api-service.ts";
import { protocolErrors, queryProtocolErrors } from "../api/api-errors.ts";

// Moved down a layer (audit/, api/); re-exported so that importers of this module keep working.
export type { RequestAuditor } from "../audit/audit-service.ts";
export type { ApiService, Handler, RequestContext } from "../api/api-service.ts";
export { errorMapper, protocolErrors, queryProtocolErrors } from "../api/api-errors.ts";

export interface ServerOptions {
  logger: Logger;
  /** Without one, nothing is audited (benchmarks only). */
  auditor?: RequestAuditor;
  /** The account that sees events of unauthenticated requests. */
  defaultAccountId: string;
  services: ApiService[];
  lookupCredential: CredentialLookup;
  region: string;
  clock: { now(): number };
  bodyLimit: number;
  https?: { key: string | Buffer; cert: string | Buffer };
  /** Slow or idle clients are cut off after these (defaults: DEFAULT_LISTENER_TIMEOUTS). */
  timeouts?: Partial<ListenerTimeouts>;
  /** Failed unauthenticated requests per source address before they are throttled (default 200, then 20/s). */
  authFailureLimit?: FailureLimit;
}

function isForm(request: FastifyRequest): boolean {
  return (request.headers["content-type"] ?? "").toLowerCase().startsWith("application/x-www-form-urlencoded");
}

const JSON_CONTENT_TYPES = new Set(["application/x-amz-json-1.1", "application/x-amz-json-1.0", "application/json"]);

/**
 * The request lifecycle (docs/architecture.md): request id -> body limit ->
 * route by X-Amz-Target -> SigV4 -> parse and validate -> handler (which
 * authorises) -> serialise. Every failure is an AWS-shaped error.
 */
export function createServer(options: ServerOptions): FastifyInstance {
  const { logger } = options;
  const app = Fastify({
    loggerInstance: logger,
    // One log line per request (onResponse below) instead of fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit,
    genReqId: () => randomUUID(),
    forceCloseConnections: "idle",
    // Our own server, so that header, request and idle timeouts (and node's
    // checking interval, a constructor-only option) are ours: slowloris clients
    // are cut off (issue 12 item 12).
    serverFactory: (handler) => {
      const base = listenerOptions(options.timeouts);
      const server = options.https ? https.createServer({ ...base, ...options.https }, handler) : http.createServer(base, handler);
      applyListenerTimeouts(server, options.timeouts);
      return server;
    },
  }) as unknown as FastifyInstance;

  // By X-Amz-Target prefix; a dotted prefix (CloudTrail's) is also accepted by its last part, as the SDKs send it.
  const byPrefix = new Map<string, ApiService>();
  for (const s of options.services.filter((s) => s.metadata.targetPrefix)) {
    const prefix = s.metadata.targetPrefix!;
    byPrefix.set(prefix, s);
    byPrefix.set(prefix.slice(prefix.lastIndexOf(".") + 1), s);
  }

  // Every body is read raw: SigV4 hashes the exact bytes, and the codec parses them itself.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));

  const failures = createFailureLimiter(options.authFailureLimit ?? { burst: 200, ratePerSecond: 20 }, options.clock);

  app.addHook("onSend", async (request, reply) => {
    reply.header("x-amzn-RequestId", request.id);
  });
  app.addHook("onResponse", async (request, reply) => {
    request.log.info(
      {
        target: String(request.headers["x-amz-target"] ?? "").slice(0, 128) || undefined,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 100) / 100,
      },
      "request",
    );
  });

  const queryServices = options.services.filter((s) => s.metadata.protocol === "query");

  interface Reply {
    status: number;
    contentType: string;
    body: Buffer;
    errorType?: string;
  }

  /** The wire form of an error, in the protocol the request spoke; records the error in `facts`. */
  function errorReply(facts: RequestFacts, service: ApiService | undefined, err: unknown, query: boolean): Reply {
    let code: ErrorCode = "Internal";
    let message = "An internal error occurred.";
    if (err instanceof CofferError) {
      code = err.code;
      message = err.message;
    } else if (isFastifyTooLarge(err)) {
      code = "PayloadTooLarge";
      message = `The request body is larger than the limit of ${options.bodyLimit} bytes.`;
    } else {
      options.logger.error({ reqId: facts.requestId, err: scrub(err) }, "unexpected error");
    }
    const table = query ? queryProtocolErrors : protocolErrors;
    const mapped = service?.errorFor(code) ?? table[code] ?? table.Internal!;
    facts.error = { code: mapped.type, message };
    if (query) {
      const ns = service?.metadata.xmlNamespace ?? "https://iam.amazonaws.com/doc/2010-05-08/";
      const type = mapped.status >= 500 ? "Receiver" : "Sender";
      return { status: mapped.status, contentType: "text/xml", body: Buffer.from(serializeQueryError(ns, type, mapped.type, message, facts.requestId)) };
    }
    return {
      status: mapped.status,
      contentType: "application/x-amz-json-1.1",
      errorType: mapped.type,
      body: Buffer.from(serializeError(mapped.type, message)),
    };
  }

  function factsOf(request: FastifyRequest): RequestFacts {
    const claimed = /Credential=([^/,\s]+)\//.exec(String(request.headers.authorization ?? ""));
    const target = request.headers["x-amz-target"];
    return {
      requestId: request.id,
      time: options.clock.now(),
      service: typeof target === "string" ? target.slice(0, target.lastIndexOf(".")) : "unknown",
      operation: typeof target === "string" ? target.slice(target.lastIndexOf(".") + 1) : "unknown",
      region: options.region,
      defaultAccountId: options.defaultAccountId,
      sourceIp: request.ip,
      userAgent: String(request.headers["user-agent"] ?? ""),
      claimedAccessKeyId: claimed?.[1],
    };
  }

  /**
   * Records the request's event, then answers. If the event cannot be
   * written the caller gets an error instead (fail closed).
   */
  async function finish(
    reply: FastifyReply,
    facts: RequestFacts,
    response: Reply,
    query: boolean,
    service: ApiService | undefined,
  ) {
    if (!facts.principal && facts.error) {
      const verdict = failures.fail(facts.sourceIp);
      if (verdict.throttled) {
        if (verdict.summarize) await recordSummary(facts, verdict.summarize);
        return send(reply, throttledReply(facts, query, service));
      }
    }
    if (options.auditor) {
      try {
        await options.auditor.record(facts);
      } catch (err) {
        options.logger.error({ reqId: facts.requestId, err: scrub(err) }, "audit write failed; request refused");
        response = errorReply(facts, service, new CofferError("Internal", "The request could not be recorded in the audit trail."), query);
      }
    }
    return send(reply, response);
  }

  function send(reply: FastifyReply, response: Reply) {
    if (response.errorType) reply.header("x-amzn-ErrorType", response.errorType);
    reply.code(response.status).header("content-type", response.contentType).send(response.body);
    return reply;
  }

  /** A failing source over its limit: AWS's throttling answer, in the request's protocol. */
  function throttledReply(facts: RequestFacts, query: boolean, service: ApiService | undefined): Reply {
    const message = "Rate exceeded: too many failed requests from this address.";
    if (query) {
      const ns = service?.metadata.xmlNamespace ?? "https://iam.amazonaws.com/doc/2010-05-08/";
      return { status: 400, contentType: "text/xml", body: Buffer.from(serializeQueryError(ns, "Sender", "Throttling", message, facts.requestId)) };
    }
    return { status: 400, contentType: "application/x-amz-json-1.1", errorType: "ThrottlingException", body: Buffer.from(serializeError("ThrottlingException", message)) };
  }

  /** One event standing for the failed requests a source sent past its limit (they are not recorded one by one). */
  async function recordSummary(facts: RequestFacts, summary: { source: string; count: number }) {
    if (!options.auditor) return;
    const from = summary.source === "*" ? "many addresses" : summary.source;
    try {
      await options.auditor.record({
        requestId: randomUUID(),
        time: facts.time,
        service: "coffer",
        operation: "UnauthenticatedRequestsThrottled",
        region: options.region,
        defaultAccountId: options.defaultAccountId,
        sourceIp: summary.source === "*" ? facts.sourceIp : summary.source,
        userAgent: "",
        error: {
          code: "ThrottlingException",
          message: `${summary.count} failed unauthenticated request${summary.count === 1 ? "" : "s"} from ${from} answered ThrottlingException and not recorded one by one (this one included).`,
        },
      });
    } catch (err) {
      // The throttled request fails either way; the next summary carries on counting.
      options.logger.error({ reqId: facts.requestId, err: scrub(err) }, "audit write of a throttling summary failed");
    }
  }

  app.setErrorHandler(async (err, request, reply) => {
    const facts = factsOf(request);
    const service = jsonServiceOf(request);
    return finish(reply, facts, errorReply(facts, service, err, isForm(request)), isForm(request), service);
  });
  app.setNotFoundHandler(async (request, reply) => {
    const facts = factsOf(request);
    const err = new CofferError("UnknownOperation", `No operation is served at ${request.method} ${request.url}.`);
    return finish(reply, facts, errorReply(facts, undefined, err, false), false, undefined);
  });

  function jsonServiceOf(request: FastifyRequest): ApiService | undefined {
    const target = request.headers["x-amz-target"];
    return typeof target === "string" ? byPrefix.get(target.slice(0, target.lastIndexOf("."))) : undefined;
  }

  /** Query-protocol services share one endpoint: the signature's scope names the service, else the Action does. */
  function queryServiceOf(request: FastifyRequest, action: string): ApiService | undefined {
    const scope = /Credential=[^/,\s]+\/\d{8}\/[^/]+\/([^/]+)\//.exec(String(request.headers.authorization ?? ""));
    if (scope) return queryServices.find((s) => s.metadata.signingName === scope[1]);
    return queryServices.find((s) => Object.hasOwn(s.operations, action));
  }

  /** Authenticates, decodes, writes the intent of a mutating request, and runs the handler. */
  async function run(
    request: FastifyRequest,
    facts: RequestFacts,
    service: ApiService,
    operation: string,
    body: Buffer,
    decode: (spec: OperationSpec) => unknown,
  ): Promise<{ spec: OperationSpec; output: unknown }> {
    const spec = service.operations[operation];
    Object.assign(facts, { service: service.metadata.signingName, operation, shapes: service.shapes, spec });
    const credential: Credential = await authenticate(
      rawRequest(request, body),
      { service: service.metadata.signingName, region: options.region, now: options.clock.now(), lookup: options.lookupCredential },
    );
    const ctx: RequestContext = {
      requestId: request.id,
      sourceIp: request.ip,
      userAgent: facts.userAgent,
      secureTransport: Boolean(options.https),
    };
    const principal = { ...credential.principal, sourceIp: ctx.sourceIp, secureTransport: ctx.secureTransport };
    facts.principal = principal;
    const handler = service.handlers[operation];
    if (!handler) throw new CofferError("UnknownOperation", `The operation ${operation} is not yet supported by Coffer.`);
    facts.input = decode(spec);
    if (options.auditor && !spec.readOnly) {
      await options.auditor.intent(facts).catch(() => {
        throw new CofferError("Internal", "The request could not be recorded in the audit trail, so it was not carried out.");
      });
    }
    const output = await handler(principal, facts.input, ctx);
    facts.output = output;
    return { spec, output };
  }

  app.get("/health", async () => ({ status: "ok" }));

  app.post("/", async (request, reply) => {
    const body = (request.body as Buffer | undefined) ?? Buffer.alloc(0);
    const facts = factsOf(request);
    if (isForm(request)) {
      let service: ApiService | undefined;
      let response: Reply;
      try {
        const params = parseQueryBody(body);
        const action = params.get("Action") ?? "";
        facts.operation = action || "unknown";
        service = queryServiceOf(request, action);
        if (service) facts.service = service.metadata.signingName;
        if (!service || !Object.hasOwn(service.operations, action)) {
          throw new CofferError("UnknownOperation", `Could not find operation ${action || "(no Action)"}.`);
        }
        const { spec, output } = await run(request, facts, service, action, body, (spec) => {
          if (!spec.input) return {};
          const raw = decodeQueryInput(service!.shapes, spec.input, params);
          validateInput(service!.shapes, spec.input, raw);
          return decodeInput(service!.shapes, spec.input, raw);
        });
        const ns = service.metadata.xmlNamespace ?? "";
        response = {
          status: 200,
          contentType: "text/xml",
          body: Buffer.from(serializeQueryOutput(service.shapes, action, spec, ns, output, request.id)),
        };
      } catch (err) {
        response = errorReply(facts, service, err, true);
      }
      return finish(reply, facts, response, true, service);
    }

    let service: ApiService | undefined;
    let response: Reply;
    try {
      // Routing follows only what the signature covers (see signedTarget).
      const target = signedTarget(rawRequest(request, body));
      service = typeof target === "string" ? byPrefix.get(target.slice(0, target.lastIndexOf("."))) : undefined;
      const operation = typeof target === "string" ? target.slice(target.lastIndexOf(".") + 1) : "";
      if (!service || !Object.hasOwn(service.operations, operation)) {
        throw new CofferError("UnknownOperation", `The operation ${(target ?? "(no X-Amz-Target)").slice(0, 256)} is not known.`);
      }
      const contentType = (request.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
      if (!JSON_CONTENT_TYPES.has(contentType)) {
        throw new CofferError(
          "Serialization",
          `Unsupported Content-Type "${contentType}": send application/x-amz-json-${service.metadata.jsonVersion ?? "1.1"}.`,
        );
      }
      const json = service;
      const { spec, output } = await run(request, facts, json, operation, body, (spec) => {
        const raw = parseJsonBody(body);
        if (!spec.input) return {};
        validateInput(json.shapes, spec.input, raw);
        return decodeInput(json.shapes, spec.input, raw);
      });
      response = {
        status: 200,
        contentType: `application/x-amz-json-${json.metadata.jsonVersion ?? "1.1"}`,
        body: Buffer.from(serializeOutput(json.shapes, spec.output, output)),
      };
    } catch (err) {
      response = errorReply(facts, service, err, false);
    }
    return finish(reply, facts, response, false, service);
  });

  return app;
}

function rawRequest(request: FastifyRequest, body: Buffer) {
  return { method: request.method, url: request.raw.url ?? "/", headers: request.raw.headersDistinct, body };
}

function isFastifyTooLarge(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { code?: string }).code === "FST_ERR_CTP_BODY_TOO_LARGE";
}

/** Unexpected errors are logged by name, message and stack only: never a request body or a value. */
function scrub(err: unknown): { name?: string; message?: string; stack?: string } {
  if (err instanceof Error) return { name: err.name, message: err.message, stack: err.stack };
  return { message: String(err) };
}
