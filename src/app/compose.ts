import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { pino, type Logger } from "pino";
import { secretsManagerApi } from "../api/secretsmanager/secretsmanager-handlers.ts";
import { createKeyring, type Keyring } from "../crypto/keyring.ts";
import type { MasterKey, MasterKeySource } from "../crypto/master-key.ts";
import { createServer, type CofferServer } from "../server/app.ts";
import { autoCertificate } from "../server/tls.ts";
import { cloudTrailApi } from "../api/cloudtrail/cloudtrail-handlers.ts";
import { iamApi } from "../api/iam/iam-handlers.ts";
import { createAuditLog } from "../audit/audit-log.ts";
import { CURSOR_SETTING, createAlerts, parseAlertRules, type AlertRule } from "../audit/alerts.ts";
import { exportAndPrune, signLegacyAnchor } from "../audit/audit-retention.ts";
import { createAuditLookup, createRequestAuditor, createServiceEventRecorder } from "../audit/audit-service.ts";
import { createAuditVerification } from "../audit/audit-verify.ts";
import { kmsApi } from "../api/kms/kms-handlers.ts";
import { cofferAdminApi } from "../api/coffer/coffer-handlers.ts";
import { ssmApi } from "../api/ssm/ssm-handlers.ts";
import { stsApi } from "../api/sts/sts-handlers.ts";
import { createIamService } from "../services/identity/iam-service.ts";
import { createGroupService } from "../services/identity/iam-groups.ts";
import { createManagedPolicyService } from "../services/identity/managed-policies.ts";
import { managedPolicyHandlers } from "../api/iam/managed-policy-handlers.ts";
import { createIdentityService, type NewAccessKey } from "../services/identity/identity-service.ts";
import { createPolicyAuthorizer } from "../services/identity/policy-authorizer.ts";
import { createStsService } from "../services/identity/sts-service.ts";
import { createKeysService } from "../services/keys/keys-service.ts";
import { databaseRotators } from "../services/rotation/rotators/index.ts";
import { createFunctionRegistry } from "../services/rotation/rotation-registry.ts";
import { createWebhookClient } from "../services/webhook/webhook-client.ts";
import { webhookNetworks } from "../services/webhook/webhook-networks.ts";
import { createRotationService, type RotationService } from "../services/rotation/rotation-service.ts";
import { createSecretsService } from "../services/secrets/secrets-service.ts";
import { createParametersService, type ParametersService } from "../services/parameters/parameters-service.ts";
import { withReadCache } from "../storage/cached-store.ts";
import type { Store } from "../storage/store.ts";
import type { Config } from "./config.ts";
import { openStore, requireData } from "./open-store.ts";
import { acquireServerLock, isLoopback, openMasterKey, prepareDataDir, writeAdminCredentials, writeServerInfo } from "./data-dir.ts";
import { createScheduler } from "./scheduler.ts";
import { workloadIdentity } from "./compose-oidc.ts";
import { createMetrics, type Metrics } from "./metrics.ts";
import { asOperator } from "./operator-audit.ts";
import { createReadiness } from "./readiness.ts";
import { createMasterKeyFollower, loadAuditKey } from "./master-key-handoff.ts";
import { rootArn } from "../shared/arn.ts";
import { createLeases } from "../storage/lease.ts";
import { REPLICATION_JOB, startReplication } from "./replication.ts";

/** The alert worker's lease: a node that dies holding it stops alerts for this long at most. */
const ALERTS_LEASE_MS = 30_000;

export interface Coffer {
  server: CofferServer;
  logger: Logger;
  /** The administrator key, present only on the first start of a data directory (already saved to adminCredentialsFile). */
  adminKey?: NewAccessKey;
  identity: ReturnType<typeof createIdentityService>;
  secrets: ReturnType<typeof createSecretsService>;
  parameters: ParametersService;
  iam: ReturnType<typeof createIamService>;
  rotation: RotationService;
  store: Store;
  auditKey: Buffer;
  config: Config;
  /** Listens; resolves to the URL clients should use. */
  start(): Promise<string>;
  /**
   * Stops accepting requests, lets in-flight ones finish, then closes the store.
   * The listener is closed synchronously, before the first await: the CLI's
   * "shutting down" log line (src/cli/shutdown.ts) relies on it.
   */
  stop(): Promise<void>;
}

export function createLogger(config: Config): Logger {
  return pino(
    { level: config.logLevel, redact: ["req.headers.authorization"] },
    // Each line written as it happens (an operator tailing the log, a crash, a container runtime must
    // see it); the per-request line is debug, so at info this is a few lines an hour.
    pino.destination({ dest: 1, sync: true }),
  );
}

/**
 * The one composition root: config -> store -> crypto -> services -> api -> server.
 * Before anything is sealed or served: the data directory is private, this
 * server holds its lock, and the master key is proven to open its data.
 */
export async function createCoffer(
  config: Config,
  opts: { logger?: Logger; clock?: { now(): number } } = {},
): Promise<Coffer> {
  const logger = opts.logger ?? createLogger(config);
  const clock = opts.clock ?? { now: () => Date.now() };
  const looseDir = prepareDataDir(config.dataDir);
  if (looseDir) logger.warn(looseDir);
  const lock = acquireServerLock(config.dataDir);
  const metrics = createMetrics();
  let store: Store | undefined;
  try {
    const opened = await openStore(config);
    store = opened.store;
    const masterKey = await openMasterKey(masterKeySource(config), store, opened.sealedKeyIds);
    const cached = withReadCache(store, { onLookup: metrics.onReadCache });
    return await assemble(config, { logger, clock, masterKey, metrics, store: cached, release: () => lock.release() });
  } catch (err) {
    await store?.close().catch(() => {});
    lock.release();
    throw err;
  }
}

async function assemble(
  config: Config,
  {
    logger,
    clock,
    masterKey,
    metrics,
    store,
    release,
  }: { logger: Logger; clock: { now(): number }; masterKey: MasterKey; metrics: Metrics; store: Store; release(): void },
): Promise<Coffer> {
  const keyring = createKeyring({ store, masterKey, region: config.region, clock });
  // A master key rotation under way: this node takes the new key before it serves (docs/master-key.md).
  const masterKeys = createMasterKeyFollower({ store, keyring, nodeId: config.nodeId, log: logger });
  await masterKeys.check();
  const identity = createIdentityService({ store, keyring, clock, onCacheLookup: metrics.onCredentialCache });
  const authorizer = createPolicyAuthorizer({ store, clock });
  const auditKey = await loadAuditKey(store, keyring, masterKey);
  if (await signLegacyAnchor(store, auditKey)) logger.info("signed the audit retention anchor an older Coffer left unsigned");
  const auditLog = createAuditLog({
    store,
    key: auditKey,
    clock,
    filePath: config.auditFile,
    onFileError: (err) => logger.error({ err: { message: err.message } }, "audit file sink failed"),
    onBatch: metrics.onAuditBatch,
  });
  const serviceEvents = config.audit === "on" ? createServiceEventRecorder(auditLog, { region: config.region, clock }) : undefined;
  const keys = createKeysService({ store, keyring, authorizer, clock, region: config.region });
  // Multi-region replication (docs/replication.md): secrets and rotation write through its outbox.
  const replication = startReplication({
    store,
    keyring,
    authorizer,
    clock,
    region: config.region,
    log: logger,
    pollSeconds: config.replicationPollSeconds,
    retryMaxSeconds: config.replicationRetryMaxSeconds,
  });
  const secrets = createSecretsService({ store: replication.outboxStore, keyring, authorizer, keyAccess: keys, serviceEvents, clock, region: config.region });
  const parameters = createParametersService({
    store,
    keyring,
    authorizer,
    keyAccess: keys,
    secrets,
    serviceEvents,
    clock,
    region: config.region,
  });
  const iam = createIamService({ store, identity, authorizer, clock });
  let endpoint = "";
  const webhooks = createWebhookClient(webhookNetworks(config.webhookAllowedNetworks));
  const stepTimeoutMs = config.rotationStepTimeoutSeconds * 1000;
  const functions = createFunctionRegistry({
    store,
    keyring,
    authorizer,
    region: config.region,
    builtins: databaseRotators(),
    webhooks,
    // The operator: the founding account's root, whose key the first start created.
    isOperator: (p) => p.kind === "root" && p.accountId === config.accountId,
    stepTimeoutMs,
    commands: {
      region: config.region,
      endpoint: () => endpoint,
      credentialsFor: (roleArn) => sts.sessionFor(roleArn, "coffer-rotation", 900),
    },
  });
  const rotation = createRotationService({
    store: replication.outboxStore,
    secrets,
    authorizer,
    clock,
    region: config.region,
    node: config.nodeId,
    resolveFunction: (arn) => functions.resolve(arn),
    stepTimeoutMs,
    serviceEvents,
    onOutcome: metrics.onRotation,
    log: logger,
  });
  const sts = createStsService({ store, identity, authorizer, clock });
  const federation = workloadIdentity(config, { store, identity, authorizer, clock });
  // Before any request: keys sealed by an earlier version get their owner bound into the AAD.
  await identity.sealLegacyAccessKeys();
  const adminKey = await identity.bootstrap(config.accountId);
  // Saved before anything else can fail, so a first start that fails later does not lock the administrator out.
  if (adminKey) writeAdminCredentials(config.dataDir, adminKey);
  await functions.sealLegacySecrets();
  // A new data directory: the alert worker starts from the first event (on an older one, only new events alert).
  if (adminKey) await store.transaction((tx) => tx.putSetting(CURSOR_SETTING, "0"));

  const https =
    config.tls === "auto"
      ? await autoCertificate(config.dataDir, config.host)
      : config.tls === "files"
        ? { key: await readFile(config.tlsKey!), cert: await readFile(config.tlsCert!) }
        : undefined;
  // Several nodes on one database: one runs each singleton job and the alert worker (leases), and
  // every node drops what it cached when another node wrote (store.onChange).
  const leases = createLeases(store, config.nodeId, clock);
  replication.useLease((name, ms) => leases.hold(name, ms));
  store.onChange?.(() => identity.invalidate());
  const alerts = createAlerts({
    store,
    rules: () => alertRules(store, config),
    clock,
    logger,
    webhooks,
    lease: () => leases.hold("alerts", ALERTS_LEASE_MS),
    onDelivery: metrics.onAlertDelivery,
  });
  // The alert worker follows the trail from memory as it is committed, instead of reading it back.
  auditLog.onCommitted((rows) => alerts.feed(rows));
  if (config.audit === "off") logger.warn("auditing is OFF: requests are not recorded (for benchmarks only)");
  if (!https && !isLoopback(config.host)) {
    logger.warn(
      { host: config.host },
      "serving plain HTTP without TLS on a non-loopback address: secret values cross the network in clear; use --tls auto, --tls-cert/--tls-key, or a TLS proxy on this machine",
    );
  }
  const server = createServer({
    logger,
    auditor: config.audit === "on" ? createRequestAuditor(auditLog) : undefined,
    defaultAccountId: config.accountId,
    services: [
      secretsManagerApi(secrets, rotation, replication.service),
      replication.api,
      ssmApi(parameters),
      kmsApi(keys),
      federation.iam(iamApi(iam, managedPolicyHandlers(createManagedPolicyService({ store, authorizer, clock }), createGroupService({ store, authorizer, clock })))),
      federation.sts(stsApi(sts)),
      cloudTrailApi(createAuditLookup({ store, authorizer })),
      federation.admin(cofferAdminApi(functions, createAuditVerification({ store, key: auditKey, authorizer }))),
    ],
    lookupCredential: identity.lookupCredential,
    region: config.region,
    clock,
    bodyLimit: config.bodyLimit,
    https,
    timeouts: {
      headersMs: config.headersTimeoutSeconds * 1000,
      requestMs: config.requestTimeoutSeconds * 1000,
      idleMs: config.idleTimeoutSeconds * 1000,
    },
    authFailureLimit: { burst: config.authFailureBurst, ratePerSecond: config.authFailureRatePerSecond },
    sync: store.sync && (() => store.sync!()),
    // Reads skip the sync when their audit record can prove nothing changed (needs the audit writer).
    epoch: config.audit === "on" && store.epoch && store.auditWriter ? () => store.epoch!() : undefined,
    onAnswered: config.metrics === "on" ? metrics.onAnswered : undefined,
    metrics: config.metrics === "on" ? metrics.scrape : undefined,
    readiness: createReadiness({ store, masterKey, audit: config.audit === "on" ? auditLog : undefined, log: logger }),
  });

  const scheduler = createScheduler(
    [
      // Due rotations: windows that opened, retries, and rotations a crash interrupted.
      { name: "rotations", everySeconds: config.rotationPollSeconds, run: () => rotation.runDue() },
      { name: "master-key", everySeconds: 1, run: () => masterKeys.check() },
      // The replication outbox: also started at once by every change this node queues.
      { name: REPLICATION_JOB, everySeconds: config.replicationPollSeconds, singleton: true, run: () => replication.deliver() },
      { name: "purge", everySeconds: config.purgeIntervalSeconds, singleton: true, run: () => secrets.purgeDue() },
      // Parameter policies: expired parameters deleted, notifications recorded (and alerted on).
      { name: "parameter-policies", everySeconds: config.parameterPolicyPollSeconds, singleton: true, run: () => parameters.expireDue() },
      {
        name: "audit-retention",
        everySeconds: config.purgeIntervalSeconds,
        singleton: true,
        run: async () =>
          config.auditRetentionDays > 0 &&
          exportAndPrune(store, {
            before: clock.now() - config.auditRetentionDays * 86_400_000,
            // Never past what the alert worker has looked at.
            maxSeq: Number((await store.getSetting(CURSOR_SETTING)) ?? 0),
            exportDir: join(config.dataDir, "audit-export"),
            key: auditKey,
          }),
      },
    ],
    { log: logger, sync: store.sync && (() => store.sync!()), lease: (name, ms) => leases.hold(name, ms) },
  );

  return {
    server,
    logger,
    adminKey,
    identity,
    secrets,
    parameters,
    iam,
    rotation,
    store,
    auditKey,
    config,
    async start() {
      await server.listen({ host: config.host, port: config.port });
      // Started even without rules, so its cursor keeps up with the trail.
      alerts.start();
      const address = server.server.address();
      const port = typeof address === "object" && address ? address.port : config.port;
      const host = config.host.includes(":") ? `[${config.host}]` : config.host;
      endpoint = `${https ? "https" : "http"}://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`;
      // For the CLI on this machine (coffer whoami, coffer env): where to connect and what to trust.
      writeServerInfo(config.dataDir, {
        url: endpoint,
        region: config.region,
        ...(config.tls === "auto" ? { caCertificate: join(config.dataDir, "tls-cert.pem") } : {}),
      });
      scheduler.start();
      return endpoint;
    },
    async stop() {
      const jobsDone = scheduler.stop();
      await server.close();
      await jobsDone;
      await replication.stop();
      await rotation.idle();
      await auditLog.drain();
      await alerts.stop();
      // Handed over at once rather than when they expire.
      await leases.releaseAll().catch((err: Error) => logger.warn({ err: { message: err.message } }, "could not release this node's leases"));
      await store.close();
      release();
    },
  };
}

/** Opens the data directory's store, keyring and audit key without a server (for `coffer audit verify`, `coffer functions`). */
export async function openDataDir(config: Config): Promise<{ store: Store; keyring: Keyring; auditKey: Buffer }> {
  requireData(config);
  const { store, masterKey } = await openExisting(config);
  const keyring = createKeyring({ store, masterKey, region: config.region, clock: { now: () => Date.now() } });
  return { store, keyring, auditKey: await loadAuditKey(store, keyring, masterKey) };
}

/** Creates another account's root key, straight on the data directory (the server may be running); audited as the operator's action. */
export async function createAccount(config: Config, accountId: string): Promise<NewAccessKey> {
  const { store, keyring, auditKey } = await openDataDir(config);
  try {
    const identity = createIdentityService({ store, keyring, clock: { now: () => Date.now() } });
    if ((await store.listAccessKeys(rootArn(accountId))).length > 0) {
      throw new Error(`Account ${accountId} already exists.`);
    }
    return await asOperator(
      { store, auditKey, region: config.region },
      {
        eventName: "CreateAccount",
        command: "coffer account create",
        accountId: config.accountId,
        resources: [{ arn: rootArn(accountId), type: "AWS::IAM::Root" }],
        details: { accountId },
      },
      () => identity.createAccessKey({ arn: rootArn(accountId), accountId, kind: "root" }),
      (key) => ({ accessKeyId: key.accessKeyId }),
    );
  } finally {
    await store.close();
  }
}

/** The store and proven master key of an existing data directory, for admin commands (no lock: they work beside a running server). */
export async function openExisting(config: Config): Promise<{ store: Store; masterKey: MasterKey; sealedKeyIds(): Promise<string[]> }> {
  const { store, sealedKeyIds } = await openStore(config);
  try {
    return { store, masterKey: await openMasterKey(masterKeySource(config), store, sealedKeyIds), sealedKeyIds };
  } catch (err) {
    await store.close();
    throw err;
  }
}

/** Rules from the config file, then those `coffer alerts add` stored in the data directory. */
export const STORED_RULES_SETTING = "alerts.rules";

async function alertRules(store: Store, config: Config): Promise<AlertRule[]> {
  const stored = await store.getSetting(STORED_RULES_SETTING);
  return [...config.alerts, ...(stored ? parseAlertRules(JSON.parse(stored)) : [])];
}

export function masterKeySource(config: Config): MasterKeySource {
  if (config.masterKey) return { kind: "env", base64: config.masterKey };
  if (config.masterKeyCommand) return { kind: "command", argv: config.masterKeyCommand };
  if (config.masterPassphrase) {
    return { kind: "passphrase", passphrase: config.masterPassphrase, saltPath: join(config.dataDir, "master.salt") };
  }
  return { kind: "file", path: config.masterKeyFile };
}
