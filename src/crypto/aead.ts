/**
 * AES-256-GCM sealing with associated data.
 *
 * Sealed format (all lengths in bytes):
 *
 *   | version (1) = 0x01 | IV (12, random) | tag (16) | ciphertext (= plaintext length) |
 *
 * The associated data (AAD) is authenticated but not stored: the caller must
 * supply the same AAD to open(). Bind every sealed blob to its context
 * (e.g. secret id + version id) through the AAD so blobs cannot be swapped.
 *
 * open() fails closed with a single, data-free DecryptionFailure for every
 * problem (unknown version, truncation, tamper, wrong key, wrong AAD) so the
 * error reveals nothing about which check failed.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { CofferError } from "../shared/errors.ts";

export const FORMAT_VERSION = 1;
export const KEY_LENGTH = 32;
export const IV_LENGTH = 12;
export const TAG_LENGTH = 16;
/** Bytes added to the plaintext by seal(). */
export const OVERHEAD = 1 + IV_LENGTH + TAG_LENGTH;

const ALGORITHM = "aes-256-gcm";

function toAad(aad: Buffer | string): Buffer {
  return typeof aad === "string" ? Buffer.from(aad, "utf8") : aad;
}

function isValidKey(key: unknown): key is Buffer {
  return Buffer.isBuffer(key) && key.length === KEY_LENGTH;
}

/** 32 bytes from the CSPRNG, suitable as an AES-256 key. */
export function randomKey(): Buffer {
  return randomBytes(KEY_LENGTH);
}

/** Encrypt and authenticate `plaintext`, binding it to `aad`. */
export function seal(key: Buffer, plaintext: Buffer, aad: Buffer | string): Buffer {
  if (!isValidKey(key)) {
    throw new CofferError("EncryptionFailure", `Encryption key must be exactly ${KEY_LENGTH} bytes.`);
  }
  if (!Buffer.isBuffer(plaintext)) {
    throw new CofferError("EncryptionFailure", "Plaintext must be a Buffer.");
  }
  const iv = randomBytes(IV_LENGTH);
  try {
    const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_LENGTH });
    cipher.setAAD(toAad(aad));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const tag = cipher.getAuthTag();
    return Buffer.concat([Buffer.from([FORMAT_VERSION]), iv, tag, ciphertext]);
  } catch {
    throw new CofferError("EncryptionFailure", "Encryption failed.");
  }
}

/** Verify and decrypt a buffer produced by seal(). Throws DecryptionFailure on any problem. */
export function open(key: Buffer, sealed: Buffer, aad: Buffer | string): Buffer {
  const fail = (): CofferError => new CofferError("DecryptionFailure", "Decryption failed: the data, key or context does not match.");
  if (!isValidKey(key) || !Buffer.isBuffer(sealed) || sealed.length < OVERHEAD) throw fail();
  if (sealed[0] !== FORMAT_VERSION) throw fail();
  const iv = sealed.subarray(1, 1 + IV_LENGTH);
  const tag = sealed.subarray(1 + IV_LENGTH, OVERHEAD);
  const ciphertext = sealed.subarray(OVERHEAD);
  let head: Buffer | undefined;
  try {
    const decipher = createDecipheriv(ALGORITHM, key, iv, { authTagLength: TAG_LENGTH });
    decipher.setAAD(toAad(aad));
    decipher.setAuthTag(tag);
    // GCM releases plaintext from update() before the tag is checked in final();
    // nothing is returned (and the unverified bytes are wiped) unless final() succeeds.
    head = decipher.update(ciphertext);
    const tail = decipher.final();
    return tail.length === 0 ? head : Buffer.concat([head, tail]);
  } catch {
    head?.fill(0);
    throw fail();
  }
}
