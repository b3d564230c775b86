import { createHmac } from "node:crypto";
import type { AlertDelivery, AuditStore } from "../storage/store.ts";
import type { AlertRule } from "./alerts-rules.ts";
import { WebhookError, type WebhookClient } from "../services/webhook/webhook-client.ts";

/**
 * Webhook delivery of queued alert notifications (the outbox in the Store).
 * Delivery is at least once: a notification is deleted only after a 2xx, so
 * a crash between the receiver's answer and the delete sends it again.
 * Receivers deduplicate on the x-coffer-delivery header.
 */

export const DELIVERY_TIMEOUT_MS = 5000;
const BASE_DELAY_MS = 1000;
const MAX_DELAY_MS = 60 * 60 * 1000;
/** Due deliveries handled per tick, and how many are in flight at once. */
const BATCH = 100;
const CONCURRENCY = 8;

export interface AlertLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

/** The x-coffer-signature value: "sha256=" + hex HMAC-SHA256 of the exact body under the rule's secret. */
export function signAlertBody(secret: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/**
 * How long to wait before the next attempt after `attempts` failed ones:
 * 1 s, 2 s, 4 s, ... capped at an hour, each spread by ±20% so receivers
 * coming back up are not hit by every queued notification at once.
 */
export function retryDelayMs(attempts: number, random: () => number = Math.random): number {
  const base = Math.min(BASE_DELAY_MS * 2 ** Math.max(0, attempts - 1), MAX_DELAY_MS);
  return Math.round(base * (0.8 + 0.4 * random()));
}

/**
 * POSTs one notification. Resolves to undefined on a 2xx, otherwise to a
 * short reason ("HTTP 503", "ECONNREFUSED", a timeout, a refused address)
 * that never contains the payload, the URL (webhook URLs often embed a token)
 * or anything the receiver sent. A redirect is a failure: following it would
 * resend the body somewhere the configuration does not name.
 */
export async function postAlert(
  delivery: Pick<AlertDelivery, "id" | "payload">,
  rule: Pick<AlertRule, "name" | "webhook" | "secret">,
  webhooks: WebhookClient,
  timeoutMs = DELIVERY_TIMEOUT_MS,
): Promise<string | undefined> {
  try {
    const status = await webhooks.post({
      url: rule.webhook,
      headers: {
        "content-type": "application/json",
        "x-coffer-alert": rule.name,
        "x-coffer-signature": signAlertBody(rule.secret, delivery.payload),
        "x-coffer-delivery": delivery.id,
      },
      body: delivery.payload,
      timeoutMs,
    });
    return status >= 200 && status < 300 ? undefined : `HTTP ${status}`;
  } catch (err) {
    return err instanceof WebhookError ? err.reason : "the request failed";
  }
}

export interface DeliveryDeps {
  store: AuditStore;
  rules: AlertRule[];
  clock: { now(): number };
  logger?: AlertLogger;
  maxAttempts: number;
  webhooks: WebhookClient;
  random?: () => number;
  /** Told how each delivery attempt ended (metrics). */
  onOutcome?: (outcome: AlertDeliveryOutcome) => void;
}

/** delivered; failed (will be retried); given-up (after maxAttempts); dropped (its rule is gone). */
export type AlertDeliveryOutcome = "delivered" | "failed" | "given-up" | "dropped";

/**
 * Sends the deliveries that are due. Never throws for a receiver's failure:
 * the delivery is rescheduled, or dropped with a warning once it has failed
 * maxAttempts times (there is no dead-letter store beyond the log). Store
 * errors do propagate.
 */
export async function deliverDueAlerts(deps: DeliveryDeps): Promise<void> {
  const due = await deps.store.listDueAlerts(deps.clock.now(), BATCH);
  const byName = new Map(deps.rules.map((r) => [r.name, r]));
  let next = 0;
  const worker = async () => {
    while (next < due.length) {
      const delivery = due[next++];
      await deliverOne(deps, delivery, byName.get(delivery.rule));
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, due.length) }, worker));
}

async function deliverOne(deps: DeliveryDeps, delivery: AlertDelivery, rule: AlertRule | undefined): Promise<void> {
  const { store, logger } = deps;
  const about = { delivery: delivery.id, rule: delivery.rule };
  if (!rule) {
    // The secret that signs it is gone with the rule, so it cannot be sent.
    logger?.warn(about, "alert dropped: its rule is no longer configured");
    deps.onOutcome?.("dropped");
    await store.transaction((tx) => tx.deleteAlertDelivery(delivery.id));
    return;
  }
  // Sent to the rule's current webhook with its current secret: the two are
  // configured together, and an edited URL usually means the old one is dead.
  const error = await postAlert(delivery, rule, deps.webhooks);
  const attempts = delivery.attempts + 1;
  if (error === undefined) {
    await store.transaction((tx) => tx.deleteAlertDelivery(delivery.id));
    logger?.info({ ...about, attempts }, "alert delivered");
    deps.onOutcome?.("delivered");
    return;
  }
  if (attempts >= deps.maxAttempts) {
    await store.transaction((tx) => tx.deleteAlertDelivery(delivery.id));
    logger?.warn({ ...about, attempts, lastError: error, receiver: originOf(rule.webhook), createdAt: delivery.createdAt }, "alert given up after repeated delivery failures");
    deps.onOutcome?.("given-up");
    return;
  }
  const nextAttemptAt = deps.clock.now() + retryDelayMs(attempts, deps.random);
  await store.transaction((tx) => tx.putAlertDelivery({ ...delivery, attempts, nextAttemptAt, lastError: error }));
  logger?.info({ ...about, attempts, lastError: error, nextAttemptAt }, "alert delivery failed; will retry");
  deps.onOutcome?.("failed");
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(invalid URL)";
  }
}
