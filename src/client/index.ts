/**
 * `coffer/client`: caching clients for Secrets Manager and Parameter Store,
 * for Coffer or AWS alike (they wrap the official v3 SDK clients).
 */
export {
  SecretCache,
  type SecretCacheOptions,
  type SecretValue,
  type SecretsManagerSender,
  type VersionSelector,
  type WithSecretOptions,
} from "./secret-cache.ts";
export {
  ParameterCache,
  type CachedParameter,
  type ParameterCacheOptions,
  type ParameterReadOptions,
  type PathReadOptions,
  type SsmSender,
  type WithParameterOptions,
} from "./parameter-cache.ts";
export { RefreshingCache, isTransientError, type CacheTimings, type Clock } from "./refreshing-cache.ts";
export { isAuthError } from "./auth-errors.ts";
export { FailoverSender, failoverClients, isUnreachable, type FailoverOptions, type RegionTarget } from "./failover.ts";
