import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";

/**
 * The console's only way to the server: the public AWS APIs on this same
 * origin, each request signed with SigV4 in the browser (@smithy/signature-v4,
 * the AWS SDK v3's own signer), so the server authorises and audits it
 * exactly as one from the SDK. The pure-JS SHA-256 works on plain HTTP too,
 * where the browser offers no WebCrypto.
 */

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** An error the API answered with: AWS's name and message, shown as they are. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

const JSON_SERVICES = {
  secretsmanager: { signing: "secretsmanager", prefix: "secretsmanager" },
  ssm: { signing: "ssm", prefix: "AmazonSSM" },
  cloudtrail: { signing: "cloudtrail", prefix: "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101" },
  coffer: { signing: "coffer", prefix: "Coffer" },
} as const;

const QUERY_SERVICES = { iam: "2010-05-08", sts: "2011-06-15" } as const;

/** The region the server serves, written into index.html by the server. */
export function serverRegion(): string {
  const meta = document.querySelector<HTMLMetaElement>('meta[name="coffer-region"]');
  const region = meta?.content ?? "";
  return region && !region.includes("%") ? region : "us-east-1";
}

/** The APIs' JSON answers, read field by field as AWS documents them (the console carries no generated types: bundle size). */
export type Json = Record<string, any>;

export interface Api {
  json(service: keyof typeof JSON_SERVICES, operation: string, input?: Json): Promise<Json>;
  query(service: keyof typeof QUERY_SERVICES, action: string, params?: Record<string, string>): Promise<Document>;
}

export function createApi(credentials: Credentials, region = serverRegion()): Api {
  const signers = new Map<string, SignatureV4>();
  const signerFor = (service: string) => {
    let s = signers.get(service);
    if (!s) signers.set(service, (s = new SignatureV4({ credentials, region, service, sha256: Sha256 })));
    return s;
  };

  async function send(service: string, headers: Record<string, string>, body: string): Promise<Response> {
    const { protocol, hostname, port, host } = window.location;
    const signed = await signerFor(service).sign({
      method: "POST",
      protocol,
      hostname,
      port: port ? Number(port) : undefined,
      path: "/",
      query: {},
      headers: { ...headers, host },
      body,
    });
    const sent: Record<string, string> = {};
    // The browser sets Host itself (the same value, signed above).
    for (const [k, v] of Object.entries(signed.headers)) if (k.toLowerCase() !== "host") sent[k] = v;
    try {
      return await fetch("/", { method: "POST", headers: sent, body, credentials: "omit", cache: "no-store", redirect: "error" });
    } catch (err) {
      throw new ApiError("NetworkError", `The server could not be reached (${(err as Error).message}).`, 0);
    }
  }

  return {
    async json(service, operation, input = {}) {
      const s = JSON_SERVICES[service];
      const res = await send(s.signing, { "content-type": "application/x-amz-json-1.1", "x-amz-target": `${s.prefix}.${operation}` }, JSON.stringify(input));
      const text = await res.text();
      let body: Json = {};
      try {
        body = text ? (JSON.parse(text) as Json) : {};
      } catch {
        // not JSON: reported below by status
      }
      if (!res.ok) {
        const type = String(body.__type ?? res.headers.get("x-amzn-ErrorType") ?? `HTTP ${res.status}`);
        throw new ApiError(type.slice(type.lastIndexOf("#") + 1).split(":")[0], String(body.message ?? body.Message ?? text ?? ""), res.status);
      }
      return body;
    },
    async query(service, action, params = {}) {
      const form = new URLSearchParams({ Action: action, Version: QUERY_SERVICES[service], ...params });
      const res = await send(service, { "content-type": "application/x-www-form-urlencoded; charset=utf-8" }, form.toString());
      const doc = new DOMParser().parseFromString(await res.text(), "application/xml");
      if (!res.ok) {
        throw new ApiError(text(doc, "Code") || `HTTP ${res.status}`, text(doc, "Message"), res.status);
      }
      return doc;
    },
  };
}

/** The text of the first element named `tag` under `node`, "" when none. */
export function text(node: Document | Element, tag: string): string {
  return node.getElementsByTagName(tag)[0]?.textContent ?? "";
}

/** The `member` elements of the first list named `tag`. */
export function members(node: Document | Element, tag: string): Element[] {
  const list = node.getElementsByTagName(tag)[0];
  return list ? Array.from(list.children).filter((c) => c.tagName === "member") : [];
}

/** An API error as words: AWS's name and message (a denial names the missing permission). */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) return err.message ? `${err.code}: ${err.message}` : err.code;
  return err instanceof Error ? err.message : String(err);
}
