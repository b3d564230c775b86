/**
 * The storage contract. Every backend (SQLite, PostgreSQL) implements it and
 * passes the one conformance suite in conformance.ts; services depend on
 * nothing else. Times are epoch milliseconds. Values arrive here already
 * sealed: a backend never sees a plaintext secret.
 */

export interface Tag {
  key: string;
  value: string;
}

export interface SecretRecord {
  arn: string;
  accountId: string;
  name: string;
  description?: string;
  /** The key that wraps new versions' data keys, as the user named it (ARN, id or alias). */
  kmsKeyId?: string;
  createdAt: number;
  lastChangedAt: number;
  /** Midnight UTC of the last day a value was read (AWS keeps date resolution). */
  lastAccessedAt?: number;
  /** Set while the secret is scheduled for deletion: when DeleteSecret was called. */
  deletedAt?: number;
  /** Set while the secret is scheduled for deletion: when the purge job may remove it. */
  purgeAt?: number;
  tags: Tag[];
  resourcePolicy?: string;
  /** Rotation configuration and state, owned by the rotation service. */
  rotation?: Record<string, unknown>;
  /** When the rotation scheduler should next look at this secret (a window start, or a retry). */
  rotateAt?: number;
}

export interface VersionRecord {
  secretArn: string;
  versionId: string;
  createdAt: number;
  /** Staging labels; a version with none is deprecated. */
  stages: string[];
  lastAccessedAt?: number;
  /** The key ARN whose material wrapped this version's data key. */
  keyArn: string;
  /** "none" marks an AWSPENDING placeholder created before rotation puts a value. */
  valueKind: "string" | "binary" | "none";
  /** AES-256-GCM sealed value and the wrapped data key (absent when valueKind is "none"). */
  sealedValue?: Buffer;
  wrappedDataKey?: Buffer;
}

export type ParameterType = "String" | "StringList" | "SecureString";
export type ParameterTier = "Standard" | "Advanced";

/** One parameter policy as Coffer keeps it: the caller's JSON text, and whether it has acted yet. */
export interface ParameterPolicyRecord {
  type: "Expiration" | "ExpirationNotification" | "NoChangeNotification";
  /** The policy object as JSON text (what DescribeParameters returns as PolicyText). */
  text: string;
  status: "Pending" | "Finished";
  /** While pending: when it acts. */
  dueAt?: number;
}

/**
 * A Parameter Store parameter. The latest version's attributes are copied
 * here so listing and filtering need no version rows. Unique per account by
 * ARN, which is the name without a leading slash ("/a" and "a" are one parameter).
 */
export interface ParameterRecord {
  arn: string;
  accountId: string;
  /** As the caller wrote it when creating the parameter. */
  name: string;
  /** The latest version: 1, 2, 3, ... */
  version: number;
  type: ParameterType;
  tier: ParameterTier;
  dataType: string;
  description?: string;
  allowedPattern?: string;
  /** SecureString: the key as the caller named it (alias/aws/ssm by default). */
  keyId?: string;
  policies: ParameterPolicyRecord[];
  lastModifiedAt: number;
  /** ARN of the principal that wrote the latest version. */
  lastModifiedUser: string;
  tags: Tag[];
  /** The earliest dueAt of its pending policies: when the expiry job must look at it again. */
  dueAt?: number;
}

/**
 * One version of a parameter, with the attributes it was written with.
 * String and StringList values are configuration, stored as given (AWS does
 * not encrypt them with KMS either); a SecureString value arrives sealed.
 */
export interface ParameterVersionRecord {
  parameterArn: string;
  version: number;
  createdAt: number;
  createdBy: string;
  type: ParameterType;
  tier: ParameterTier;
  dataType: string;
  description?: string;
  allowedPattern?: string;
  keyId?: string;
  /** The policies JSON text in force when this version was written. */
  policies?: string;
  /** Labels: each sits on at most one version of a parameter. */
  labels: string[];
  /** String and StringList. */
  value?: string;
  /** SecureString: the key whose material wrapped the data key, the wrapped data key and the sealed value. */
  keyArn?: string;
  wrappedDataKey?: Buffer;
  sealedValue?: Buffer;
}

/** A KMS-style key: its material is sealed under the master key named by masterKeyId. */
export interface KeyRecord {
  keyId: string;
  arn: string;
  accountId: string;
  createdAt: number;
  masterKeyId: string;
  sealedMaterial: Buffer;
  /** Everything else (description, state, policy, rotation): owned by the keys service. */
  meta: Record<string, unknown>;
}

export interface AliasRecord {
  accountId: string;
  /** Full alias name, e.g. "alias/aws/secretsmanager". */
  aliasName: string;
  keyId: string;
}

export interface AccessKeyRecord {
  accessKeyId: string;
  principalArn: string;
  accountId: string;
  status: "Active" | "Inactive";
  createdAt: number;
  masterKeyId: string;
  /**
   * The secret access key sealed under the master key. The AAD binds it to the key id, its owner
   * and (temporary credentials) its expiry and session (src/services/identity/identity-service.ts).
   */
  sealedSecret: Buffer;
  /** For temporary credentials: when they stop working, and the session they belong to. */
  expiresAt?: number;
  session?: Record<string, unknown>;
}

/** An IAM user or role. Policies are stored as the JSON text the caller gave. */
export interface PrincipalRecord {
  arn: string;
  accountId: string;
  kind: "user" | "role";
  name: string;
  path: string;
  /** AIDA... for users, AROA... for roles, as IAM's unique ids look. */
  id: string;
  createdAt: number;
  description?: string;
  /** Roles: who may assume the role, and the longest session in seconds (3600-43200). */
  trustPolicy?: string;
  maxSessionDuration?: number;
  inlinePolicies: Record<string, string>;
  tags: Tag[];
}

/**
 * One link of the audit hash chain. `kind` "event" is a CloudTrail-shaped
 * record of a finished request; "intent" is written before a mutating
 * request runs, so a request that cannot be audited never takes effect.
 */
export interface AuditRow {
  /** 1, 2, 3, ... with no gaps while the chain is intact. */
  seq: number;
  kind: "event" | "intent";
  time: number;
  eventId: string;
  eventName: string;
  eventSource: string;
  /** Accounts that may look the event up: the caller's and the resource owner's. */
  accountIds: string[];
  username?: string;
  accessKeyId?: string;
  readOnly: boolean;
  resources: { type: string; name: string }[];
  /** The record exactly as hashed (JSON text). */
  record: string;
  /** Hex SHA-256 of the previous row (64 zeros before the first, or the retention anchor). */
  prevHash: string;
  /** Hex SHA-256 of prevHash + "\n" + record. */
  hash: string;
}

/** A signed statement that the chain reached `seq` with `hash` at `time`. */
export interface AuditCheckpoint {
  seq: number;
  hash: string;
  time: number;
  /** HMAC-SHA256 under a key derived from the master key; a database thief cannot forge it. */
  signature: string;
}

export interface AuditQuery {
  accountId: string;
  startTime?: number;
  endTime?: number;
  attribute?: { key: "EventId" | "EventName" | "ReadOnly" | "Username" | "ResourceType" | "ResourceName" | "EventSource" | "AccessKeyId"; value: string };
  /** Only rows with seq below this (paging). */
  beforeSeq?: number;
  limit: number;
}

/** An alert notification waiting to be delivered (the outbox survives restarts). */
export interface AlertDelivery {
  id: string;
  rule: string;
  url: string;
  /** The JSON body to POST. */
  payload: string;
  attempts: number;
  nextAttemptAt: number;
  createdAt: number;
  lastError?: string;
}

/** Reads. Outside a transaction they see only committed data. */
export interface StoreReader {
  getSecret(arn: string): Promise<SecretRecord | undefined>;
  /** Names are unique per account among secrets that exist, including those scheduled for deletion. */
  getSecretByName(accountId: string, name: string): Promise<SecretRecord | undefined>;
  /** All secrets of an account, ordered by name. */
  listSecrets(accountId: string): Promise<SecretRecord[]>;
  /** Secrets whose purgeAt is at or before `now`, any account. */
  listSecretsDueForPurge(now: number): Promise<SecretRecord[]>;
  /** Secrets whose rotateAt is at or before `now`, any account, earliest first. */
  listSecretsDueForRotation(now: number, limit: number): Promise<SecretRecord[]>;
  getVersion(secretArn: string, versionId: string): Promise<VersionRecord | undefined>;
  /** The version carrying `stage`, if any (a label sits on at most one version). */
  getVersionByStage(secretArn: string, stage: string): Promise<VersionRecord | undefined>;
  /** All versions of a secret, newest first (by createdAt, then versionId). */
  listVersions(secretArn: string): Promise<VersionRecord[]>;
  getKey(keyId: string): Promise<KeyRecord | undefined>;
  listKeys(accountId: string): Promise<KeyRecord[]>;
  getAlias(accountId: string, aliasName: string): Promise<AliasRecord | undefined>;
  listAliases(accountId: string): Promise<AliasRecord[]>;
  getAccessKey(accessKeyId: string): Promise<AccessKeyRecord | undefined>;
  listAccessKeys(principalArn: string): Promise<AccessKeyRecord[]>;
  /** Every access key of every account (start-up maintenance only), by access key id. */
  listAllAccessKeys(): Promise<AccessKeyRecord[]>;
  getSetting(name: string): Promise<string | undefined>;
  getPrincipal(arn: string): Promise<PrincipalRecord | undefined>;
  /** Users and roles of an account, of one kind, ordered by name. */
  listPrincipals(accountId: string, kind: PrincipalRecord["kind"]): Promise<PrincipalRecord[]>;
  /** The last row of the audit chain, if any. */
  getAuditHead(): Promise<AuditRow | undefined>;
  /** Audit rows with seq >= fromSeq, ascending, at most `limit`. */
  listAuditRows(fromSeq: number, limit: number): Promise<AuditRow[]>;
  /** Rows of kind "event" visible to the account, matching the query, newest first. */
  queryAuditEvents(query: AuditQuery): Promise<AuditRow[]>;
  /** All checkpoints, ascending by seq. */
  listAuditCheckpoints(): Promise<AuditCheckpoint[]>;
  /** Deliveries whose nextAttemptAt is at or before `now`, oldest first. */
  listDueAlerts(now: number, limit: number): Promise<AlertDelivery[]>;
  /** Whether `principalArn` has read `resourceArn` before (for first-read alerts). */
  hasRead(principalArn: string, resourceArn: string): Promise<boolean>;
  getParameter(arn: string): Promise<ParameterRecord | undefined>;
  /**
   * An account's parameters under `path`, ordered by name (byte order), at most
   * `limit`, starting after the name `after` (exclusive). `path` ends with "/":
   * "/a/b/" holds the names that start with it; "/" holds every parameter, a
   * name without a leading slash counting as if it had one. Not `recursive`:
   * only names with no further "/" after the path. Backends answer from an
   * index on the name (a range, never a scan of the account).
   */
  listParametersByPath(
    accountId: string,
    path: string,
    opts: { recursive: boolean; after?: string; limit: number },
  ): Promise<ParameterRecord[]>;
  /** Parameters whose dueAt is at or before `now`, any account, earliest first. */
  listParametersDue(now: number, limit: number): Promise<ParameterRecord[]>;
  getParameterVersion(parameterArn: string, version: number): Promise<ParameterVersionRecord | undefined>;
  /** The version carrying `label`, if any. */
  getParameterVersionByLabel(parameterArn: string, label: string): Promise<ParameterVersionRecord | undefined>;
  /** All versions of a parameter, newest (highest number) first. */
  listParameterVersions(parameterArn: string): Promise<ParameterVersionRecord[]>;
}

/** Writes happen only inside a transaction; reads there see the transaction's own writes. */
export interface StoreTx extends StoreReader {
  /** Inserts or replaces the secret with this ARN. */
  putSecret(secret: SecretRecord): Promise<void>;
  /** Removes the secret and all its versions. */
  deleteSecret(arn: string): Promise<void>;
  /** Inserts or replaces the version (secretArn, versionId). */
  putVersion(version: VersionRecord): Promise<void>;
  deleteVersion(secretArn: string, versionId: string): Promise<void>;
  putKey(key: KeyRecord): Promise<void>;
  putAlias(alias: AliasRecord): Promise<void>;
  deleteAlias(accountId: string, aliasName: string): Promise<void>;
  putAccessKey(key: AccessKeyRecord): Promise<void>;
  deleteAccessKey(accessKeyId: string): Promise<void>;
  putSetting(name: string, value: string): Promise<void>;
  /** Inserts or replaces the principal with this ARN. */
  putPrincipal(principal: PrincipalRecord): Promise<void>;
  deletePrincipal(arn: string): Promise<void>;
  /** Appends rows; a seq that exists already is an error (the chain is append-only). */
  appendAuditRows(rows: AuditRow[]): Promise<void>;
  putAuditCheckpoint(checkpoint: AuditCheckpoint): Promise<void>;
  /** Removes rows and checkpoints with seq <= `seq` (retention, after export). */
  deleteAuditRowsThrough(seq: number): Promise<void>;
  putAlertDelivery(delivery: AlertDelivery): Promise<void>;
  deleteAlertDelivery(id: string): Promise<void>;
  markRead(principalArn: string, resourceArn: string): Promise<void>;
  /** Inserts or replaces the parameter with this ARN; a name another ARN holds in the account is an error. */
  putParameter(parameter: ParameterRecord): Promise<void>;
  /** Removes the parameter with all its versions and labels. */
  deleteParameter(arn: string): Promise<void>;
  /** Inserts or replaces the version; its labels move to it from any other version of the parameter. */
  putParameterVersion(version: ParameterVersionRecord): Promise<void>;
  /** Removes the version and its labels. */
  deleteParameterVersion(parameterArn: string, version: number): Promise<void>;
}

/**
 * Writes that never change what a node keeps in memory: the audit chain, the
 * alert outbox, first-read marks and settings (no cached read looks at them;
 * the alert worker moves its cursor setting every tick, which would otherwise
 * empty caches under load).
 */
export const UNCACHED_WRITES: ReadonlySet<string> = new Set([
  "appendAuditRows",
  "putAuditCheckpoint",
  "deleteAuditRowsThrough",
  "putAlertDelivery",
  "deleteAlertDelivery",
  "markRead",
  "putSetting",
]);

/**
 * A writer of the audit chain that commits off the caller's thread, for a
 * backend that can (SQLite: a worker thread with its own connection). Each
 * call's entries are chained (seq, prevHash, hash) after everything written
 * before, in call order; calls that arrive while a commit is in progress share
 * the next one (one transaction, one sync). A call resolves once its entries
 * are durable, and rejects if they may not be: then nothing is known about
 * them, as with a failed transaction.
 */
export interface AuditWriter {
  /** Resolves to the seq given to the first entry (the others follow it). `time` goes into the signed head. */
  append(entries: readonly AuditEntry[], time: number): Promise<number>;
}

/** An audit entry before it has its place in the chain (the chain fields are the writer's to fill in). */
export type AuditEntry = Omit<AuditRow, "seq" | "prevHash" | "hash">;

export interface Store extends StoreReader {
  /**
   * The backend's own audit writer, if it has one, signing heads and
   * checkpoints with `key` (the derived audit key, never the master key).
   * Backends without one leave it out, and the audit log chains rows in
   * ordinary transactions. The writer lives until close().
   */
  auditWriter?(key: Buffer): AuditWriter;
  /**
   * Runs `fn` in one transaction. Transactions are serialisable: a
   * transaction's reads and writes behave as if no other transaction ran
   * between them. If `fn` throws, nothing it wrote is kept and the error is
   * rethrown. When the promise resolves, the writes are durable. Calling
   * transaction from inside `fn` is an error (it would wait on itself).
   */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  /**
   * For a backend that several Coffer nodes share: resolves once this node's
   * reads see every write that any node acknowledged before the call, having
   * first told the onChange listeners if data changed elsewhere. Rejects when
   * that cannot be known (the database is unreachable): the caller fails
   * closed. Absent where this process is the database's only writer.
   */
  sync?(): Promise<void>;
  /**
   * Calls `listener` whenever data this node may hold in memory could have
   * changed through another node, so that it drops what it cached. Returns
   * the function that stops it. Absent with sync.
   */
  onChange?(listener: () => void): () => void;
  close(): Promise<void>;
}
