import { createHash, createHmac } from "node:crypto";
import { createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { fixedScript, freshScript, hasWrk, wrkWithCpu, type Run } from "./wrk.ts";

/**
 * Load for `npm run bench`: wrk when /usr/bin/wrk exists (one thread, a Lua
 * script for the body and headers), else autocannon. `tool` says which.
 * Every run fails on any non-2xx answer or socket error.
 */
export const tool = hasWrk() ? "wrk" : "autocannon";

export interface Request {
  /** Lower-case names; `host` (with the port) included: it is signed. */
  headers: Record<string, string>;
  body: string;
  /** Share of the mix (default 1). */
  weight?: number;
}

async function viaAutocannon(url: string, requests: Request[], connections: number, duration: number): Promise<Run> {
  const expanded = requests.flatMap((r) => {
    const { host: _host, ...headers } = r.headers; // autocannon sends its own
    return Array.from({ length: r.weight ?? 1 }, () => ({ method: "POST" as const, headers, body: r.body }));
  });
  const result = await autocannon({ url, connections, duration, pipelining: 1, requests: expanded });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${url}: ${result.non2xx} non-2xx responses, ${result.errors} errors`);
  return { rps: Math.round(result.requests.average), p50_ms: result.latency.p50, p99_ms: result.latency.p99, requests: result.requests.total };
}

/** Replayed requests (a signature stays valid for 15 minutes, as on AWS), cycled in order by weight. */
export async function measure(url: string, requests: Request[], connections: number, duration: number, pid?: number) {
  if (tool === "autocannon") return viaAutocannon(url, requests, connections, duration);
  return wrkWithCpu(url, pid ?? 0, fixedScript(requests), connections, duration);
}

export interface SigningInput {
  credentials: { accessKeyId: string; secretAccessKey: string };
  region: string;
  service: string;
  target: string;
  host: string;
  body: string;
}

/**
 * A signer for one request shape with a signed `x-bench-nonce` header, so
 * every signature differs; only node:crypto, a few µs a signature. The
 * server verifies each one in full (canonical request, string to sign, HMAC).
 */
export function freshSigner(input: SigningInput): (nonce: number, date: Date) => { amzDate: string; authorization: string } {
  const sha = (s: string) => createHash("sha256").update(s).digest("hex");
  const hmac = (k: string | Buffer, s: string) => createHmac("sha256", k).update(s).digest();
  const bodyHash = sha(input.body);
  const signed = "content-type;host;x-amz-date;x-amz-target;x-bench-nonce";
  let keyDate = "";
  let key = Buffer.alloc(0);
  return (nonce, date) => {
    const amzDate = date.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
    const day = amzDate.slice(0, 8);
    if (day !== keyDate) {
      key = hmac(hmac(hmac(hmac(`AWS4${input.credentials.secretAccessKey}`, day), input.region), input.service), "aws4_request");
      keyDate = day;
    }
    const scope = `${day}/${input.region}/${input.service}/aws4_request`;
    const creq = `POST\n/\n\ncontent-type:application/x-amz-json-1.1\nhost:${input.host}\nx-amz-date:${amzDate}\nx-amz-target:${input.target}\nx-bench-nonce:${nonce}\n\n${signed}\n${bodyHash}`;
    const signature = createHmac("sha256", key).update(`AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${sha(creq)}`).digest("hex");
    return { amzDate, authorization: `AWS4-HMAC-SHA256 Credential=${input.credentials.accessKeyId}/${scope}, SignedHeaders=${signed}, Signature=${signature}` };
  };
}

/**
 * A fresh signature on every request. With wrk: `count` requests signed
 * beforehand (distinct nonces, one X-Amz-Date) into a file the Lua script
 * walks, each used once (`reused` says if the run outlasted the file). With
 * autocannon: signed in the load generator, per request.
 */
export async function measureFresh(url: string, input: SigningInput, connections: number, duration: number, count: number, pid?: number) {
  const sign = freshSigner(input);
  const headers = { host: input.host, "content-type": "application/x-amz-json-1.1", "x-amz-target": input.target };
  if (tool === "autocannon") {
    let n = 0;
    const { host: _host, ...rest } = headers;
    const result = await autocannon({
      url,
      connections,
      duration,
      requests: [
        {
          method: "POST",
          body: input.body,
          setupRequest: (req) => {
            const nonce = n++;
            const s = sign(nonce, new Date());
            return { ...req, headers: { ...rest, "x-amz-date": s.amzDate, "x-bench-nonce": String(nonce), authorization: s.authorization } };
          },
        },
      ],
    });
    if (result.non2xx > 0 || result.errors > 0) throw new Error(`${url}: ${result.non2xx} non-2xx responses, ${result.errors} errors`);
    return { rps: Math.round(result.requests.average), p50_ms: result.latency.p50, p99_ms: result.latency.p99, requests: result.requests.total, signed: "per request, in the load generator" };
  }
  const dir = mkdtempSync(join(tmpdir(), "coffer-fresh-"));
  try {
    const file = join(dir, "signed.tsv");
    const out = createWriteStream(file);
    const now = new Date();
    for (let i = 0; i < count; i++) {
      const s = sign(i, now);
      if (!out.write(`${s.amzDate}\t${i}\t${s.authorization}\n`)) await new Promise<void>((resolve) => out.once("drain", () => resolve()));
    }
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    const run = await wrkWithCpu(url, pid ?? 0, freshScript(file, headers, input.body), connections, duration);
    return { ...run, signed: `${count} beforehand, each used once`, reused: run.requests > count };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
