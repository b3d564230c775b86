import {
  GetSecretValueCommand,
  SecretsManagerClient,
  type GetSecretValueCommandOutput,
  type SecretsManagerClientConfig,
} from "@aws-sdk/client-secrets-manager";
import { isAuthError } from "./auth-errors.ts";
import { failoverClients, type FailoverOptions, type RegionTarget } from "./failover.ts";
import { RefreshingCache, type CacheTimings } from "./refreshing-cache.ts";

/**
 * A client-side cache for Secrets Manager (Coffer or AWS), built on the v3 SDK
 * and the rules of RefreshingCache (refreshing-cache.ts): TTL (default one
 * hour), refresh ahead of expiry, single flight, bounded stale-on-error, LRU.
 * Errors from the SDK propagate unchanged; errors raised here name the
 * secret id, never its value.
 */

/** What GetSecretValue returned, without the SDK's request metadata. Frozen: shared by every reader. */
export type SecretValue = Readonly<Omit<GetSecretValueCommandOutput, "$metadata">>;

/** The one call the cache makes; a SecretsManagerClient satisfies it, and so does a test's fake. */
export interface SecretsManagerSender {
  send(command: GetSecretValueCommand): Promise<GetSecretValueCommandOutput>;
}

export interface SecretCacheOptions extends CacheTimings {
  /** The client to fetch with; default: one built from `clientConfig` (standard AWS credential chain). */
  client?: SecretsManagerSender;
  clientConfig?: SecretsManagerClientConfig;
  /**
   * Regions to read from, in order (replicas of the same secrets): the next is
   * read when one is unreachable, never when it answers (an access denial
   * included). Each gets a client from `clientConfig` and its own settings.
   */
  regions?: RegionTarget<SecretsManagerClientConfig>[];
  failover?: FailoverOptions;
  /** Stage read when a call names neither a stage nor a version (default AWSCURRENT). */
  versionStage?: string;
}

export interface VersionSelector {
  versionStage?: string;
  versionId?: string;
}

export interface WithSecretOptions extends VersionSelector {
  /** Whether `fn`'s error means the credential it was given no longer works (default: isAuthError). */
  isAuthError?: (err: unknown) => boolean;
}

/** What the cache keeps per key: the value, and its SecretString parsed once on first JSON read. */
interface Held {
  secret: SecretValue;
  json?: { value: unknown };
}

export class SecretCache {
  private readonly client: SecretsManagerSender;
  private readonly cache: RefreshingCache<Held>;
  private readonly versionStage: string;

  constructor(options: SecretCacheOptions = {}) {
    this.client =
      options.client ??
      (options.regions
        ? failoverClients(options.regions, options.clientConfig ?? {}, (c) => new SecretsManagerClient(c), options.failover)
        : new SecretsManagerClient(options.clientConfig ?? {}));
    this.cache = new RefreshingCache<Held>(options);
    this.versionStage = options.versionStage ?? "AWSCURRENT";
  }

  /** The SecretString if it is cached and fresh, else undefined. Synchronous; never fetches (except a background refresh near expiry). */
  peekSecretString(secretId: string, selector?: VersionSelector): string | undefined {
    return this.cache.peek(this.key(secretId, selector))?.secret.SecretString;
  }

  /** The whole cached GetSecretValue result if it is fresh, else undefined. Synchronous, like peekSecretString. */
  peekSecretValue(secretId: string, selector?: VersionSelector): SecretValue | undefined {
    return this.cache.peek(this.key(secretId, selector))?.secret;
  }

  /** The whole GetSecretValue result (ARN, Name, VersionId, VersionStages, CreatedDate, the value). */
  async getSecretValue(secretId: string, selector?: VersionSelector): Promise<SecretValue> {
    return (await this.held(secretId, selector)).secret;
  }

  getSecretString(secretId: string, selector?: VersionSelector): Promise<string> {
    const hit = this.cache.peek(this.key(secretId, selector));
    if (hit !== undefined && hit.secret.SecretString !== undefined) return Promise.resolve(hit.secret.SecretString);
    return this.held(secretId, selector).then((h) => stringOf(secretId, h));
  }

  /** A copy of the SecretBinary (the cached bytes stay untouched). */
  async getSecretBinary(secretId: string, selector?: VersionSelector): Promise<Uint8Array> {
    const { secret } = await this.held(secretId, selector);
    if (secret.SecretBinary === undefined) throw new Error(`Secret ${secretId} has no SecretBinary (it holds a SecretString).`);
    return new Uint8Array(secret.SecretBinary);
  }

  /** The SecretString parsed as JSON, once per fetched version; deep-frozen, since every reader shares it. */
  async getSecretJson<T = unknown>(secretId: string, selector?: VersionSelector): Promise<T> {
    return jsonOf(secretId, await this.held(secretId, selector)) as T;
  }

  /** Fetches now, bypassing the cache, and caches the result. */
  async refresh(secretId: string, selector?: VersionSelector): Promise<SecretValue> {
    const key = this.key(secretId, selector);
    return (await this.cache.refresh(key, this.loader(secretId, selector))).secret;
  }

  /** Forgets a secret (every stage and version of it read under this id), or everything. */
  invalidate(secretId?: string): void {
    if (secretId === undefined) return this.cache.invalidate();
    const prefix = secretId + "\0";
    this.cache.invalidateWhere((key) => key === secretId || key.startsWith(prefix));
  }

  /**
   * Calls `fn` with the SecretString. If `fn` fails with an authentication
   * error (the secret was rotated since it was cached), fetches the secret
   * again, bypassing the cache, and calls `fn` once more with the new value.
   */
  withSecret<R>(secretId: string, fn: (secret: string) => R | Promise<R>, options: WithSecretOptions = {}): Promise<R> {
    return this.retryOnAuth(secretId, options, (h) => fn(stringOf(secretId, h)));
  }

  /** withSecret, with the SecretString parsed as JSON. */
  withSecretJson<T, R>(secretId: string, fn: (secret: T) => R | Promise<R>, options: WithSecretOptions = {}): Promise<R> {
    return this.retryOnAuth(secretId, options, (h) => fn(jsonOf(secretId, h) as T));
  }

  private retryOnAuth<R>(secretId: string, options: WithSecretOptions, call: (h: Held) => R | Promise<R>): Promise<R> {
    const key = this.key(secretId, options);
    const sameVersion = (a: Held, b: Held) => a.secret.VersionId === b.secret.VersionId;
    return this.cache.use(key, this.loader(secretId, options), call, options.isAuthError ?? isAuthError, sameVersion);
  }

  private held(secretId: string, selector: VersionSelector | undefined): Promise<Held> {
    return this.cache.get(this.key(secretId, selector), this.loader(secretId, selector));
  }

  /** The default stage is keyed by the bare id (no string built on the hit path); anything else by id\0stage\0version. */
  private key(secretId: string, selector: VersionSelector | undefined): string {
    if (selector === undefined || (selector.versionId === undefined && (selector.versionStage ?? this.versionStage) === this.versionStage)) {
      return secretId;
    }
    return `${secretId}\0${selector.versionStage ?? ""}\0${selector.versionId ?? ""}`;
  }

  private loader(secretId: string, selector: VersionSelector | undefined): () => Promise<Held> {
    const VersionId = selector?.versionId;
    const VersionStage = selector?.versionStage ?? (VersionId === undefined ? this.versionStage : undefined);
    return async () => {
      const out = await this.client.send(new GetSecretValueCommand({ SecretId: secretId, VersionId, VersionStage }));
      const secret: SecretValue = Object.freeze({
        ARN: out.ARN,
        Name: out.Name,
        VersionId: out.VersionId,
        SecretString: out.SecretString,
        SecretBinary: out.SecretBinary,
        VersionStages: out.VersionStages ? Object.freeze([...out.VersionStages]) as string[] : undefined,
        CreatedDate: out.CreatedDate,
      });
      return { secret };
    };
  }
}

function stringOf(secretId: string, held: Held): string {
  const value = held.secret.SecretString;
  if (value === undefined) throw new Error(`Secret ${secretId} has no SecretString (it holds a SecretBinary).`);
  return value;
}

function jsonOf(secretId: string, held: Held): unknown {
  if (held.json === undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(stringOf(secretId, held));
    } catch (err) {
      if (err instanceof SyntaxError) {
        // V8's message quotes the text it failed on: never pass it on.
        throw new Error(`Secret ${secretId} is not valid JSON.`);
      }
      throw err;
    }
    held.json = { value: deepFreeze(parsed) };
  }
  return held.json.value;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
