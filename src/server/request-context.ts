import { CofferError } from "../shared/errors.ts";
import { SigV4Error, type HttpRequestParts, type ParsedSignature } from "./sigv4/sigv4.ts";
import { decodeQueryParams, parseSignature } from "./sigv4/sigv4-parse.ts";

/** A request as read off the socket: headers as node's headersDistinct (repeated lines kept apart), the whole body. */
export interface IncomingRequest {
  method: string;
  /** Path and query as received. */
  url: string;
  headers: Record<string, string[] | undefined>;
  body: Buffer;
  sourceIp: string;
}

/**
 * Everything later stages read about a request, parsed once: the SigV4
 * signature (Authorization header or presigned query), the decoded query,
 * the target, the content type. Routing, authentication, the audit facts and
 * the codecs all read this; none of them parses the request again.
 */
export interface ParsedRequest {
  requestId: string;
  parts: HttpRequestParts;
  sourceIp: string;
  userAgent: string;
  /** Lower-case media type, parameters dropped; "" when absent. */
  contentType: string;
  /** The X-Amz-Target header (its first line), unverified. */
  targetHeader: string | undefined;
  /** The signature, or why it does not parse (authenticate() refuses the request with it). */
  signature: ParsedSignature | SigV4Error;
  /** The decoded query (undefined when it is malformed: the signature holds the error then). */
  query: Map<string, string> | undefined;
  /** Access key id an unverified Authorization header names (for the audit record of a refusal). */
  claimedAccessKeyId?: string;
  /** Service an unverified Authorization header's scope names (Query services share one endpoint). */
  claimedService?: string;
  /** A Query request's form parameters, once its codec has parsed them. */
  form?: URLSearchParams;
}

function first(headers: IncomingRequest["headers"], name: string): string | undefined {
  return headers[name]?.[0];
}

export function parseRequest(req: IncomingRequest, requestId: string): ParsedRequest {
  const q = req.url.indexOf("?");
  const parts: HttpRequestParts = {
    method: req.method,
    rawPath: q >= 0 ? req.url.slice(0, q) : req.url,
    rawQuery: q >= 0 ? req.url.slice(q + 1) : "",
    headers: req.headers,
    body: req.body,
  };
  let query: Map<string, string> | undefined;
  let signature: ParsedSignature | SigV4Error;
  try {
    query = decodeQueryParams(parts.rawQuery);
    signature = parseSignature(parts, query);
  } catch (err) {
    if (!(err instanceof SigV4Error)) throw err;
    signature = err;
  }
  const contentType = first(req.headers, "content-type");
  const semi = contentType?.indexOf(";") ?? -1;
  const parsed: ParsedRequest = {
    requestId,
    parts,
    sourceIp: req.sourceIp,
    userAgent: first(req.headers, "user-agent") ?? "",
    contentType: contentType === undefined ? "" : (semi >= 0 ? contentType.slice(0, semi) : contentType).trim().toLowerCase(),
    targetHeader: first(req.headers, "x-amz-target"),
    signature,
    query,
  };
  if (!(signature instanceof SigV4Error)) {
    if (!signature.presigned) {
      parsed.claimedAccessKeyId = signature.accessKeyId;
      parsed.claimedService = signature.service;
    }
  } else {
    // A header that does not parse may still say who it claims to be: the audit record of the refusal names it.
    const authorization = req.headers.authorization?.join(", ") ?? "";
    parsed.claimedAccessKeyId = /Credential=([^/,\s]+)\//.exec(authorization)?.[1];
    parsed.claimedService = /Credential=[^/,\s]+\/\d{8}\/[^/]+\/([^/]+)\//.exec(authorization)?.[1];
  }
  return parsed;
}

/**
 * The X-Amz-Target (service and operation) the request's signature covers:
 * the header when it is a signed header, else, for a presigned URL, the
 * X-Amz-Target query parameter (the SDK presigner moves it there, and the
 * canonical query signs it). A target header outside the signature is
 * refused: otherwise a URL presigned for DescribeSecret could be replayed
 * with `X-Amz-Target: ...GetSecretValue` added. A request whose signature
 * does not even parse gets its header target back, for routing only:
 * authenticate() refuses it afterwards with the parse error.
 */
export function signedTarget(req: ParsedRequest): string | undefined {
  const header = req.targetHeader;
  const sig = req.signature;
  if (sig instanceof SigV4Error) {
    // With no target header the operation can only come from a (broken) presigned query: say why it is broken.
    if (header === undefined && sig.code !== "MissingAuthenticationToken") throw new CofferError(sig.code, sig.message);
    return header;
  }
  let fromQuery: string | undefined;
  if (req.query && req.query.size > 0) for (const [k, v] of req.query) if (k.toLowerCase() === "x-amz-target") fromQuery = v;
  if (header !== undefined && !sig.signedHeaders.includes("x-amz-target") && fromQuery !== header) {
    throw new CofferError("IncompleteSignature", "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization.");
  }
  if (header !== undefined && fromQuery !== undefined && header !== fromQuery) {
    throw new CofferError("IncompleteSignature", "The X-Amz-Target header and the X-Amz-Target query parameter name different operations.");
  }
  return header ?? fromQuery;
}
