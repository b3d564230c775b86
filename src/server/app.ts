import { randomUUID } from "node:crypto";
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Logger } from "pino";
import type { OperationSpec, ServiceMetadata, Shapes } from "../api/shape-types.ts";
import { validateInput } from "../api/validate.ts";
import { CofferError, type ErrorCode } from "../services/errors.ts";
import type { Credential, Principal } from "../services/identity/identity-types.ts";
import { decodeInput, parseJsonBody, serializeError, serializeOutput } from "./protocols/aws-json.ts";
import { decodeQueryInput, parseQueryBody, serializeQueryError, serializeQueryOutput } from "./protocols/aws-query.ts";
import { authenticate, type CredentialLookup } from "./authenticate.ts";

/** What a handler learns about the request beyond its input. */
export interface RequestContext {
  requestId: string;
  sourceIp: string;
  userAgent: string;
  secureTransport: boolean;
}

export type Handler = (principal: Principal, input: any, ctx: RequestContext) => Promise<unknown>;

/** An AWS service as the server sees it: its model facts, handlers, and how its errors look on the wire. */
export interface ApiService {
  metadata: ServiceMetadata;
  shapes: Shapes;
  operations: Readonly<Record<string, OperationSpec>>;
  handlers: Readonly<Record<string, Handler>>;
  /** AWS error name and HTTP status for each domain error code. */
  errorFor(code: ErrorCode): { type: string; status: number };
}

export interface ServerOptions {
  logger: Logger;
  services: ApiService[];
  lookupCredential: CredentialLookup;
  region: string;
  clock: { now(): number };
  bodyLimit: number;
  https?: { key: string | Buffer; cert: string | Buffer };
}

/** Errors raised before a service is known (auth, protocol) look like this on every AWS JSON service. */
export const protocolErrors: Partial<Record<ErrorCode, { type: string; status: number }>> = {
  MissingAuthenticationToken: { type: "MissingAuthenticationTokenException", status: 400 },
  IncompleteSignature: { type: "IncompleteSignatureException", status: 400 },
  InvalidSignature: { type: "InvalidSignatureException", status: 400 },
  UnrecognizedClient: { type: "UnrecognizedClientException", status: 400 },
  UnknownOperation: { type: "UnknownOperationException", status: 400 },
  Serialization: { type: "SerializationException", status: 400 },
  Validation: { type: "ValidationException", status: 400 },
  PayloadTooLarge: { type: "RequestEntityTooLargeException", status: 413 },
  AccessDenied: { type: "AccessDeniedException", status: 400 },
  ExpiredToken: { type: "ExpiredTokenException", status: 400 },
  Internal: { type: "InternalFailure", status: 500 },
};

/** The same failures on the Query protocol (IAM, STS), as those services name them. */
export const queryProtocolErrors: Partial<Record<ErrorCode, { type: string; status: number }>> = {
  MissingAuthenticationToken: { type: "MissingAuthenticationToken", status: 403 },
  IncompleteSignature: { type: "IncompleteSignature", status: 403 },
  InvalidSignature: { type: "SignatureDoesNotMatch", status: 403 },
  UnrecognizedClient: { type: "InvalidClientTokenId", status: 403 },
  ExpiredToken: { type: "ExpiredToken", status: 403 },
  UnknownOperation: { type: "InvalidAction", status: 400 },
  Serialization: { type: "MalformedInput", status: 400 },
  Validation: { type: "ValidationError", status: 400 },
  PayloadTooLarge: { type: "RequestEntityTooLarge", status: 413 },
  AccessDenied: { type: "AccessDenied", status: 403 },
  Internal: { type: "InternalFailure", status: 500 },
};

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
    ...(options.https ? { https: options.https } : {}),
  }) as unknown as FastifyInstance;

  const byPrefix = new Map(
    options.services.filter((s) => s.metadata.targetPrefix).map((s) => [s.metadata.targetPrefix!, s]),
  );

  // Every body is read raw: SigV4 hashes the exact bytes, and the codec parses them itself.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));

  app.addHook("onSend", async (request, reply) => {
    reply.header("x-amzn-RequestId", request.id);
  });
  app.addHook("onResponse", async (request, reply) => {
    request.log.info(
      {
        target: request.headers["x-amz-target"],
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 100) / 100,
      },
      "request",
    );
  });

  const queryServices = options.services.filter((s) => s.metadata.protocol === "query");

  const sendError = (reply: FastifyReply, service: ApiService | undefined, err: unknown, query = false) => {
    let code: ErrorCode = "Internal";
    let message = "An internal error occurred.";
    if (err instanceof CofferError) {
      code = err.code;
      message = err.message;
    } else if (isFastifyTooLarge(err)) {
      code = "PayloadTooLarge";
      message = `The request body is larger than the limit of ${options.bodyLimit} bytes.`;
    } else {
      reply.request.log.error({ err: scrub(err) }, "unexpected error");
    }
    if (query) {
      const mapped = service?.errorFor(code) ?? queryProtocolErrors[code] ?? queryProtocolErrors.Internal!;
      const ns = service?.metadata.xmlNamespace ?? "https://iam.amazonaws.com/doc/2010-05-08/";
      reply
        .code(mapped.status)
        .header("content-type", "text/xml")
        .send(Buffer.from(serializeQueryError(ns, mapped.status >= 500 ? "Receiver" : "Sender", mapped.type, message, reply.request.id)));
      return;
    }
    const mapped = service?.errorFor(code) ?? protocolErrors[code] ?? protocolErrors.Internal!;
    reply
      .code(mapped.status)
      .header("content-type", "application/x-amz-json-1.1")
      .header("x-amzn-ErrorType", mapped.type)
      .send(Buffer.from(serializeError(mapped.type, message)));
  };

  app.setErrorHandler((err, request, reply) => {
    sendError(reply, jsonServiceOf(request), err, isForm(request));
  });
  app.setNotFoundHandler((request, reply) => {
    sendError(reply, undefined, new CofferError("UnknownOperation", `No operation is served at ${request.method} ${request.url}.`));
  });

  function jsonServiceOf(request: FastifyRequest): ApiService | undefined {
    const target = request.headers["x-amz-target"];
    return typeof target === "string" ? byPrefix.get(target.slice(0, target.indexOf("."))) : undefined;
  }

  /** Query-protocol services share one endpoint: the signature's scope names the service, else the Action does. */
  function queryServiceOf(request: FastifyRequest, action: string): ApiService | undefined {
    const scope = /Credential=[^/,\s]+\/\d{8}\/[^/]+\/([^/]+)\//.exec(String(request.headers.authorization ?? ""));
    if (scope) return queryServices.find((s) => s.metadata.signingName === scope[1]);
    return queryServices.find((s) => Object.hasOwn(s.operations, action));
  }

  async function run(
    request: FastifyRequest,
    service: ApiService,
    operation: string,
    body: Buffer,
    decode: (spec: OperationSpec) => unknown,
  ): Promise<{ spec: OperationSpec; output: unknown }> {
    const spec = service.operations[operation];
    const credential: Credential = await authenticate(
      { method: request.method, url: request.raw.url ?? "/", headers: request.raw.headersDistinct, body },
      { service: service.metadata.signingName, region: options.region, now: options.clock.now(), lookup: options.lookupCredential },
    );
    const handler = service.handlers[operation];
    if (!handler) throw new CofferError("UnknownOperation", `The operation ${operation} is not yet supported by Coffer.`);
    const input = decode(spec);
    const ctx: RequestContext = {
      requestId: request.id,
      sourceIp: request.ip,
      userAgent: String(request.headers["user-agent"] ?? ""),
      secureTransport: Boolean(options.https),
    };
    const principal = { ...credential.principal, sourceIp: ctx.sourceIp, secureTransport: ctx.secureTransport };
    return { spec, output: await handler(principal, input, ctx) };
  }

  app.get("/health", async () => ({ status: "ok" }));

  app.post("/", async (request, reply) => {
    const body = (request.body as Buffer | undefined) ?? Buffer.alloc(0);
    if (isForm(request)) {
      let service: ApiService | undefined;
      try {
        const params = parseQueryBody(body);
        const action = params.get("Action") ?? "";
        service = queryServiceOf(request, action);
        if (!service || !Object.hasOwn(service.operations, action)) {
          throw new CofferError("UnknownOperation", `Could not find operation ${action || "(no Action)"}.`);
        }
        const { spec, output } = await run(request, service, action, body, (spec) => {
          if (!spec.input) return {};
          const raw = decodeQueryInput(service!.shapes, spec.input, params);
          validateInput(service!.shapes, spec.input, raw);
          return decodeInput(service!.shapes, spec.input, raw);
        });
        const ns = service.metadata.xmlNamespace ?? "";
        reply
          .header("content-type", "text/xml")
          .send(Buffer.from(serializeQueryOutput(service.shapes, action, spec, ns, output, request.id)));
      } catch (err) {
        sendError(reply, service, err, true);
      }
      return reply;
    }

    const target = request.headers["x-amz-target"];
    const service = jsonServiceOf(request);
    const operation = typeof target === "string" ? target.slice(target.indexOf(".") + 1) : "";
    try {
      if (!service || !Object.hasOwn(service.operations, operation)) {
        throw new CofferError("UnknownOperation", `The operation ${target ?? "(no X-Amz-Target)"} is not known.`);
      }
      const contentType = (request.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
      if (!JSON_CONTENT_TYPES.has(contentType)) {
        throw new CofferError(
          "Serialization",
          `Unsupported Content-Type "${contentType}": send application/x-amz-json-${service.metadata.jsonVersion ?? "1.1"}.`,
        );
      }
      const { spec, output } = await run(request, service, operation, body, (spec) => {
        const raw = parseJsonBody(body);
        if (!spec.input) return {};
        validateInput(service.shapes, spec.input, raw);
        return decodeInput(service.shapes, spec.input, raw);
      });
      reply
        .header("content-type", `application/x-amz-json-${service.metadata.jsonVersion ?? "1.1"}`)
        .send(Buffer.from(serializeOutput(service.shapes, spec.output, output)));
    } catch (err) {
      sendError(reply, service, err);
    }
    return reply;
  });

  return app;
}

function isFastifyTooLarge(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { code?: string }).code === "FST_ERR_CTP_BODY_TOO_LARGE";
}

/** Unexpected errors are logged by name, message and stack only: never a request body or a value. */
function scrub(err: unknown): { name?: string; message?: string; stack?: string } {
  if (err instanceof Error) return { name: err.name, message: err.message, stack: err.stack };
  return { message: String(err) };
}
