import { UNCACHED_WRITES, type Store, type StoreReader, type StoreTx } from "./store.ts";

/** The reads that sit on the GetSecretValue and GetParameter paths and are worth keeping in memory. */
const CACHED = [
  "getSecret",
  "getSecretByName",
  "getVersion",
  "getVersionByStage",
  "getKey",
  "getAlias",
  "getPrincipal",
  "getParameter",
  "getParameterVersion",
  "getParameterVersionByLabel",
  "getManagedPolicy",
  "getGroup",
] as const;
type CachedRead = (typeof CACHED)[number];

/**
 * A read-through cache in front of a Store for a process that is the only
 * writer (the embedded SQLite default): every committed transaction that wrote
 * anything but audit rows or alerts empties it, so a read never sees older data than the last commit it could have
 * observed. Cached records are frozen, because callers share them. Over a
 * database that several nodes share, the backend's onChange empties it too
 * (writes made elsewhere), and a request calls sync() before reading.
 */
export function withReadCache(
  store: Store,
  { maxEntries = 10_000, onLookup }: { maxEntries?: number; /** Told whether each cached read was a hit (metrics). */ onLookup?: (hit: boolean) => void } = {},
): Store {
  const cache = new Map<string, unknown>();
  // Bumped by every transaction and every change seen elsewhere; a read that overlapped one does not fill the cache.
  let generation = 0;
  store.onChange?.(() => {
    generation++;
    cache.clear();
  });

  const cachedRead = <K extends CachedRead>(name: K): StoreReader[K] =>
    (async (...args: (string | number)[]) => {
      const key = `${name}\u0000${args.join("\u0000")}`;
      if (cache.has(key)) {
        onLookup?.(true);
        return cache.get(key);
      }
      onLookup?.(false);
      const before = generation;
      const value = await (store[name] as (...a: (string | number)[]) => Promise<unknown>)(...args);
      if (before === generation) {
        if (cache.size >= maxEntries) cache.delete(cache.keys().next().value!);
        cache.set(key, deepFreeze(value));
      }
      return value;
    }) as StoreReader[K];

  const reads = Object.fromEntries(CACHED.map((name) => [name, cachedRead(name)])) as Pick<StoreReader, CachedRead>;

  return {
    getSecret: reads.getSecret,
    getSecretByName: reads.getSecretByName,
    getVersion: reads.getVersion,
    getVersionByStage: reads.getVersionByStage,
    getKey: reads.getKey,
    getAlias: reads.getAlias,
    getPrincipal: reads.getPrincipal,
    // Not cached: `coffer oidc-keys` changes a provider straight on the data directory, beside the server.
    getOidcProvider: (...a) => store.getOidcProvider(...a),
    listOidcProviders: (...a) => store.listOidcProviders(...a),
    listSecrets: (...a) => store.listSecrets(...a),
    listSecretsDueForPurge: (...a) => store.listSecretsDueForPurge(...a),
    listSecretsDueForRotation: (...a) => store.listSecretsDueForRotation(...a),
    listVersions: (...a) => store.listVersions(...a),
    listKeys: (...a) => store.listKeys(...a),
    listAliases: (...a) => store.listAliases(...a),
    getAccessKey: (...a) => store.getAccessKey(...a),
    listAccessKeys: (...a) => store.listAccessKeys(...a),
    listAllAccessKeys: () => store.listAllAccessKeys(),
    getSetting: (...a) => store.getSetting(...a),
    getAuditHead: () => store.getAuditHead(),
    listAuditRows: (...a) => store.listAuditRows(...a),
    queryAuditEvents: (...a) => store.queryAuditEvents(...a),
    listAuditCheckpoints: () => store.listAuditCheckpoints(),
    listDueAlerts: (...a) => store.listDueAlerts(...a),
    hasRead: (...a) => store.hasRead(...a),
    listPrincipals: (...a) => store.listPrincipals(...a),
    getParameter: reads.getParameter,
    listParametersByPath: (...a) => store.listParametersByPath(...a),
    listParametersDue: (...a) => store.listParametersDue(...a),
    getParameterVersion: reads.getParameterVersion,
    getParameterVersionByLabel: reads.getParameterVersionByLabel,
    listParameterVersions: (...a) => store.listParameterVersions(...a),
    getManagedPolicy: reads.getManagedPolicy,
    listManagedPolicies: (...a) => store.listManagedPolicies(...a),
    getGroup: reads.getGroup,
    listGroups: (...a) => store.listGroups(...a),
    getRegionLink: (...a) => store.getRegionLink(...a),
    listRegionLinks: () => store.listRegionLinks(),
    getReplicationTask: (...a) => store.getReplicationTask(...a),
    listDueReplicationTasks: (...a) => store.listDueReplicationTasks(...a),
    listReplicationTasks: (...a) => store.listReplicationTasks(...a),
    async transaction(fn) {
      generation++;
      let dirty = false;
      try {
        return await store.transaction((tx) => fn(markingWrites(tx, () => (dirty = true))));
      } finally {
        generation++;
        if (dirty) cache.clear();
      }
    },
    // Audit rows change no cached read.
    auditWriter: store.auditWriter?.bind(store),
    sync: store.sync?.bind(store),
    onChange: store.onChange?.bind(store),
    epoch: store.epoch?.bind(store),
    close: () => store.close(),
  };
}

/** The transaction, with `onWrite` called before any write that may change a cached read. */
function markingWrites(tx: StoreTx, onWrite: () => void): StoreTx {
  return new Proxy(tx, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown;
      if (typeof value !== "function") return value;
      const isWrite = typeof name === "string" && /^(put|delete|append|mark)/.test(name) && !UNCACHED_WRITES.has(name);
      return isWrite
        ? (...args: unknown[]) => {
            onWrite();
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          }
        : (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !ArrayBuffer.isView(value) && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
