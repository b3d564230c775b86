import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { RequestFacts } from "../audit/audit-event.ts";
import type { RequestAuditor } from "../audit/audit-service.ts";
import { CofferError, type ErrorCode } from "../shared/errors.ts";
import { StaleEpochError } from "../storage/store.ts";
import type { ApiService, RequestContext } from "../api/api-service.ts";
import { authenticate, type CredentialLookup } from "./authenticate.ts";
import { createFailureLimiter, type FailureLimit } from "./failure-limiter.ts";
import type { ProtocolCodec, Reply, Route } from "./protocols/codec.ts";
import { jsonCodec } from "./protocols/json-codec.ts";
import { THROTTLED } from "../api/api-errors.ts";
import { queryCodec } from "./protocols/query-codec.ts";
import { parseRequest, type IncomingRequest, type ParsedRequest } from "./request-context.ts";

export interface DispatchOptions {
  logger: Logger;
  /** Without one, nothing is audited (benchmarks only). */
  auditor?: RequestAuditor;
  /** The account that sees events of unauthenticated requests. */
  defaultAccountId: string;
  services: ApiService[];
  lookupCredential: CredentialLookup;
  region: string;
  clock: { now(): number };
  secureTransport: boolean;
  /** Failed unauthenticated requests per source address before they are throttled (default 200, then 20/s). */
  authFailureLimit?: FailureLimit;
  /** Brings this node up to date with writes other nodes acknowledged (a shared database), before the request reads anything. */
  sync?: () => Promise<void>;
  /**
   * With sync and an audit writer that checks epochs (Store.epoch): read-only requests skip the sync,
   * read memory at this epoch, and have their audit record prove nothing changed since; if something
   * did, nothing is recorded and the request runs again, syncing first.
   */
  epoch?: () => string | undefined;
  /**
   * Told of every answered request (metrics): the service's signing name and
   * the operation only when the request named a known one ("unknown"
   * otherwise, so nothing a client sends becomes a label), the status, the
   * AWS error name ("" on success), and seconds from parse to answer.
   */
  onAnswered?: (service: string, operation: string, status: number, error: string, seconds: number) => void;
}

export interface Dispatcher {
  /** Runs one API request (a POST to /) to its answer, audited. */
  handle(incoming: IncomingRequest, requestId: string): Promise<Reply>;
  /**
   * Answers a request refused before it could run (no such path, body too
   * large) with `err`, in the protocol it spoke, audited like any refusal.
   * `protocol: "json"` forces AWS JSON (a path that is no API has no protocol).
   */
  refuse(incoming: IncomingRequest, requestId: string, err: CofferError, protocol?: "json"): Promise<Reply>;
}

const FORM = "application/x-www-form-urlencoded";

/**
 * The one request pipeline (docs/architecture.md): parse once -> route (the
 * codec) -> SigV4 -> decode and validate -> intent (writes) -> handler (which
 * authorises) -> encode -> audit record -> answer. Both protocols run through
 * it the same way; every failure is an AWS-shaped error in the request's protocol.
 */
export function createDispatcher(options: DispatchOptions): Dispatcher {
  const { logger, auditor } = options;
  const json = jsonCodec(options.services);
  const query = queryCodec(options.services);
  const failures = createFailureLimiter(options.authFailureLimit ?? { burst: 200, ratePerSecond: 20 }, options.clock);
  const byTarget = new Map<string, ApiService>();
  for (const s of options.services.filter((s) => s.metadata.targetPrefix)) {
    const prefix = s.metadata.targetPrefix!;
    byTarget.set(prefix, s);
    byTarget.set(prefix.slice(prefix.lastIndexOf(".") + 1), s);
  }

  const codecOf = (req: ParsedRequest): ProtocolCodec => (req.contentType.startsWith(FORM) ? query : json);

  function factsOf(req: ParsedRequest): RequestFacts {
    const target = req.targetHeader;
    return {
      requestId: req.requestId,
      time: options.clock.now(),
      service: target !== undefined ? target.slice(0, target.lastIndexOf(".")) : "unknown",
      operation: target !== undefined ? target.slice(target.lastIndexOf(".") + 1) : "unknown",
      region: options.region,
      defaultAccountId: options.defaultAccountId,
      sourceIp: req.sourceIp,
      userAgent: req.userAgent,
      claimedAccessKeyId: req.claimedAccessKeyId,
    };
  }

  /** The wire form of an error, in the request's protocol; records the error in `facts`. */
  function errorReply(req: ParsedRequest, codec: ProtocolCodec, facts: RequestFacts, service: ApiService | undefined, err: unknown): Reply {
    let code: ErrorCode = "Internal";
    let message = "An internal error occurred.";
    if (err instanceof CofferError) {
      code = err.code;
      message = err.message;
    } else {
      logger.error({ reqId: facts.requestId, err: scrub(err) }, "unexpected error");
    }
    const mapped = service?.errorFor(code) ?? codec.errors[code] ?? codec.errors.Internal!;
    facts.error = { code: mapped.type, message };
    return codec.encodeError(req, service, mapped, message);
  }

  /** Authenticates, decodes, writes the intent of a mutating request, runs the handler and encodes its result. */
  async function run(req: ParsedRequest, codec: ProtocolCodec, facts: RequestFacts, route: Route, optimistic: boolean): Promise<Reply> {
    const service = route.service!;
    const spec = route.spec!;
    const { operation } = route;
    facts.service = service.metadata.signingName;
    facts.operation = operation;
    facts.shapes = service.shapes;
    facts.spec = spec;
    const epoch = optimistic && spec.readOnly ? options.epoch?.() : undefined;
    if (epoch !== undefined) {
      facts.validAt = epoch;
    } else if (options.sync) {
      await options.sync().catch((err: unknown) => {
        logger.error({ reqId: facts.requestId, err: scrub(err) }, "could not reach the database to check for changes; request refused");
        throw new CofferError("Internal", "The request could not be served: the database is unreachable.");
      });
    }
    const ctx: RequestContext = { requestId: req.requestId, sourceIp: req.sourceIp, userAgent: req.userAgent, secureTransport: options.secureTransport };
    // Unsigned by the model (AssumeRoleWithWebIdentity): any signature is ignored, the input is the proof.
    if (spec.noAuth) {
      const publicHandler = service.publicHandlers?.[operation];
      if (!publicHandler) throw new CofferError("UnknownOperation", `The operation ${operation} is not yet supported by Coffer.`);
      facts.input = codec.decode(req, service, spec);
      if (auditor && !spec.readOnly) {
        await auditor.intent(facts).catch(() => {
          throw new CofferError("Internal", "The request could not be recorded in the audit trail, so it was not carried out.");
        });
      }
      const output = await publicHandler(facts.input, { ...ctx, identify: (who) => (facts.federated = who) });
      facts.output = output;
      return codec.encodeResult(req, service, operation, spec, output);
    }
    const credential = await authenticate(req, {
      service: service.metadata.signingName,
      region: options.region,
      now: options.clock.now(),
      lookup: options.lookupCredential,
    });
    const principal = { ...credential.principal, sourceIp: ctx.sourceIp, secureTransport: ctx.secureTransport };
    facts.principal = principal;
    const handler = service.handlers[operation];
    if (!handler) throw new CofferError("UnknownOperation", `The operation ${operation} is not yet supported by Coffer.`);
    facts.input = codec.decode(req, service, spec);
    if (auditor && !spec.readOnly) {
      await auditor.intent(facts).catch(() => {
        throw new CofferError("Internal", "The request could not be recorded in the audit trail, so it was not carried out.");
      });
    }
    const output = await handler(principal, facts.input, ctx);
    facts.output = output;
    return codec.encodeResult(req, service, operation, spec, output);
  }

  /**
   * Records the request's event, then answers. If the event cannot be
   * written the caller gets an error instead (fail closed).
   */
  async function finish(req: ParsedRequest, codec: ProtocolCodec, facts: RequestFacts, reply: Reply, service: ApiService | undefined): Promise<Reply> {
    if (!facts.principal && !facts.federated && facts.error) {
      const verdict = failures.fail(facts.sourceIp);
      if (verdict.throttled) {
        if (verdict.summarize) await recordSummary(facts, verdict.summarize);
        const message = "Rate exceeded: too many failed requests from this address.";
        facts.error = { code: THROTTLED[codec.name].type, message };
        return codec.encodeError(req, service, THROTTLED[codec.name], message);
      }
    }
    if (auditor) {
      try {
        await auditor.record(facts);
      } catch (err) {
        if (err instanceof StaleEpochError) throw err;
        logger.error({ reqId: facts.requestId, err: scrub(err) }, "audit write failed; request refused");
        reply = errorReply(req, codec, facts, service, new CofferError("Internal", "The request could not be recorded in the audit trail."));
      }
    }
    return reply;
  }

  /** One event standing for the failed requests a source sent past its limit (they are not recorded one by one). */
  async function recordSummary(facts: RequestFacts, summary: { source: string; count: number }) {
    if (!auditor) return;
    const from = summary.source === "*" ? "many addresses" : summary.source;
    try {
      await auditor.record({
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
      logger.error({ reqId: facts.requestId, err: scrub(err) }, "audit write of a throttling summary failed");
    }
  }

  /** Metrics: labels only from what the pipeline recognised (a known service, a modelled operation). */
  function answered(started: number, reply: Reply, facts: RequestFacts, service: ApiService | undefined, operation: string | undefined): Reply {
    options.onAnswered?.(
      service?.metadata.signingName ?? "unknown",
      operation ?? "unknown",
      reply.status,
      facts.error?.code ?? "",
      (performance.now() - started) / 1000,
    );
    return reply;
  }

  return {
    async handle(incoming, requestId) {
      // A read that went stale while it ran (another node wrote) is run once more, syncing first.
      const started = performance.now();
      for (let optimistic = options.epoch !== undefined; ; optimistic = false) {
        const req = parseRequest(incoming, requestId);
        const codec = codecOf(req);
        const facts = factsOf(req);
        let service: ApiService | undefined;
        let operation: string | undefined;
        let reply: Reply;
        try {
          const route = codec.route(req, facts);
          service = route.service;
          if (route.spec) operation = route.operation;
          if (route.refusal) throw route.refusal;
          reply = await run(req, codec, facts, route, optimistic);
        } catch (err) {
          reply = errorReply(req, codec, facts, service, err);
        }
        try {
          return answered(started, await finish(req, codec, facts, reply, service), facts, service, operation);
        } catch (err) {
          if (!(err instanceof StaleEpochError) || !optimistic) throw err;
        }
      }
    },

    async refuse(incoming, requestId, err, protocol) {
      const started = performance.now();
      const req = parseRequest(incoming, requestId);
      const codec = protocol === "json" ? json : codecOf(req);
      const facts = factsOf(req);
      const target = req.targetHeader;
      const service = protocol === "json" || target === undefined ? undefined : byTarget.get(target.slice(0, target.lastIndexOf(".")));
      return answered(started, await finish(req, codec, facts, errorReply(req, codec, facts, service, err), service), facts, service, undefined);
    },
  };
}

/** Unexpected errors are logged by name, message and stack only: never a request body or a value. */
export function scrub(err: unknown): { name?: string; message?: string; stack?: string } {
  if (err instanceof Error) return { name: err.name, message: err.message, stack: err.stack };
  return { message: String(err) };
}
