import { createHash, createHmac } from "node:crypto";
import { SignatureV4 } from "@smithy/signature-v4";

/** node:crypto behind the Checksum interface the official signer takes. */
export class Sha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash("sha256") : createHmac("sha256", toBuffer(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(toBuffer(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {}
}

function toBuffer(data: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof data === "string") return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

export interface RawResponse {
  status: number;
  headers: Headers;
  body: string;
  json(): Record<string, unknown>;
}

/**
 * Sends a request to Coffer the way an SDK would, signed by the official
 * AWS signer, with everything (body, headers, target) under the test's control.
 */
export interface SignOptions {
  target?: string;
  body?: string;
  contentType?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  region?: string;
  service?: string;
  signingDate?: Date;
  headers?: Record<string, string>;
}

/** The headers an SDK would send for this POST, signed by the official AWS signer when credentials are given. */
export async function signedHeaders(url: string, opts: SignOptions): Promise<Record<string, string>> {
  const u = new URL(url);
  const headers: Record<string, string> = {
    host: u.host,
    "content-type": opts.contentType ?? "application/x-amz-json-1.1",
    ...(opts.target ? { "x-amz-target": opts.target } : {}),
    ...opts.headers,
  };
  if (!opts.credentials) return headers;
  const signer = new SignatureV4({
    credentials: opts.credentials,
    region: opts.region ?? "us-east-1",
    service: opts.service ?? "secretsmanager",
    sha256: Sha256,
  });
  const signed = await signer.sign(
    { method: "POST", protocol: u.protocol, hostname: u.hostname, port: Number(u.port), path: "/", headers, body: opts.body ?? "{}" },
    { signingDate: opts.signingDate },
  );
  return signed.headers as Record<string, string>;
}

/**
 * Sends a request to Coffer the way an SDK would, with everything (body,
 * headers, target, signing time) under the test's control.
 */
export async function rawCall(url: string, opts: SignOptions & { tamperedBody?: string }): Promise<RawResponse> {
  const headers = await signedHeaders(url, opts);
  const res = await fetch(url, { method: "POST", headers, body: opts.tamperedBody ?? opts.body ?? "{}" });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text, json: () => JSON.parse(text) as Record<string, unknown> };
}
