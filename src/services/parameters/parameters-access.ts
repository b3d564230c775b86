import type { Keyring } from "../../crypto/keyring.ts";
import type { KeyRecord, KeyTx, ParameterReads, ParameterRecord, ParameterTx, ParameterVersionRecord, Transactional } from "../../storage/store.ts";
import { CofferError } from "../../shared/errors.ts";
import type { Authorizer, Principal } from "../identity/identity-types.ts";
import type { KeysService } from "../keys/keys-service.ts";
import type { SecretsService } from "../secrets/secrets-service.ts";
import type { ServiceEventSink } from "../service-events.ts";
import { messages, parseName, type NamedParameter } from "./parameters-fns.ts";

/** A parameters transaction may create the account's default key, in the same transaction (keyring.resolve). */
export interface ParametersServiceTx extends ParameterTx, KeyTx {}
export interface ParametersServiceStore extends ParameterReads, Transactional<ParametersServiceTx> {}

export interface ParametersDeps {
  store: ParametersServiceStore;
  keyring: Keyring;
  authorizer: Authorizer;
  /** Reading a SecureString needs kms:Decrypt on its key, writing one kms:GenerateDataKey. */
  keyAccess: Pick<KeysService, "checkSecretKeyUse">;
  /** /aws/reference/secretsmanager/<secret> reads go through Secrets Manager's own checks. */
  secrets: Pick<SecretsService, "getValue">;
  /** Where Coffer's own actions (expirations, policy notifications) are recorded. */
  serviceEvents?: ServiceEventSink;
  clock: { now(): number };
  region: string;
}

/** Everything a parameters operation shares: finding, authorising, and the key checks. */
export function createParameterAccess({ authorizer, keyring, keyAccess, region }: ParametersDeps) {
  function resourceContext(p: ParameterRecord | undefined): Record<string, string> {
    const context: Record<string, string> = {};
    for (const t of p?.tags ?? []) {
      context[`ssm:resourceTag/${t.key}`] = t.value;
      context[`aws:ResourceTag/${t.key}`] = t.value;
    }
    return context;
  }

  /**
   * Reads a name as a caller gave it (no selector unless `selectorAllowed`).
   * A name that cannot exist is simply not found.
   */
  function named(principal: Principal, name: string, selectorAllowed = false): NamedParameter {
    const n = parseName(name, region, principal.accountId);
    if (!n || (n.selector && !selectorAllowed)) throw new CofferError("NotFound", messages.notFound(name));
    return n;
  }

  /**
   * Authorises `action` on the parameter a caller named and returns it, if it
   * exists. The check runs whether or not it does, against the ARN the caller
   * named, so a denial never reveals existence.
   */
  async function load(
    reader: Pick<ParameterReads, "getParameter">,
    principal: Principal,
    n: NamedParameter,
    action: string,
    context: Record<string, string | string[] | undefined> = {},
  ): Promise<ParameterRecord | undefined> {
    const record = await reader.getParameter(n.arn);
    await authorizer.authorize({ principal, action, resource: n.arn, context: { ...resourceContext(record), ...context } });
    return record;
  }

  async function mustLoad(
    reader: Pick<ParameterReads, "getParameter">,
    principal: Principal,
    n: NamedParameter,
    action: string,
    context?: Record<string, string | string[] | undefined>,
  ): Promise<ParameterRecord> {
    const record = await load(reader, principal, n, action, context);
    if (!record) throw new CofferError("NotFound", messages.notFound(n.name));
    return record;
  }

  /** The KMS permission and key-state check, as Parameter Store makes it (the API answers a key that can't be used with InvalidKeyId). */
  const useKey = (principal: Principal, key: KeyRecord | string, arn: string, action: "kms:Decrypt" | "kms:GenerateDataKey") =>
    keyAccess.checkSecretKeyUse(principal, key, arn, action, "ssm");

  /** Associated data binding a SecureString ciphertext to its parameter and version. */
  const valueAad = (arn: string, version: number) => `ssm-parameter\n${arn}\n${version}`;

  /** A version's value: plain for String/StringList; for SecureString the plaintext, or with `decrypt` false an opaque base64 ciphertext. */
  async function valueOf(principal: Principal, arn: string, v: ParameterVersionRecord, decrypt: boolean): Promise<string> {
    if (v.type !== "SecureString") return v.value ?? "";
    if (!decrypt) return Buffer.concat([v.wrappedDataKey!, v.sealedValue!]).toString("base64");
    const key = await useKey(principal, v.keyArn!, arn, "kms:Decrypt");
    const plain = await keyring.open({ keyArn: v.keyArn!, wrappedDataKey: v.wrappedDataKey!, sealedValue: v.sealedValue! }, valueAad(arn, v.version), key);
    return plain.toString("utf8");
  }

  return { named, load, mustLoad, useKey, valueAad, valueOf };
}

export type ParameterAccess = ReturnType<typeof createParameterAccess>;

