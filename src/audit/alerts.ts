import { randomUUID } from "node:crypto";
import type { AlertDelivery, AuditReads, AuditRow, AuditTx, SettingReads, SettingTx, Transactional } from "../storage/store.ts";

/** What the worker needs of an audit row (the audit log's committed entries have no hashes). */
type TrailRow = Pick<AuditRow, "seq" | "kind" | "record" | "time">;
import { deliverDueAlerts, type AlertDeliveryOutcome, type AlertLogger } from "./alerts-delivery.ts";
import type { WebhookClient } from "../services/webhook/webhook-client.ts";
import type { CloudTrailEvent, UserIdentity } from "./audit-types.ts";
import type { AlertPayload, AlertRule } from "./alerts-rules.ts";

export { parseAlertRules, type AlertPayload, type AlertRule } from "./alerts-rules.ts";

/**
 * Alerts: rules evaluated against the audit log by a background worker, so
 * an alert never slows or fails a request. The worker follows the log with a
 * cursor and, per batch, queues the notifications, records first reads and
 * moves the cursor in one transaction: a crash neither loses nor repeats a
 * notification, and delivery (alerts-delivery.ts) is at least once from there.
 */

/** The audit log and outbox, and the settings that hold the worker's cursor (moved in the same transaction). */
export interface AlertsTx extends AuditTx, SettingTx {}
export interface AlertsStore extends AuditReads, SettingReads, Transactional<AlertsTx> {}

export interface AlertsOptions {
  store: AlertsStore;
  /** Read at every tick, so a configuration reload takes effect without a restart. */
  rules: () => AlertRule[] | Promise<AlertRule[]>;
  clock: { now(): number };
  logger?: AlertLogger;
  pollMs?: number;
  maxAttempts?: number;
  /** Posts the notifications; it refuses internal addresses the operator has not allowed. */
  webhooks: WebhookClient;
  /**
   * With several nodes on one database: whether this node holds the alert
   * worker's lease. Only its holder evaluates the trail and delivers, so a
   * notification goes out once; the others follow nothing until they take over.
   */
  lease?: () => Promise<boolean>;
  /** Told how each delivery attempt ended (metrics). */
  onDelivery?: (outcome: AlertDeliveryOutcome) => void;
}

/** Last audit seq the worker has evaluated. */
export const CURSOR_SETTING = "alerts.cursor";
/** Rows up to this seq existed before alerts first ran: they seed first-read history but raise nothing. */
export const SILENT_SETTING = "alerts.silentThrough";

const BATCH_ROWS = 500;
/** Bounds one tick's catching up, so deliveries keep flowing while a backlog is evaluated. */
const MAX_BATCHES_PER_TICK = 20;
/** Failure times kept per address and rule; beyond it the oldest are forgotten. */
const MAX_TRACKED_FAILURES = 10_000;
const KNOWN_READS_LIMIT = 50_000;
/** Committed rows the audit log handed over, kept until evaluated; past this the worker reads the store instead. */
const FED_ROWS_LIMIT = 10_000;
/**
 * How far the stored cursor may lag when rows raise nothing: such rows need no
 * transaction of their own (on the event loop, taking the write lock from the
 * audit writer), and evaluating them again after a crash raises nothing either.
 */
const QUIET_CURSOR_MS = 10_000;

const SECRETS_MANAGER = "secretsmanager.amazonaws.com";
const PARAMETER_STORE = "ssm.amazonaws.com";
/** Service events of parameter policies (parameters-service.ts expireDue). */
const PARAMETER_POLICY_EVENTS = new Set(["DeleteParameter", "ParameterExpirationNotification", "ParameterNoChangeNotification"]);
const READ_OPERATIONS = new Set(["GetSecretValue", "BatchGetSecretValue"]);
const PARAMETER_READS = new Set(["GetParameter", "GetParameters"]);
const AUTH_FAILURE_CODES = new Set([
  "UnrecognizedClientException",
  "InvalidSignatureException",
  "IncompleteSignatureException",
  "MissingAuthenticationTokenException",
  "ExpiredTokenException",
  "InvalidClientTokenId",
  "SignatureDoesNotMatch",
  "ExpiredToken",
]);

type AuthRule = Extract<AlertRule, { type: "auth-failures" }>;
interface Raised {
  rule: AlertRule;
  summary: string;
  count?: number;
}

export function createAlerts(opts: AlertsOptions) {
  const { store, clock, logger } = opts;
  const pollMs = opts.pollMs ?? 200;
  const maxAttempts = opts.maxAttempts ?? 10;
  /** Per auth-failures rule, per source address: recent failure times (ascending) and when it may fire again. */
  const windows = new Map<string, Map<string, { times: number[]; quietUntil: number }>>();
  let windowsRebuilt = false;
  /** (principal, secret) pairs known to be in the reads table, to spare a lookup per GetSecretValue. */
  const knownReads = new Set<string>();
  /** Committed rows from the audit log (feed), contiguous and ascending; spares reading them back. */
  let fed: TrailRow[] = [];
  /** Evaluated past the stored cursor (`stored`) up to `through`, nothing raised: not yet written. */
  let quiet: { stored: number; through: number } | undefined;
  let cursorSavedAt = -Infinity;

  /** The next rows after `cursor`: from the feed when it holds them, else from the store. */
  async function rowsAfter(cursor: number): Promise<readonly TrailRow[]> {
    let skip = 0;
    while (skip < fed.length && fed[skip].seq <= cursor) skip++;
    if (skip) fed = fed.slice(skip);
    if (fed.length > 0 && fed[0].seq === cursor + 1) return fed.slice(0, BATCH_ROWS);
    return store.listAuditRows(cursor + 1, BATCH_ROWS);
  }

  /**
   * A restart does not reset auth-failure windows: the first tick replays
   * the events of the longest window before the cursor, raising nothing, so
   * counts and the quiet period after a firing carry over (approximately: a
   * firing older than the replayed window is not seen, so at worst one
   * notification repeats). Rules added later start counting when added.
   */
  async function rebuildWindows(cursor: number, rules: AuthRule[]): Promise<void> {
    if (cursor === 0 || rules.length === 0) return;
    const [at] = await store.listAuditRows(cursor, 1);
    if (!at || at.seq !== cursor) return;
    const from = await firstSeqAtOrAfter(at.time - Math.max(...rules.map((r) => r.windowSeconds)) * 1000, cursor);
    for (let seq = from; seq <= cursor; ) {
      const rows = await store.listAuditRows(seq, Math.min(BATCH_ROWS, cursor - seq + 1));
      if (rows.length === 0) break;
      for (const row of rows) {
        const event = row.seq <= cursor ? eventOf(row) : undefined;
        if (event && AUTH_FAILURE_CODES.has(event.errorCode ?? "")) for (const rule of rules) countAuthFailure(rule, event, timeOf(event, row));
      }
      seq = rows[rows.length - 1].seq + 1;
    }
  }

  /** Binary search on seq (rows are appended in time order). */
  async function firstSeqAtOrAfter(time: number, hi: number): Promise<number> {
    let lo = 0;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const [row] = await store.listAuditRows(mid, 1);
      if (!row || row.time >= time) hi = mid;
      else lo = row.seq + 1;
    }
    return lo;
  }

  /** Records one failure; returns the count in the window when this one makes the rule fire. */
  function countAuthFailure(rule: AuthRule, event: CloudTrailEvent, time: number): number | undefined {
    let perAddress = windows.get(rule.name);
    if (!perAddress) windows.set(rule.name, (perAddress = new Map()));
    const address = event.sourceIPAddress;
    let w = perAddress.get(address);
    if (!w) perAddress.set(address, (w = { times: [], quietUntil: -Infinity }));
    const windowMs = rule.windowSeconds * 1000;
    // Events are logged when requests finish, so times can be slightly out of order.
    let at = w.times.length;
    while (at > 0 && w.times[at - 1] > time) at--;
    w.times.splice(at, 0, time);
    let expired = 0;
    while (expired < w.times.length && w.times[expired] <= time - windowMs) expired++;
    if (w.times.length - expired > MAX_TRACKED_FAILURES) expired = w.times.length - MAX_TRACKED_FAILURES;
    if (expired) w.times.splice(0, expired);
    if (w.times.length <= rule.threshold || time < w.quietUntil) return undefined;
    w.quietUntil = time + windowMs;
    return w.times.length;
  }

  function pruneWindows(rules: AlertRule[], latest: number): void {
    for (const [name, perAddress] of windows) {
      const rule = rules.find((r): r is AuthRule => r.name === name && r.type === "auth-failures");
      if (!rule) {
        windows.delete(name);
        continue;
      }
      const cutoff = latest - rule.windowSeconds * 1000;
      for (const [address, w] of perAddress) {
        if ((w.times.length === 0 || w.times[w.times.length - 1] <= cutoff) && w.quietUntil <= latest) perAddress.delete(address);
      }
    }
  }

  function eventOf(row: TrailRow): CloudTrailEvent | undefined {
    if (row.kind !== "event") return undefined;
    try {
      return JSON.parse(row.record) as CloudTrailEvent;
    } catch {
      logger?.warn({ seq: row.seq }, "alerts: audit row is not valid JSON; skipped");
      return undefined;
    }
  }

  /** The cursor, created on first use at 0 with everything already logged marked silent. */
  async function readCursor(): Promise<number> {
    const text = await store.getSetting(CURSOR_SETTING);
    if (text !== undefined) return Number(text);
    const head = await store.getAuditHead();
    await store.transaction(async (tx) => {
      if ((await tx.getSetting(CURSOR_SETTING)) !== undefined) return;
      await tx.putSetting(SILENT_SETTING, String(head?.seq ?? 0));
      await tx.putSetting(CURSOR_SETTING, "0");
    });
    return Number(await store.getSetting(CURSOR_SETTING));
  }

  async function evaluate(rows: readonly TrailRow[], rules: AlertRule[], silentThrough: number) {
    const now = clock.now();
    const deliveries: AlertDelivery[] = [];
    const reads = new Set<string>();
    let latest = -Infinity;
    for (const row of rows) {
      const event = eventOf(row);
      if (!event) continue;
      const time = timeOf(event, row);
      latest = Math.max(latest, time);
      const raised: Raised[] = [];
      for (const rule of rules) {
        if (rule.type === "access-denied" && isAccessDenied(event)) raised.push({ rule, summary: deniedSummary(event) });
        if (rule.type === "rotation-failed" && isRotationFailure(event)) raised.push({ rule, summary: rotationSummary(event) });
        if (rule.type === "parameter-policy" && isParameterPolicyEvent(event)) raised.push({ rule, summary: parameterPolicySummary(event) });
        if (rule.type === "auth-failures" && AUTH_FAILURE_CODES.has(event.errorCode ?? "")) {
          const count = countAuthFailure(rule, event, time);
          if (count !== undefined) raised.push({ rule, count, summary: authSummary(event, count, rule.windowSeconds) });
        }
      }
      // Reads are recorded whether or not a first-read rule exists, so adding one later knows the history.
      const reader = readerOf(event);
      for (const secretArn of secretsRead(event)) {
        const key = `${reader}\n${secretArn}`;
        if (!reader || knownReads.has(key) || reads.has(key)) continue;
        if (await store.hasRead(reader, secretArn)) {
          remember(key);
          continue;
        }
        reads.add(key);
        for (const rule of rules) if (rule.type === "first-read") raised.push({ rule, summary: firstReadSummary(event, secretArn) });
      }
      if (row.seq <= silentThrough) continue;
      for (const r of raised) deliveries.push(deliveryOf(r, event, time, now));
    }
    if (latest > -Infinity) pruneWindows(rules, latest);
    return { deliveries, reads };
  }

  function remember(key: string): void {
    if (knownReads.size >= KNOWN_READS_LIMIT) knownReads.clear();
    knownReads.add(key);
  }

  async function processAuditLog(rules: AlertRule[]): Promise<void> {
    const stored = await readCursor();
    if (quiet && quiet.stored !== stored) {
      // Another worker moved it: carry on from its position, with windows counted up to there.
      quiet = undefined;
      windowsRebuilt = false;
    }
    let cursor = quiet?.through ?? stored;
    if (!windowsRebuilt) {
      windows.clear();
      await rebuildWindows(cursor, rules.filter((r): r is AuthRule => r.type === "auth-failures"));
      windowsRebuilt = true;
    }
    const silentThrough = Number((await store.getSetting(SILENT_SETTING)) ?? 0);
    for (let batch = 0; batch < MAX_BATCHES_PER_TICK; batch++) {
      const rows = await rowsAfter(cursor);
      if (rows.length === 0) return;
      const last = rows[rows.length - 1].seq;
      let moved = false;
      try {
        const { deliveries, reads } = await evaluate(rows, rules, silentThrough);
        if (deliveries.length === 0 && reads.size === 0 && clock.now() - cursorSavedAt < QUIET_CURSOR_MS) {
          quiet = { stored: quiet?.stored ?? stored, through: last };
          moved = true;
        } else {
          moved = await saveCursor(quiet?.stored ?? stored, last, deliveries, reads);
        }
        if (moved && deliveries.length) logger?.info({ alerts: deliveries.map((d) => d.rule) }, "alerts raised");
      } finally {
        // Rows not committed are evaluated again, by this worker or another: the auth-failure
        // windows that already counted them would count them twice, so they are rebuilt from the log.
        if (!moved) windowsRebuilt = false;
      }
      if (!moved) {
        logger?.warn({ cursor }, "alerts: another worker moved the cursor; this batch is left to it");
        return;
      }
      cursor = last;
      if (rows.length < BATCH_ROWS) return;
    }
  }

  /** Queues the notifications, records the reads and moves the stored cursor from `from` to `to`, in one transaction. */
  async function saveCursor(from: number, to: number, deliveries: AlertDelivery[] = [], reads = new Set<string>()): Promise<boolean> {
    const moved = await store.transaction(async (tx) => {
      // Another worker on the same store got here first: its transaction holds these notifications.
      if ((await tx.getSetting(CURSOR_SETTING)) !== String(from)) return false;
      for (const d of deliveries) await tx.putAlertDelivery(d);
      for (const key of reads) {
        const [principal, secretArn] = key.split("\n");
        await tx.markRead(principal, secretArn);
      }
      await tx.putSetting(CURSOR_SETTING, String(to));
      return true;
    });
    quiet = undefined;
    if (moved) {
      cursorSavedAt = clock.now();
      for (const key of reads) remember(key);
    }
    return moved;
  }

  async function tickOnce(): Promise<void> {
    if (opts.lease && !(await opts.lease())) {
      // Another node follows the trail; what this one was fed is not its to evaluate.
      fed = [];
      quiet = undefined;
      windowsRebuilt = false;
      return;
    }
    const rules = await opts.rules();
    await processAuditLog(rules);
    await deliverDueAlerts({ store, rules, clock, logger, maxAttempts, webhooks: opts.webhooks, onOutcome: opts.onDelivery });
  }

  // Ticks are chained, so a manual tick() and the timer's never overlap.
  let last: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let running = false;

  function tick(): Promise<void> {
    const next = last.then(tickOnce);
    last = next.catch(() => undefined);
    return next;
  }

  function schedule(): void {
    if (!running || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      tick()
        .catch((err: Error) => logger?.warn({ err: { message: err?.message } }, "alerts tick failed"))
        .finally(schedule);
    }, pollMs);
    timer.unref();
  }

  return {
    start(): void {
      running = true;
      schedule();
    },
    /** Stops the timer and waits for the tick in progress; queued deliveries stay in the store. */
    async stop(): Promise<void> {
      running = false;
      clearTimeout(timer);
      timer = undefined;
      await last;
      if (quiet) await saveCursor(quiet.stored, quiet.through).catch(() => false);
    },
    /**
     * Committed audit rows, in chain order (the audit log's onCommitted): the
     * worker evaluates them from memory instead of reading them back. Rows it
     * misses (a gap, a full buffer, a restart) it reads from the store.
     */
    feed(rows: readonly TrailRow[]): void {
      if (rows.length === 0) return;
      if (fed.length > 0 && fed[fed.length - 1].seq + 1 !== rows[0].seq) fed = [];
      if (fed.length + rows.length > FED_ROWS_LIMIT) return;
      for (const r of rows) fed.push(r);
    },
    /** Processes new audit rows and due deliveries once; tests call it. */
    tick,
  };
}

export type Alerts = ReturnType<typeof createAlerts>;

function timeOf(event: CloudTrailEvent, row: TrailRow): number {
  const t = Date.parse(event.eventTime);
  return Number.isNaN(t) ? row.time : t;
}

function isAccessDenied(e: CloudTrailEvent): boolean {
  return (e.eventSource === SECRETS_MANAGER || e.eventSource === PARAMETER_STORE) && (e.errorCode?.startsWith("AccessDenied") ?? false);
}

/** A parameter policy acted: an Expiration deleted the parameter, or a notification is due. */
function isParameterPolicyEvent(e: CloudTrailEvent): boolean {
  return e.eventType === "AwsServiceEvent" && e.eventSource === PARAMETER_STORE && PARAMETER_POLICY_EVENTS.has(e.eventName);
}

function parameterPolicySummary(e: CloudTrailEvent): string {
  const details = (e.serviceEventDetails ?? {}) as { name?: unknown; reason?: unknown };
  const name = typeof details.name === "string" ? details.name : target(e);
  if (e.eventName === "DeleteParameter") return `Parameter ${name} expired and was deleted`;
  return `Parameter ${name}: ${typeof details.reason === "string" ? details.reason : e.eventName}`;
}

function isRotationFailure(e: CloudTrailEvent): boolean {
  if (e.eventType === "AwsServiceEvent") return e.eventName === "RotationFailed";
  return e.eventName === "RotateSecret" && e.eventSource === SECRETS_MANAGER && !!e.errorCode;
}

/**
 * Who read: the user, or for a role session the role, since session names
 * are chosen by the caller and a new one per job would make every read "first".
 */
function readerOf(e: CloudTrailEvent): string | undefined {
  const id = e.userIdentity;
  return (id.type === "AssumedRole" && id.sessionContext?.sessionIssuer.arn) || id.arn || undefined;
}

/** Secrets a successful read returned (the audit layer lists them as resources). */
/** Secrets a successful call read: GetSecretValue and friends, and Parameter Store reads through /aws/reference/secretsmanager/. */
function secretsRead(e: CloudTrailEvent): string[] {
  const read = e.eventSource === SECRETS_MANAGER ? READ_OPERATIONS.has(e.eventName) : e.eventSource === PARAMETER_STORE && PARAMETER_READS.has(e.eventName);
  if (!read || e.errorCode) return [];
  return [...new Set((e.resources ?? []).map((r) => r.ARN).filter((arn) => /^arn:[^:]+:secretsmanager:[^:]*:[^:]*:secret:./.test(arn)))];
}

function who(id: UserIdentity): string {
  return id.arn ?? (id.accessKeyId ? `access key ${id.accessKeyId}` : "an unidentified caller");
}

function target(e: CloudTrailEvent): string {
  const arns = (e.resources ?? []).map((r) => r.ARN);
  if (arns.length) return arns.join(", ");
  const id = e.requestParameters?.secretId ?? e.requestParameters?.SecretId;
  return typeof id === "string" ? id : "a secret";
}

function action(e: CloudTrailEvent): string {
  return `${e.eventSource.replace(/\.amazonaws\.com$/, "")}:${e.eventName}`;
}

function deniedSummary(e: CloudTrailEvent): string {
  return `${who(e.userIdentity)} was denied ${action(e)} on ${target(e)} from ${e.sourceIPAddress}`;
}

function rotationSummary(e: CloudTrailEvent): string {
  return `Rotation of ${target(e)} failed${e.errorCode ? ` (${e.errorCode})` : ""}`;
}

function firstReadSummary(e: CloudTrailEvent, secretArn: string): string {
  return `${who(e.userIdentity)} read ${secretArn} for the first time (${action(e)} from ${e.sourceIPAddress})`;
}

function authSummary(e: CloudTrailEvent, count: number, windowSeconds: number): string {
  return `${count} failed authentications from ${e.sourceIPAddress} within ${windowSeconds} s (latest: ${e.errorCode} on ${action(e)})`;
}

function deliveryOf(raised: Raised, event: CloudTrailEvent, time: number, now: number): AlertDelivery {
  const payload: AlertPayload = {
    alert: raised.rule.name,
    type: raised.rule.type,
    time: new Date(time).toISOString(),
    summary: raised.summary,
    event,
  };
  if (raised.count !== undefined) payload.count = raised.count;
  return {
    id: randomUUID(),
    rule: raised.rule.name,
    url: raised.rule.webhook,
    payload: JSON.stringify(payload),
    attempts: 0,
    nextAttemptAt: now,
    createdAt: now,
  };
}
