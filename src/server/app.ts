import { randomUUID } from "node:crypto";
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Logger } from "pino";
import type { OperationSpec, ServiceMetadata, Shapes } from "../api/shape-types.ts";
import { validateInput } from "../api/validate.ts";
import { CofferError, type ErrorCode } from "../services/errors.ts";
import type { Credential, Principal } from "../services/identity/identity-types.ts";
import { decodeInput, parseJsonBody, serializeError, serializeOutput } from "./protocols/aws-json.ts";
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
  Internal: { type: "InternalFailure", status: 500 },
};

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

  const byPrefix = new Map(options.services.map((s) => [s.metadata.targetPrefix!, s]));

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

  const sendError = (reply: FastifyReply, service: ApiService | undefined, err: unknown) => {
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
    const mapped = service?.errorFor(code) ?? protocolErrors[code] ?? protocolErrors.Internal!;
    reply
      .code(mapped.status)
      .header("content-type", "application/x-amz-json-1.1")
      .header("x-amzn-ErrorType", mapped.type)
      .send(Buffer.from(serializeError(mapped.type, message)));
  };

  app.setErrorHandler((err, request, reply) => {
    sendError(reply, serviceOf(request), err);
  });
  app.setNotFoundHandler((request, reply) => {
    sendError(reply, undefined, new CofferError("UnknownOperation", `No operation is served at ${request.method} ${request.url}.`));
  });

  function serviceOf(request: FastifyRequest): ApiService | undefined {
    const target = request.headers["x-amz-target"];
    return typeof target === "string" ? byPrefix.get(target.slice(0, target.indexOf("."))) : undefined;
  }

  app.get("/health", async () => ({ status: "ok" }));

  app.post("/", async (request, reply) => {
    const target = request.headers["x-amz-target"];
    const service = serviceOf(request);
    const dot = typeof target === "string" ? target.indexOf(".") : -1;
    const operation = dot >= 0 ? (target as string).slice(dot + 1) : "";
    const spec = service && Object.hasOwn(service.operations, operation) ? service.operations[operation] : undefined;
    const handler = spec && service!.handlers[operation];
    try {
      if (!service || !spec) {
        throw new CofferError("UnknownOperation", `The operation ${target ?? "(no X-Amz-Target)"} is not known.`);
      }
      const contentType = (request.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
      if (!JSON_CONTENT_TYPES.has(contentType)) {
        throw new CofferError(
          "Serialization",
          `Unsupported Content-Type "${contentType}": send application/x-amz-json-${service.metadata.jsonVersion ?? "1.1"}.`,
        );
      }
      const body = (request.body as Buffer | undefined) ?? Buffer.alloc(0);
      const credential: Credential = await authenticate(
        { method: request.method, url: request.raw.url ?? "/", headers: request.raw.headersDistinct, body },
        { service: service.metadata.signingName, region: options.region, now: options.clock.now(), lookup: options.lookupCredential },
      );
      if (!handler) {
        throw new CofferError("UnknownOperation", `The operation ${operation} is not yet supported by Coffer.`);
      }
      const raw = parseJsonBody(body);
      if (spec.input) validateInput(service.shapes, spec.input, raw);
      const input = spec.input ? decodeInput(service.shapes, spec.input, raw) : {};
      const ctx: RequestContext = {
        requestId: request.id,
        sourceIp: request.ip,
        userAgent: String(request.headers["user-agent"] ?? ""),
        secureTransport: Boolean(options.https),
      };
      const output = await handler(credential.principal, input, ctx);
      reply.header("content-type", "application/x-amz-json-1.1").send(Buffer.from(serializeOutput(service.shapes, spec.output, output)));
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
