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
  /** Rotation configuration and the rotation job under way, if any (src/services/rotation/). */
  rotation?: RotationState;
  /** When the rotation scheduler should next look at this secret (a window start, or a retry). */
  rotateAt?: number;
  /** Multi-region replication (src/services/replication/): a primary's replicas, or the primary a replica follows. */
  replication?: SecretReplication;
}

/**
 * A secret's part in replication. A primary lists its replicas and counts its
 * changes (`seq`, moved in the transaction of every change it replicates); a
 * replica names its primary's region and keeps the `seq` of the last change it
 * applied, so an older change never overwrites a newer one.
 */
export interface SecretReplication {
  /** On a replica: its primary's region. Absent on a primary. */
  primaryRegion?: string;
  seq: number;
  /** On a primary: its replica regions. */
  replicas?: ReplicaState[];
}

export interface ReplicaState {
  region: string;
  /** The key in the replica region, as the caller named it (default: that region's aws/secretsmanager). */
  kmsKeyId?: string;
  status: "InSync" | "InProgress" | "Failed";
  statusMessage?: string;
  /** Replace a secret of the same name that is not this one's replica (ForceOverwriteReplicaSecret). */
  overwrite?: boolean;
  /** Midnight UTC of the last day the replica was read there (reported by the replica region). */
  lastAccessedAt?: number;
}

/** RotationRules as the caller gave them (validated by src/services/rotation/rotation-schedule.ts). */
export interface RotationRules {
  automaticallyAfterDays?: number;
  scheduleExpression?: string;
  duration?: string;
}

/** A node's hold on a rotation under way, renewed before every step; once it lapses, any node may take over. */
export interface RotationClaim {
  node: string;
  until: number;
}

/**
 * What a secret remembers about its rotation. A rotation job is no row of its
 * own: it is `inProgress` here, claimed by its lease fields (`claim`), and
 * found by the secret's `rotateAt`. So a job changes in the same transaction
 * as the secret and versions it moves, and a deleted secret takes its job with it.
 */
export interface RotationState {
  enabled: boolean;
  functionArn: string;
  rules?: RotationRules;
  lastRotatedAt?: number;
  nextRotationAt?: number;
  /** A rotation under way: its token, the index of the next step to run, and the node running it. */
  inProgress?: { token: string; step: number; attempts: number; startedAt: number; claim?: RotationClaim };
  lastError?: string;
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

export type KeyState = "Enabled" | "Disabled" | "PendingDeletion";

/** What the keys service keeps about a key besides its material. */
export interface KeyMeta {
  description: string;
  state: KeyState;
  managedBy: "AWS" | "CUSTOMER";
  policy?: string;
  rotationEnabled?: boolean;
  rotationPeriodInDays?: number;
  deletionDate?: number;
  tags?: Tag[];
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
  meta: KeyMeta;
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
  session?: SessionInfo;
}

/** What an assumed-role session's temporary key remembers (part of the key's AAD: edited, the key no longer opens). */
export interface SessionInfo {
  roleArn: string;
  /** The role's unique id (AROA...): a role deleted and made again under the same name is another role. */
  roleId: string;
  sessionName: string;
  tags?: Tag[];
  /** Keys of `tags` that pass on to sessions this session assumes (role chaining). */
  transitiveTagKeys?: string[];
  /** Session policies (AssumeRole Policy, and the documents of PolicyArns), as JSON text. */
  policies?: string[];
  policyArns?: string[];
  /** AssumeRoleWithWebIdentity: the provider, the token's subject and audience (audited with each request). */
  webIdentity?: WebIdentityInfo;
  /** Who is behind the session (SourceIdentity): set once, kept through role chaining, never changed. */
  sourceIdentity?: string;
  /** SHA-256 (hex) of the session token; the token itself is never stored. */
  tokenHash: string;
}

/** Who a web identity session was issued to: the OIDC provider's ARN, the token's `sub` and `aud`. */
export interface WebIdentityInfo {
  providerArn: string;
  subject: string;
  audience: string;
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
  /** Managed policies attached (ARNs, in attachment order), the groups a user is in (ARNs), and the permissions boundary's policy ARN. */
  attachedPolicyArns?: string[];
  groupArns?: string[];
  permissionsBoundary?: string;
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

/**
 * How this region reaches a linked region (`coffer region add`): its endpoint
 * and credentials there, the secret access key sealed under the master key
 * (AAD: the link's name and access key id).
 */
export interface RegionLinkRecord {
  name: string;
  endpoint: string;
  accessKeyId: string;
  masterKeyId: string;
  sealedSecretAccessKey: Buffer;
  /** PEM of the CA that signs the peer's TLS certificate, if not a public one. */
  caCertificate?: string;
  createdAt: number;
}

/**
 * The replication outbox: one row per secret and target region, the latest
 * thing to do there. Written in the transaction of the change it carries
 * (so it is never lost and never sent for a change that rolled back);
 * deleted once the target acknowledged `seq`.
 */
export interface ReplicationTask {
  /** The local secret's ARN (for "delete", the primary's ARN, which may no longer exist). */
  secretArn: string;
  region: string;
  accountId: string;
  /** "sync": send the secret's state; "delete": remove the replica; "detach": tell the primary its replica was promoted. */
  kind: "sync" | "delete" | "detach";
  seq: number;
  attempts: number;
  nextAttemptAt: number;
  createdAt: number;
  lastError?: string;
}

/*
 * The contract by domain. Each domain has its reads (also callable outside a
 * transaction, where they see only committed data) and its writes (only
 * inside a transaction, whose reads see its own writes); `<Domain>Store` is
 * what a service of that domain takes: the reads and transactions over the
 * domain's records alone. StoreReader and StoreTx are all domains together,
 * what a backend implements.
 */

/** A store whose transactions offer `Tx` (any Store is one, for every domain's Tx). */
export interface Transactional<Tx> {
  /** As Store.transaction. */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
}

/**
 * Secrets and their versions. Rotation jobs belong here: a job is the
 * `rotation` state on its secret (claimed by lease fields there), so taking a
 * job, running a step and moving a stage can share one transaction.
 */
export interface SecretReads {
  getSecret(arn: string): Promise<SecretRecord | undefined>;
  /** Names are unique per account among secrets that exist, including those scheduled for deletion. */
  getSecretByName(accountId: string, name: string): Promise<SecretRecord | undefined>;
  /** All secrets of an account, ordered by name. */
  listSecrets(accountId: string): Promise<SecretRecord[]>;
  /** Secrets whose purgeAt is at or before `now`, any account. */
  listSecretsDueForPurge(now: number): Promise<SecretRecord[]>;
  /** Secrets whose rotateAt is at or before `now`, any account, earliest first: the rotation jobs that are due. */
  listSecretsDueForRotation(now: number, limit: number): Promise<SecretRecord[]>;
  getVersion(secretArn: string, versionId: string): Promise<VersionRecord | undefined>;
  /** The version carrying `stage`, if any (a label sits on at most one version). */
  getVersionByStage(secretArn: string, stage: string): Promise<VersionRecord | undefined>;
  /** All versions of a secret, newest first (by createdAt, then versionId). */
  listVersions(secretArn: string): Promise<VersionRecord[]>;
}

export interface SecretWrites {
  /** Inserts or replaces the secret with this ARN. */
  putSecret(secret: SecretRecord): Promise<void>;
  /** Removes the secret and all its versions. */
  deleteSecret(arn: string): Promise<void>;
  /** Inserts or replaces the version (secretArn, versionId); its stages move to it from any other version of the secret. */
  putVersion(version: VersionRecord): Promise<void>;
  deleteVersion(secretArn: string, versionId: string): Promise<void>;
}

export interface SecretTx extends SecretReads, SecretWrites {}
export interface SecretStore extends SecretReads, Transactional<SecretTx> {}

/** Parameter Store parameters, their versions and labels. */
export interface ParameterReads {
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

export interface ParameterWrites {
  /** Inserts or replaces the parameter with this ARN; a name another ARN holds in the account is an error. */
  putParameter(parameter: ParameterRecord): Promise<void>;
  /** Removes the parameter with all its versions and labels. */
  deleteParameter(arn: string): Promise<void>;
  /** Inserts or replaces the version; its labels move to it from any other version of the parameter. */
  putParameterVersion(version: ParameterVersionRecord): Promise<void>;
  /** Removes the version and its labels. */
  deleteParameterVersion(parameterArn: string, version: number): Promise<void>;
}

export interface ParameterTx extends ParameterReads, ParameterWrites {}
export interface ParameterStore extends ParameterReads, Transactional<ParameterTx> {}

/** IAM users and roles, and access keys (long-term and temporary). */
export interface IdentityReads {
  getPrincipal(arn: string): Promise<PrincipalRecord | undefined>;
  /** Users and roles of an account, of one kind, ordered by name. */
  listPrincipals(accountId: string, kind: PrincipalRecord["kind"]): Promise<PrincipalRecord[]>;
  getAccessKey(accessKeyId: string): Promise<AccessKeyRecord | undefined>;
  /** A principal's access keys, oldest first (by createdAt, then access key id). */
  listAccessKeys(principalArn: string): Promise<AccessKeyRecord[]>;
  /** Every access key of every account (start-up maintenance only), by access key id. */
  listAllAccessKeys(): Promise<AccessKeyRecord[]>;
}

export interface IdentityWrites {
  /** Inserts or replaces the principal with this ARN; a (account, kind, name) another ARN holds is an error. */
  putPrincipal(principal: PrincipalRecord): Promise<void>;
  deletePrincipal(arn: string): Promise<void>;
  /** Inserts or replaces the access key with this id. */
  putAccessKey(key: AccessKeyRecord): Promise<void>;
  deleteAccessKey(accessKeyId: string): Promise<void>;
}

export interface IdentityTx extends IdentityReads, IdentityWrites {}
export interface IdentityStore extends IdentityReads, Transactional<IdentityTx> {}

/** KMS-style keys and their aliases. */
export interface KeyReads {
  getKey(keyId: string): Promise<KeyRecord | undefined>;
  listKeys(accountId: string): Promise<KeyRecord[]>;
  getAlias(accountId: string, aliasName: string): Promise<AliasRecord | undefined>;
  listAliases(accountId: string): Promise<AliasRecord[]>;
}

export interface KeyWrites {
  /** Inserts or replaces the key with this id. */
  putKey(key: KeyRecord): Promise<void>;
  /** Inserts or replaces the alias (accountId, aliasName). */
  putAlias(alias: AliasRecord): Promise<void>;
  deleteAlias(accountId: string, aliasName: string): Promise<void>;
}

export interface KeyTx extends KeyReads, KeyWrites {}
export interface KeyStore extends KeyReads, Transactional<KeyTx> {}

/** The audit chain and its checkpoints, the alert outbox, and first-read marks. */
export interface AuditReads {
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
}

/** None of these changes a cached read (UNCACHED_WRITES). */
export interface AuditWrites {
  /** Appends rows; a seq that exists already is an error (the chain is append-only). */
  appendAuditRows(rows: AuditRow[]): Promise<void>;
  putAuditCheckpoint(checkpoint: AuditCheckpoint): Promise<void>;
  /** Removes rows and checkpoints with seq <= `seq` (retention, after export). */
  deleteAuditRowsThrough(seq: number): Promise<void>;
  /** Inserts or replaces the delivery with this id. */
  putAlertDelivery(delivery: AlertDelivery): Promise<void>;
  deleteAlertDelivery(id: string): Promise<void>;
  /** Idempotent. */
  markRead(principalArn: string, resourceArn: string): Promise<void>;
}

export interface AuditTx extends AuditReads, AuditWrites {}
export interface AuditStore extends AuditReads, Transactional<AuditTx> {}

/** Named text values: node-wide flags, cursors and leases (lease.ts). */
export interface SettingReads {
  getSetting(name: string): Promise<string | undefined>;
}

/** None of these changes a cached read (UNCACHED_WRITES). */
export interface SettingWrites {
  /** Inserts or replaces. */
  putSetting(name: string, value: string): Promise<void>;
}

export interface SettingTx extends SettingReads, SettingWrites {}
export interface SettingStore extends SettingReads, Transactional<SettingTx> {}

/**
 * An IAM OpenID Connect identity provider of an account (docs/workload-identity.md). Its ARN is
 * arn:aws:iam::<account>:oidc-provider/<url without https://>, unique per account.
 */
export interface OidcProviderRecord {
  arn: string;
  accountId: string;
  /** The issuer URL as registered ("https://host/path"); tokens' `iss` must equal it. */
  url: string;
  /** Audiences a token may carry (`aud`); at least one must match. */
  clientIds: string[];
  /** SHA-1 thumbprints as the caller gave them (kept for IAM compatibility). */
  thumbprints: string[];
  tags: Tag[];
  createdAt: number;
  /** Coffer extension: the issuer's public keys (a JWKS, JSON text) given inline; keys are then never fetched. */
  inlineKeys?: string;
}

/** OIDC identity providers. */
export interface OidcProviderReads {
  getOidcProvider(arn: string): Promise<OidcProviderRecord | undefined>;
  /** An account's providers, ordered by ARN. */
  listOidcProviders(accountId: string): Promise<OidcProviderRecord[]>;
}

export interface OidcProviderWrites {
  /** Inserts or replaces the provider with this ARN. */
  putOidcProvider(provider: OidcProviderRecord): Promise<void>;
  deleteOidcProvider(arn: string): Promise<void>;
}

export interface OidcProviderTx extends OidcProviderReads, OidcProviderWrites {}
export interface OidcProviderStore extends OidcProviderReads, Transactional<OidcProviderTx> {}

/** One version of a managed policy: its document as the caller gave it (JSON text). */
export interface ManagedPolicyVersion {
  /** "v1", "v2", ...: never reused within the policy. */
  versionId: string;
  document: string;
  createdAt: number;
}

/** A customer managed policy: up to five versions, one of them the default (the one evaluated). */
export interface ManagedPolicyRecord {
  arn: string;
  accountId: string;
  name: string;
  path: string;
  /** ANPA..., as IAM's policy ids look. */
  id: string;
  description?: string;
  createdAt: number;
  updatedAt: number;
  defaultVersionId: string;
  /** The number the next version gets. */
  nextVersion: number;
  /** Newest first. */
  versions: ManagedPolicyVersion[];
  tags: Tag[];
}

/** An IAM group: its inline and attached policies. Members are the users whose groupArns name it. */
export interface GroupRecord {
  arn: string;
  accountId: string;
  name: string;
  path: string;
  /** AGPA..., as IAM's group ids look. */
  id: string;
  createdAt: number;
  inlinePolicies: Record<string, string>;
  attachedPolicyArns: string[];
}

/** Customer managed policies and IAM groups, per account. */
export interface IamPolicyReads {
  getManagedPolicy(arn: string): Promise<ManagedPolicyRecord | undefined>;
  /** An account's customer managed policies, ordered by name. */
  listManagedPolicies(accountId: string): Promise<ManagedPolicyRecord[]>;
  getGroup(arn: string): Promise<GroupRecord | undefined>;
  /** An account's groups, ordered by name. */
  listGroups(accountId: string): Promise<GroupRecord[]>;
}

export interface IamPolicyWrites {
  /** Inserts or replaces the policy with this ARN; an (account, name) another ARN holds is an error. */
  putManagedPolicy(policy: ManagedPolicyRecord): Promise<void>;
  deleteManagedPolicy(arn: string): Promise<void>;
  /** Inserts or replaces the group with this ARN; an (account, name) another ARN holds is an error. */
  putGroup(group: GroupRecord): Promise<void>;
  deleteGroup(arn: string): Promise<void>;
}

export interface IamPolicyTx extends IamPolicyReads, IamPolicyWrites, IdentityReads, IdentityWrites {}
/** Managed policies and groups change with the users and roles they attach to, in one transaction. */
export interface IamPolicyStore extends IamPolicyReads, IdentityReads, Transactional<IamPolicyTx> {}

/** Region links and the replication outbox. */
export interface ReplicationReads {
  getRegionLink(name: string): Promise<RegionLinkRecord | undefined>;
  /** By name. */
  listRegionLinks(): Promise<RegionLinkRecord[]>;
  getReplicationTask(secretArn: string, region: string): Promise<ReplicationTask | undefined>;
  /** Tasks whose nextAttemptAt is at or before `now`, earliest first, at most `limit`. */
  listDueReplicationTasks(now: number, limit: number): Promise<ReplicationTask[]>;
  /** Every task for `secretArn`, any region. */
  listReplicationTasks(secretArn: string): Promise<ReplicationTask[]>;
}

/** None of these changes a cached read (UNCACHED_WRITES). */
export interface ReplicationWrites {
  /** Inserts or replaces the link with this name. */
  putRegionLink(link: RegionLinkRecord): Promise<void>;
  deleteRegionLink(name: string): Promise<void>;
  /** Inserts or replaces the task (secretArn, region). */
  putReplicationTask(task: ReplicationTask): Promise<void>;
  deleteReplicationTask(secretArn: string, region: string): Promise<void>;
}

export interface ReplicationTx extends ReplicationReads, ReplicationWrites {}
export interface ReplicationStore extends ReplicationReads, Transactional<ReplicationTx> {}

/** Every domain's reads. Outside a transaction they see only committed data. */
export interface StoreReader
  extends SecretReads, ParameterReads, IdentityReads, IamPolicyReads, KeyReads, AuditReads, SettingReads, OidcProviderReads, ReplicationReads {}

/** Every domain's writes, which happen only inside a transaction; reads there see the transaction's own writes. */
export interface StoreTx
  extends StoreReader, SecretWrites, ParameterWrites, IdentityWrites, IamPolicyWrites, KeyWrites, AuditWrites, SettingWrites, OidcProviderWrites, ReplicationWrites {}

/**
 * Writes that never change what a node keeps in memory: the audit chain, the
 * alert outbox, first-read marks and settings (no cached read looks at them;
 * the alert worker moves its cursor setting every tick, which would otherwise
 * empty caches under load). Every write of AuditWrites and SettingWrites, by type.
 */
const uncachedWrites: Record<keyof AuditWrites | keyof SettingWrites | keyof ReplicationWrites, true> = {
  appendAuditRows: true,
  putAuditCheckpoint: true,
  deleteAuditRowsThrough: true,
  putAlertDelivery: true,
  deleteAlertDelivery: true,
  markRead: true,
  putSetting: true,
  putRegionLink: true,
  deleteRegionLink: true,
  putReplicationTask: true,
  deleteReplicationTask: true,
};
export const UNCACHED_WRITES: ReadonlySet<string> = new Set(Object.keys(uncachedWrites));

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
  /**
   * Resolves to the seq given to the first entry (the others follow it). `time` goes into the signed head.
   * With `validAt` (an epoch from Store.epoch), the entries are written only if no write has been
   * committed since that epoch, read in the commit itself; otherwise nothing of this call is written,
   * the store has told its onChange listeners, and the call rejects with StaleEpochError.
   */
  append(entries: readonly AuditEntry[], time: number, validAt?: string): Promise<number>;
}

/** An audit append made for a request whose reads may have been stale (AuditWriter.append's `validAt`). */
export class StaleEpochError extends Error {
  constructor() {
    super("data changed on another node while the request ran");
    this.name = "StaleEpochError";
  }
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
   * Runs `fn` in one transaction. A transaction's reads and writes behave
   * as if no other transaction ran between them for every row it writes and
   * every secret, parameter or principal it reads before writing (SQLite runs
   * one transaction at a time; PostgreSQL locks those rows and retries `fn`
   * from the start when it lost a race, so `fn` must have no effect outside
   * the transaction). Callers read the resource they change first. If `fn`
   * throws, nothing it wrote is kept and the error is rethrown. When the
   * promise resolves, the writes are durable. Calling transaction from
   * inside `fn` is an error (it would wait on itself).
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
  /**
   * With sync: the change epoch this node's memory is known to be current
   * at (undefined before the first sync). A request may read from memory
   * without syncing first if its audit entries are appended with this epoch
   * as `validAt`: the audit commit then proves nothing changed since, in the
   * same round trip that makes the entries durable, or the request runs again.
   */
  epoch?(): string | undefined;
  close(): Promise<void>;
}
