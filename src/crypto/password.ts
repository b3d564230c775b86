/**
 * GetRandomPassword, as AWS Secrets Manager documents it.
 *
 * Character classes: lowercase a-z, uppercase A-Z, digits 0-9, the 32 ASCII
 * punctuation characters !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~ and, when
 * includeSpace is set, the space character. excludeCharacters removes
 * characters from every class. With requireEachIncludedType (the default), the
 * password contains at least one character from every included class that is
 * still non-empty after exclusions.
 *
 * Every choice uses crypto.randomInt (unbiased, CSPRNG); the guaranteed
 * characters are shuffled into random positions with Fisher–Yates.
 */
import { randomInt } from "node:crypto";
import { CofferError } from "../shared/errors.ts";

export interface PasswordOptions {
  /** 1..4096, default 32. */
  length?: number;
  /** Characters never to use. Default "". */
  excludeCharacters?: string;
  excludeNumbers?: boolean;
  excludePunctuation?: boolean;
  excludeUppercase?: boolean;
  excludeLowercase?: boolean;
  /** Default false. */
  includeSpace?: boolean;
  /** Default true. */
  requireEachIncludedType?: boolean;
}

export const MIN_PASSWORD_LENGTH = 1;
export const MAX_PASSWORD_LENGTH = 4096;
export const DEFAULT_PASSWORD_LENGTH = 32;

export const LOWERCASE = "abcdefghijklmnopqrstuvwxyz";
export const UPPERCASE = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
export const DIGITS = "0123456789";
export const PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
export const SPACE = " ";

export function randomPassword(options: PasswordOptions = {}): string {
  const length = options.length ?? DEFAULT_PASSWORD_LENGTH;
  if (!Number.isInteger(length) || length < MIN_PASSWORD_LENGTH || length > MAX_PASSWORD_LENGTH) {
    throw new CofferError(
      "InvalidParameter",
      `The password length must be an integer between ${MIN_PASSWORD_LENGTH} and ${MAX_PASSWORD_LENGTH}.`,
    );
  }
  const exclude = options.excludeCharacters ?? "";
  if (typeof exclude !== "string") {
    throw new CofferError("InvalidParameter", "excludeCharacters must be a string.");
  }
  const excluded = new Set(exclude);
  const requireEach = options.requireEachIncludedType ?? true;

  const included: string[] = [];
  if (!options.excludeLowercase) included.push(LOWERCASE);
  if (!options.excludeUppercase) included.push(UPPERCASE);
  if (!options.excludeNumbers) included.push(DIGITS);
  if (!options.excludePunctuation) included.push(PUNCTUATION);
  if (options.includeSpace) included.push(SPACE);

  // Classes are disjoint, so their union has no duplicates.
  const classes = included.map((chars) => [...chars].filter((c) => !excluded.has(c))).filter((chars) => chars.length > 0);
  const pool = classes.flat();
  if (pool.length === 0) {
    throw new CofferError(
      "InvalidParameter",
      "The password can't be generated: every character type was excluded or all of its characters are in excludeCharacters.",
    );
  }
  if (requireEach && length < classes.length) {
    throw new CofferError(
      "InvalidParameter",
      `The password can't be generated: requireEachIncludedType needs at least ${classes.length} characters (one of each included type) but the length is ${length}.`,
    );
  }

  const out: string[] = [];
  if (requireEach) for (const chars of classes) out.push(chars[randomInt(chars.length)]);
  while (out.length < length) out.push(pool[randomInt(pool.length)]);
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    const t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  return out.join("");
}
