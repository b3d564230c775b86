import type { IncomingMessage } from "node:http";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP } from "node:net";
import { rootCertificates } from "node:tls";
import { blockedAddress, guardedLookup, hostOf, reasonOf, type Resolver, WebhookError } from "../webhook/webhook-client.ts";
import type { WebhookNetworks } from "../webhook/webhook-networks.ts";

/**
 * The one outbound request an OIDC issuer gets: a GET of a small JSON document (the discovery
 * document, the key set), guarded like webhooks (webhook-client.ts), since a tenant chooses the
 * issuer URL: every address the host resolves to must be allowed (oidcAllowedNetworks; loopback,
 * private, link-local and metadata addresses are refused otherwise) and the socket connects to
 * the address checked; https only unless the operator allows http (tests); redirects are not
 * followed; the exchange is bounded in time and size. Failures are short fixed reasons, never
 * the body.
 */

export class OidcFetchError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = "OidcFetchError";
  }
}

export interface OidcHttpOptions {
  networks: WebhookNetworks;
  allowHttp: boolean;
  /** Extra CA certificates (PEM) trusted for issuers, beside the system's (e.g. a Kubernetes cluster CA). */
  ca?: string;
  timeoutMs?: number;
  maxBytes?: number;
  resolver?: Resolver;
}

export type FetchJson = (url: string) => Promise<unknown>;

const SETTING = "oidcAllowedNetworks";

export function createOidcHttp({ networks, allowHttp, ca, timeoutMs = 5000, maxBytes = 256 * 1024, resolver }: OidcHttpOptions): FetchJson {
  const lookup = guardedLookup(networks, resolver, SETTING);
  const caList = ca ? [...(ca.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [])] : undefined;
  return (url) =>
    new Promise<unknown>((resolve, reject) => {
      let target: URL;
      try {
        target = new URL(url);
      } catch {
        return reject(new OidcFetchError("the URL is not valid"));
      }
      if (target.protocol !== "https:" && !(allowHttp && target.protocol === "http:")) {
        return reject(new OidcFetchError("the URL is not https"));
      }
      const host = hostOf(url);
      // An IP literal never reaches lookup(): net connects to it directly.
      if (host !== undefined && isIP(host) && !networks.allows(host)) return reject(new OidcFetchError(blockedAddress(host, SETTING).reason));
      const tls = target.protocol === "https:";
      let settled = false;
      const fail = (reason: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        reject(new OidcFetchError(reason));
      };
      const options = {
        method: "GET",
        headers: { accept: "application/json" },
        lookup,
        // A fresh connection each time: a pooled socket would outlive the address check it passed.
        agent: false as const,
        // The operator's CAs are added to the system's, not put in their place.
        ...(tls && caList ? { ca: [...rootCertificates, ...caList] } : {}),
      };
      const req = (tls ? httpsRequest : httpRequest)(target, options);
      const timer = setTimeout(() => fail(`no complete answer within ${timeoutMs} ms`), timeoutMs);
      req.on("error", (err) => fail(err instanceof WebhookError ? err.reason : reasonOf(err)));
      req.on("response", (res: IncomingMessage) => {
        if (res.statusCode !== 200) return fail(`the answer was HTTP ${res.statusCode ?? 0}`);
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) return fail(`the answer is over ${maxBytes} bytes`);
          chunks.push(chunk);
        });
        res.on("error", (err) => fail(reasonOf(err)));
        res.on("end", () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
          } catch {
            reject(new OidcFetchError("the answer is not JSON"));
          }
        });
      });
      req.end();
    });
}
