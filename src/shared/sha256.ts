import { createHash } from "node:crypto";

/** Hex SHA-256 of text (UTF-8) or bytes: SigV4 payload hashes, stored session-token hashes. */
export function sha256Hex(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}
