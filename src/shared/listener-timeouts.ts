import type http from "node:http";

/**
 * How long a connection may take, in milliseconds: `headersMs` to send its
 * request line and headers (a connection that sends nothing is cut off by
 * this too), `requestMs` to send the whole request including the body,
 * `idleMs` between requests on a kept-alive connection. Node checks the first
 * two every `checkMs`, so a slowloris client is gone after at most
 * `requestMs + checkMs`.
 */
export interface ListenerTimeouts {
  headersMs: number;
  requestMs: number;
  idleMs: number;
}

export const DEFAULT_LISTENER_TIMEOUTS: ListenerTimeouts = { headersMs: 10_000, requestMs: 30_000, idleMs: 5_000 };

/** Node's server options for `timeouts`: the checking interval follows the shortest timeout, at most 1 s. */
export function listenerOptions(timeouts: Partial<ListenerTimeouts> = {}): http.ServerOptions {
  const t = { ...DEFAULT_LISTENER_TIMEOUTS, ...timeouts };
  return {
    headersTimeout: t.headersMs,
    requestTimeout: t.requestMs,
    keepAliveTimeout: t.idleMs,
    connectionsCheckingInterval: Math.max(20, Math.min(1000, Math.floor(Math.min(t.headersMs, t.requestMs) / 4))),
  };
}

/** Applies the timeouts as properties too (older node versions ignore some constructor options). */
export function applyListenerTimeouts(server: http.Server, timeouts: Partial<ListenerTimeouts> = {}): void {
  const o = listenerOptions(timeouts);
  server.headersTimeout = o.headersTimeout!;
  server.requestTimeout = o.requestTimeout!;
  server.keepAliveTimeout = o.keepAliveTimeout!;
}
