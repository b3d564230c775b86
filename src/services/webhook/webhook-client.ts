import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP, type LookupFunction } from "node:net";
import type { WebhookNetworks } from "./webhook-networks.ts";

/**
 * One outbound POST to a webhook (rotation functions, alert rules), safe
 * against what a hostile URL or receiver can do:
 * - the address is checked when the connection is made, by the socket's own
 *   lookup (every address a name resolves to must be allowed, and the socket
 *   connects to the address checked: no DNS rebinding between check and use);
 * - redirects are never followed;
 * - the whole exchange is bounded in time, and the response body is read
 *   only to be counted and dropped, up to a cap (it is never kept, logged or
 *   recorded: a receiver could echo secrets or flood);
 * - failures are short fixed reasons, never the URL (it may embed a token) or the body.
 */

export const MAX_RESPONSE_BYTES = 1024 * 1024;

export class WebhookError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = "WebhookError";
  }
}

export interface WebhookPost {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
}

export type Resolver = (hostname: string, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

const systemResolver: Resolver = (hostname, callback) => dnsLookup(hostname, { all: true, verbatim: true }, callback);

export interface WebhookClient {
  /** Resolves to the status code (any); rejects with a WebhookError. */
  post(request: WebhookPost): Promise<number>;
  /** Throws a WebhookError when the URL's host is an IP literal a webhook may not reach (an early, friendly check). */
  checkLiteralHost(url: string): void;
}

/**
 * net's lookup hook for an outbound connection: resolves, refuses if any address is forbidden
 * (naming `setting`, the operator's allow-list), and hands the checked addresses to connect().
 * Shared by every outbound request a tenant can aim (webhooks, OIDC issuers).
 */
export function guardedLookup(networks: WebhookNetworks, resolver: Resolver = systemResolver, setting = "webhookAllowedNetworks"): LookupFunction {
  return (hostname, options, callback) => {
    resolver(hostname, (err, addresses) => {
      if (err) return callback(err, "", 4);
      const family = options.family === 4 || options.family === 6 ? options.family : undefined;
      const usable = addresses.filter((a) => family === undefined || a.family === family);
      const bad = usable.find((a) => !networks.allows(a.address));
      if (bad || usable.length === 0) {
        const e = (bad ? blockedAddress(bad.address, setting) : new WebhookError("the host name has no usable address")) as Error & { code?: string };
        e.code = bad ? "EWEBHOOKBLOCKED" : "ENOTFOUND";
        return callback(e, "", 4);
      }
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, usable);
      callback(null, usable[0].address, usable[0].family);
    });
  };
}

export function blockedAddress(address: string, setting = "webhookAllowedNetworks"): WebhookError {
  return new WebhookError(`the address ${address} is not allowed for ${setting === "webhookAllowedNetworks" ? "webhooks" : "this request"} (an operator can allow it with ${setting})`);
}

export function createWebhookClient(networks: WebhookNetworks, resolver: Resolver = systemResolver): WebhookClient {
  const blocked = (address: string) => blockedAddress(address);

  /** net's lookup hook: resolves, refuses if any address is forbidden, hands the checked addresses to connect(). */
  const lookup: LookupFunction = guardedLookup(networks, resolver);

  function checkLiteralHost(url: string): void {
    const host = hostOf(url);
    if (host !== undefined && isIP(host) && !networks.allows(host)) throw blocked(host);
  }

  return {
    checkLiteralHost,
    post({ url, headers, body, timeoutMs }) {
      return new Promise<number>((resolve, reject) => {
        let target: URL;
        try {
          target = new URL(url);
          if (target.protocol !== "http:" && target.protocol !== "https:") throw new WebhookError("the URL is not http or https");
          // An IP literal never reaches lookup(): net connects to it directly.
          checkLiteralHost(url);
        } catch (err) {
          return reject(err instanceof WebhookError ? err : new WebhookError("the URL is not valid"));
        }
        const send = target.protocol === "https:" ? httpsRequest : httpRequest;
        let settled = false;
        const fail = (reason: WebhookError) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          req.destroy();
          reject(reason);
        };
        const req = send(target, {
          method: "POST",
          headers: { ...headers, "content-length": Buffer.byteLength(body) },
          lookup,
          // A fresh connection each time: a pooled socket would outlive the address check it passed.
          agent: false,
        });
        const timer = setTimeout(() => fail(new WebhookError(`no complete answer within ${timeoutMs} ms`)), timeoutMs);
        req.on("error", (err) => fail(err instanceof WebhookError ? err : new WebhookError(reasonOf(err))));
        req.on("response", (res: IncomingMessage) => {
          let size = 0;
          res.on("data", (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_RESPONSE_BYTES) fail(new WebhookError(`the response body is over ${MAX_RESPONSE_BYTES} bytes`));
          });
          res.on("error", (err) => fail(new WebhookError(reasonOf(err))));
          res.on("end", () => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            resolve(res.statusCode ?? 0);
          });
        });
        req.end(body);
      });
    },
  };
}

export function hostOf(url: string): string | undefined {
  try {
    const host = new URL(url).hostname;
    return host.startsWith("[") ? host.slice(1, -1) : host;
  } catch {
    return undefined;
  }
}

/** A fixed, short reason for a transport failure: an error code, never text from the receiver. */
export function reasonOf(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.code === "string" && e.code.startsWith("HPE_")) return "the receiver's answer is not valid HTTP";
  if (typeof e?.code === "string" && /^[A-Z0-9_]{2,40}$/.test(e.code)) return e.code;
  return "the connection failed";
}
