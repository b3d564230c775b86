import {
  GetParameterCommand,
  GetParametersByPathCommand,
  SSMClient,
  type GetParameterCommandOutput,
  type GetParametersByPathCommandOutput,
  type Parameter,
  type SSMClientConfig,
} from "@aws-sdk/client-ssm";
import { isAuthError } from "./auth-errors.ts";
import { failoverClients, type FailoverOptions, type RegionTarget } from "./failover.ts";
import { RefreshingCache, type CacheTimings } from "./refreshing-cache.ts";

/**
 * A client-side cache for Systems Manager Parameter Store (Coffer or AWS),
 * with the same rules as SecretCache (TTL, refresh ahead, bounded stale on
 * transient errors, LRU, single flight; see refreshing-cache.ts). Values are
 * decrypted by default (WithDecryption true), so SecureString parameters come
 * back readable. Errors raised here name the parameter, never its value.
 */

/** The calls the cache makes; an SSMClient satisfies it, and so does a test's fake. */
export interface SsmSender {
  send(command: GetParameterCommand): Promise<GetParameterCommandOutput>;
  send(command: GetParametersByPathCommand): Promise<GetParametersByPathCommandOutput>;
}

export interface ParameterCacheOptions extends CacheTimings {
  /** The client to fetch with; default: one built from `clientConfig` (standard AWS credential chain). */
  client?: SsmSender;
  clientConfig?: SSMClientConfig;
  /** Regions to read from, in order; the next is read only when one is unreachable (as SecretCache's `regions`). */
  regions?: RegionTarget<SSMClientConfig>[];
  failover?: FailoverOptions;
}

export interface ParameterReadOptions {
  /** Decrypt SecureString values (default true). */
  withDecryption?: boolean;
}

export interface WithParameterOptions extends ParameterReadOptions {
  /** Whether `fn`'s error means the credential it was given no longer works (default: isAuthError). */
  isAuthError?: (err: unknown) => boolean;
}

export interface PathReadOptions extends ParameterReadOptions {
  /** Every level below the path, not only the first (default false, as GetParametersByPath). */
  recursive?: boolean;
}

/** A parameter as GetParameter returned it. Frozen: shared by every reader. */
export type CachedParameter = Readonly<Parameter>;

export class ParameterCache {
  private readonly client: SsmSender;
  private readonly parameters: RefreshingCache<CachedParameter>;
  private readonly paths: RefreshingCache<readonly CachedParameter[]>;

  constructor(options: ParameterCacheOptions = {}) {
    this.client =
      options.client ??
      (options.regions
        ? (failoverClients(options.regions, options.clientConfig ?? {}, (c) => new SSMClient(c), options.failover) as unknown as SsmSender)
        : new SSMClient(options.clientConfig ?? {}));
    this.parameters = new RefreshingCache(options);
    this.paths = new RefreshingCache(options);
  }

  /** The value if it is cached and fresh (decrypted), else undefined. Synchronous; never fetches. */
  peekParameterValue(name: string): string | undefined {
    return this.parameters.peek(name)?.Value;
  }

  /** The whole cached parameter if it is fresh, else undefined. Synchronous. */
  peekParameter(name: string, options: ParameterReadOptions = {}): CachedParameter | undefined {
    return this.parameters.peek(parameterKey(name, options));
  }

  /** The whole parameter (Name, Type, Value, Version, ARN, LastModifiedDate, DataType). `name` may carry a selector (`name:3`, `name:label`). */
  getParameter(name: string, options: ParameterReadOptions = {}): Promise<CachedParameter> {
    const key = parameterKey(name, options);
    return this.parameters.get(key, () => this.load(name, options));
  }

  async getParameterValue(name: string, options: ParameterReadOptions = {}): Promise<string> {
    const hit = this.parameters.peek(parameterKey(name, options));
    if (hit?.Value !== undefined) return hit.Value;
    return valueOf(name, await this.getParameter(name, options));
  }

  /**
   * Calls `fn` with the parameter's value; if `fn` fails with an
   * authentication error (the parameter changed since it was cached), reads
   * the parameter again, bypassing the cache, and calls `fn` once more.
   */
  withParameter<R>(name: string, fn: (value: string) => R | Promise<R>, options: WithParameterOptions = {}): Promise<R> {
    const read = { withDecryption: options.withDecryption };
    return this.parameters.use(
      parameterKey(name, read),
      () => this.load(name, read),
      (p) => fn(valueOf(name, p)),
      options.isAuthError ?? isAuthError,
      (a, b) => a.Version === b.Version,
    );
  }

  /** Every parameter under `path` (all pages), cached as one entry per path and options. */
  getParametersByPath(path: string, options: PathReadOptions = {}): Promise<readonly CachedParameter[]> {
    const key = `${path}\0${options.recursive === true ? "r" : ""}\0${options.withDecryption === false ? "" : "d"}`;
    return this.paths.get(key, () => this.loadPath(path, options));
  }

  /** Fetches now, bypassing the cache, and caches the result. */
  refresh(name: string, options: ParameterReadOptions = {}): Promise<CachedParameter> {
    return this.parameters.refresh(parameterKey(name, options), () => this.load(name, options));
  }

  /** Forgets one parameter (and any path listing that may hold it), or everything. */
  invalidate(name?: string): void {
    if (name === undefined) {
      this.parameters.invalidate();
      this.paths.invalidate();
      return;
    }
    this.parameters.invalidateWhere((key) => key === name || key.startsWith(name + "\0"));
    this.paths.invalidateWhere((key) => name.startsWith(key.slice(0, key.indexOf("\0"))));
  }

  private async load(name: string, options: ParameterReadOptions): Promise<CachedParameter> {
    const out = await this.client.send(new GetParameterCommand({ Name: name, WithDecryption: options.withDecryption !== false }));
    if (out.Parameter === undefined) throw new Error(`GetParameter returned no parameter for ${name}.`);
    return Object.freeze({ ...out.Parameter });
  }

  private async loadPath(path: string, options: PathReadOptions): Promise<readonly CachedParameter[]> {
    const all: CachedParameter[] = [];
    let NextToken: string | undefined;
    do {
      const out = await this.client.send(
        new GetParametersByPathCommand({
          Path: path,
          Recursive: options.recursive === true,
          WithDecryption: options.withDecryption !== false,
          NextToken,
        }),
      );
      for (const p of out.Parameters ?? []) all.push(Object.freeze({ ...p }));
      NextToken = out.NextToken;
    } while (NextToken);
    return Object.freeze(all);
  }
}

/** Decrypted reads of a bare name are keyed by the name, so the hit path builds no string. */
function parameterKey(name: string, options: ParameterReadOptions): string {
  return options.withDecryption === false ? `${name}\0plain` : name;
}

function valueOf(name: string, parameter: CachedParameter): string {
  if (parameter.Value === undefined) throw new Error(`Parameter ${name} has no value.`);
  return parameter.Value;
}
