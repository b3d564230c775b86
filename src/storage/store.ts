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
  /** The secret access key sealed under the master key (AAD: the access key id). */
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

/** Reads. Outside a transaction they see only committed data. */
export interface StoreReader {
  getSecret(arn: string): Promise<SecretRecord | undefined>;
  /** Names are unique per account among secrets that exist, including those scheduled for deletion. */
  getSecretByName(accountId: string, name: string): Promise<SecretRecord | undefined>;
  /** All secrets of an account, ordered by name. */
  listSecrets(accountId: string): Promise<SecretRecord[]>;
  /** Secrets whose purgeAt is at or before `now`, any account. */
  listSecretsDueForPurge(now: number): Promise<SecretRecord[]>;
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
  getSetting(name: string): Promise<string | undefined>;
  getPrincipal(arn: string): Promise<PrincipalRecord | undefined>;
  /** Users and roles of an account, of one kind, ordered by name. */
  listPrincipals(accountId: string, kind: PrincipalRecord["kind"]): Promise<PrincipalRecord[]>;
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
}

export interface Store extends StoreReader {
  /**
   * Runs `fn` in one transaction. Transactions are serialisable: a
   * transaction's reads and writes behave as if no other transaction ran
   * between them. If `fn` throws, nothing it wrote is kept and the error is
   * rethrown. When the promise resolves, the writes are durable. Calling
   * transaction from inside `fn` is an error (it would wait on itself).
   */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
