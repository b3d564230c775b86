import { createHmac } from "node:crypto";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { snapshotOut } from "../api/coffer/replication-handlers.ts";
import { metadata } from "../api/coffer/replication-model.ts";
import {
  PeerUnreachableError,
  type ApplyOutcome,
  type OpenLink,
  type ReplicationPeer,
} from "../services/replication/replication-types.ts";
import {
  ALGORITHM,
  canonicalRequest,
  credentialScope,
  signingKey,
  stringToSign,
  toAmzDate,
} from "../server/sigv4/sigv4.ts";

/** How long one call to a peer region may take before it counts as unreachable. */
const TIMEOUT_MS = 10_000;

/**
 * The client side of Coffer's replication API (src/api/coffer/replication-model.ts):
 * JSON over HTTP(S) to the peer's endpoint, signed with SigV4 for service
 * "coffer" in the peer's region with the link's credentials. Signed by hand
 * with the server's own SigV4 primitives (checked against AWS's published
 * vectors in src/server/sigv4/), so the server needs no signing dependency.
 * TLS is verified against the link's CA, or the system's. A connection
 * failure, a timeout or a 5xx is PeerUnreachableError (retried, InProgress);
 * a 4xx is the peer's refusal (Failed).
 */
export function createReplicationPeer(): ReplicationPeer {
  async function call(link: OpenLink, operation: string, input: unknown): Promise<Record<string, unknown>> {
    const url = new URL(link.endpoint);
    const body = Buffer.from(JSON.stringify(input), "utf8");
    const amzDate = toAmzDate(new Date());
    const date = amzDate.slice(0, 8);
    const headers: Record<string, string> = {
      host: url.host,
      "content-type": "application/x-amz-json-1.1",
      "x-amz-target": `${metadata.targetPrefix}.${operation}`,
      "x-amz-date": amzDate,
    };
    const signed = Object.keys(headers).sort();
    const path = url.pathname || "/";
    const creq = canonicalRequest({ method: "POST", rawPath: path, rawQuery: "", headers, body }, signed);
    const scope = credentialScope(date, link.name, metadata.signingName);
    const signature = createHmac("sha256", signingKey(link.secretAccessKey, date, link.name, metadata.signingName))
      .update(stringToSign(amzDate, scope, creq), "utf8")
      .digest("hex");
    headers.authorization = `${ALGORITHM} Credential=${link.accessKeyId}/${scope}, SignedHeaders=${signed.join(";")}, Signature=${signature}`;
    headers["content-length"] = String(body.length);

    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = send(
        url,
        { method: "POST", path, headers, timeout: TIMEOUT_MS, ...(link.caCertificate ? { ca: link.caCertificate } : {}) },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
          res.on("error", (err) => reject(new PeerUnreachableError(err.message)));
        },
      );
      req.on("timeout", () => req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
      req.on("error", (err) => reject(new PeerUnreachableError(err.message)));
      req.end(body);
    });
    let parsed: Record<string, unknown> = {};
    try {
      parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      // A proxy's HTML page, say: the status decides.
    }
    if (status >= 500 || status === 0) throw new PeerUnreachableError(`the region answered HTTP ${status}`);
    if (status >= 400) {
      const type = String(parsed.__type ?? `HTTP ${status}`);
      throw new Error(`${type.slice(type.lastIndexOf("#") + 1)}: ${String(parsed.message ?? parsed.Message ?? "")}`);
    }
    return parsed;
  }

  return {
    async apply(link, snapshot): Promise<ApplyOutcome> {
      const r = await call(link, "ApplyReplica", snapshotOut(snapshot));
      const outcome = r.Outcome as ApplyOutcome["outcome"];
      if (outcome === "NeedValues") return { outcome, missing: (r.Missing as string[] | undefined) ?? [] };
      if (outcome === "Applied" || outcome === "Stale") {
        return { outcome, ...(typeof r.LastAccessedDate === "number" ? { lastAccessedAt: r.LastAccessedDate } : {}) };
      }
      if (outcome === "NameExists" || outcome === "Promoted") return { outcome };
      throw new Error(`the region answered an unknown outcome: ${String(outcome)}`);
    },
    async remove(link, input) {
      await call(link, "RemoveReplica", { PrimaryArn: input.primaryArn, PrimaryRegion: input.primaryRegion });
    },
    async detached(link, input) {
      await call(link, "ReplicaPromoted", { PrimaryArn: input.primaryArn, ReplicaRegion: input.replicaRegion });
    },
  };
}
