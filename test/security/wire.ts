import { connect } from "node:net";
import { SignatureV4 } from "@smithy/signature-v4";
import { Sha256 } from "../e2e/raw.ts";

export function signer(credentials: { accessKeyId: string; secretAccessKey: string }, service = "secretsmanager", region = "us-east-1") {
  return new SignatureV4({ credentials, region, service, sha256: Sha256 });
}

/** The query string of a URL presigned (by the official signer) for one awsJson operation on the server at `url`. */
export async function presignedJsonQuery(
  url: string,
  credentials: { accessKeyId: string; secretAccessKey: string },
  target: string,
  body: string,
): Promise<string> {
  const u = new URL(url);
  const presigned = await signer(credentials).presign(
    {
      method: "POST",
      protocol: u.protocol,
      hostname: u.hostname,
      port: Number(u.port),
      path: "/",
      headers: { host: u.host, "content-type": "application/x-amz-json-1.1", "x-amz-target": target },
      body,
    },
    { expiresIn: 300 },
  );
  return Object.entries(presigned.query as Record<string, string>)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join("&");
}

export interface WireResponse {
  status: number;
  head: string;
  body: string;
  json(): Record<string, unknown>;
}

/**
 * Sends one HTTP/1.1 request exactly as given (header lines in order, repeats
 * kept, any Host) over a plain socket, and reads the answer until the server
 * closes. What the SDK and fetch cannot express goes through here.
 */
export function sendRaw(
  url: string,
  request: { method?: string; path?: string; headers: [string, string][]; body?: string | Buffer },
): Promise<WireResponse> {
  const u = new URL(url);
  const body = typeof request.body === "string" ? Buffer.from(request.body) : (request.body ?? Buffer.alloc(0));
  const lines = [`${request.method ?? "POST"} ${request.path ?? "/"} HTTP/1.1`];
  for (const [k, v] of request.headers) lines.push(`${k}: ${v}`);
  if (!request.headers.some(([k]) => k.toLowerCase() === "content-length")) lines.push(`content-length: ${body.length}`);
  lines.push("connection: close", "", "");
  return new Promise((resolve, reject) => {
    const socket = connect(Number(u.port), u.hostname);
    const chunks: Buffer[] = [];
    socket.on("data", (c) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const split = text.indexOf("\r\n\r\n");
      const head = split === -1 ? text : text.slice(0, split);
      let rest = split === -1 ? "" : text.slice(split + 4);
      if (/transfer-encoding: chunked/i.test(head)) rest = dechunk(rest);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      resolve({ status, head, body: rest, json: () => JSON.parse(rest) as Record<string, unknown> });
    });
    socket.write(Buffer.concat([Buffer.from(lines.join("\r\n")), body]));
  });
}

function dechunk(text: string): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const eol = text.indexOf("\r\n", i);
    const size = parseInt(text.slice(i, eol), 16);
    if (!size) break;
    out += text.slice(eol + 2, eol + 2 + size);
    i = eol + 2 + size + 2;
  }
  return out;
}

/** Signs a JSON POST with the official signer; returns its headers as ordered pairs. */
export async function signedJson(
  url: string,
  credentials: { accessKeyId: string; secretAccessKey: string },
  target: string,
  body: string,
  opts: { unsignable?: string[]; service?: string } = {},
): Promise<[string, string][]> {
  const u = new URL(url);
  const headers: Record<string, string> = { host: u.host, "content-type": "application/x-amz-json-1.1", "x-amz-target": target };
  const signed = await signer(credentials, opts.service).sign(
    { method: "POST", protocol: u.protocol, hostname: u.hostname, port: Number(u.port), path: "/", headers, body },
    { unsignableHeaders: new Set(opts.unsignable ?? []) },
  );
  return Object.entries(signed.headers as Record<string, string>);
}
