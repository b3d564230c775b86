import { randomUUID } from "node:crypto";
import { hostname, userInfo } from "node:os";
import { createAuditLog, entryOf } from "../audit/audit-log.ts";
import type { CloudTrailEvent } from "../audit/audit-types.ts";
import type { Store } from "../storage/store.ts";

/**
 * Commands the operator runs on the data itself rather than through the API
 * (`coffer account create`, `functions`, `alerts`, `master-key rotate`)
 * leave the same trail as an API call: an intent entry in the audit chain
 * before the change (if it cannot be written, nothing changes) and one
 * CloudTrail event after it, with its outcome. There is no AWS principal: the
 * event names the operating-system user and host that ran the command.
 */

export interface OperatorAction {
  /** e.g. "RotateMasterKey", "CreateAccount". */
  eventName: string;
  /** The command as typed, without its secrets: "coffer master-key rotate". */
  command: string;
  /** The account whose trail records it (LookupEvents shows it to that account's principals). */
  accountId: string;
  resources?: { arn: string; type: string }[];
  /** What the change was about: names and identifiers, never a key or a secret. */
  details?: Record<string, unknown>;
}

function operatorEvent(action: OperatorAction, region: string, outcome: { result?: Record<string, unknown>; error?: Error }): CloudTrailEvent {
  const user = userInfo().username;
  return {
    eventVersion: "1.08",
    userIdentity: { type: "Unknown", principalId: `operator:${user}`, userName: user, invokedBy: "coffer-cli" },
    eventTime: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
    eventSource: "coffer.amazonaws.com",
    eventName: action.eventName,
    awsRegion: region,
    sourceIPAddress: hostname(),
    userAgent: "coffer-cli",
    requestParameters: null,
    responseElements: null,
    ...(outcome.error ? { errorCode: outcome.error.name === "Error" ? "Failed" : outcome.error.name, errorMessage: outcome.error.message.slice(0, 1000) } : {}),
    requestID: randomUUID(),
    eventID: randomUUID(),
    readOnly: false,
    resources: (action.resources ?? []).map((r) => ({ ARN: r.arn, accountId: action.accountId, type: r.type })),
    eventType: "AwsServiceEvent",
    managementEvent: true,
    recipientAccountId: action.accountId,
    eventCategory: "Management",
    serviceEventDetails: { operatorCommand: action.command, host: hostname(), ...action.details, ...outcome.result },
  };
}

/** Runs `change` as an audited operator action on an open store; `result` turns its return value into the event's details. */
export async function asOperator<T>(
  { store, auditKey, region }: { store: Store; auditKey: Buffer; region: string },
  action: OperatorAction,
  change: () => Promise<T>,
  result: (value: T) => Record<string, unknown> = () => ({}),
): Promise<T> {
  const log = createAuditLog({ store, key: auditKey, clock: { now: () => Date.now() } });
  try {
    await log.append(entryOf(operatorEvent(action, region, {}), "intent"));
    let value: T;
    try {
      value = await change();
    } catch (err) {
      await log.append(entryOf(operatorEvent(action, region, { error: err as Error })));
      throw err;
    }
    await log.append(entryOf(operatorEvent(action, region, { result: result(value) })));
    return value;
  } finally {
    await log.drain();
  }
}
