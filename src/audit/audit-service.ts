import { randomUUID } from "node:crypto";
import type { ServiceEvent, ServiceEventSink } from "../services/service-events.ts";
import type { CloudTrailEvent } from "./audit-types.ts";
import type { AuditQuery, AuditRow, Store } from "../storage/store.ts";
import { CofferError } from "../shared/errors.ts";
import type { Authorizer, Principal } from "../services/identity/identity-types.ts";
import { buildEvent, type RequestFacts } from "./audit-event.ts";
import { entryOf, type AuditLog } from "./audit-log.ts";
import { decodePageToken, encodePageToken } from "../shared/paging-token.ts";

/** Coffer's own actions as CloudTrail AwsServiceEvent records. */
export function createServiceEventRecorder(log: AuditLog, { region, clock }: { region: string; clock: { now(): number } }): ServiceEventSink {
  return {
    record(e: ServiceEvent) {
      const event: CloudTrailEvent = {
        eventVersion: "1.08",
        userIdentity: { type: "AWSService", invokedBy: `${e.service}.amazonaws.com` },
        eventTime: new Date(clock.now()).toISOString().replace(/\.\d{3}Z$/, "Z"),
        eventSource: `${e.service}.amazonaws.com`,
        eventName: e.name,
        awsRegion: region,
        sourceIPAddress: `${e.service}.amazonaws.com`,
        userAgent: `${e.service}.amazonaws.com`,
        requestParameters: null,
        responseElements: null,
        requestID: randomUUID(),
        eventID: randomUUID(),
        readOnly: false,
        resources: e.resources.map((r) => ({ ARN: r.arn, accountId: e.accountId, type: r.type })),
        eventType: "AwsServiceEvent",
        managementEvent: true,
        recipientAccountId: e.accountId,
        eventCategory: "Management",
        serviceEventDetails: e.details,
      };
      return log.append(entryOf(event));
    },
  };
}

/** The server's auditor: an intent before a write, one CloudTrail event per request; a rejected promise means the record could not be written. */
export interface RequestAuditor {
  /** Before a mutating operation runs. */
  intent(facts: RequestFacts): Promise<void>;
  /**
   * Once the request has its answer, before the answer is sent. With facts.validAt, rejects with
   * StaleEpochError (nothing recorded) if data changed since the request read it: it must run again.
   */
  record(facts: RequestFacts): Promise<void>;
}

export function createRequestAuditor(log: AuditLog): RequestAuditor {
  return {
    intent: (facts) => log.append(entryOf(buildEvent(facts), "intent")),
    record: (facts) => log.append(entryOf(buildEvent(facts)), facts.validAt),
  };
}

export interface LookupInput {
  attribute?: AuditQuery["attribute"];
  startTime?: number;
  endTime?: number;
  maxResults?: number;
  nextToken?: string;
}

/** CloudTrail LookupEvents over the chain: the caller's account's events, newest first. */
export function createAuditLookup({ store, authorizer }: { store: Pick<Store, "queryAuditEvents">; authorizer: Authorizer }) {
  return {
    async lookup(principal: Principal, input: LookupInput): Promise<{ events: AuditRow[]; nextToken?: string }> {
      await authorizer.authorize({ principal, action: "cloudtrail:LookupEvents", resource: "*" });
      if (input.startTime !== undefined && input.endTime !== undefined && input.startTime > input.endTime) {
        throw new CofferError("InvalidTimeRange", "Occurs if the timestamp values are not valid. Either the start time occurs after the end time, or the time range is outside the range of possible values.");
      }
      let beforeSeq: number | undefined;
      if (input.nextToken !== undefined) {
        beforeSeq = decodePageToken(input.nextToken, "number");
        if (beforeSeq === undefined || beforeSeq < 1) throw new CofferError("InvalidNextToken", "Invalid NextToken.");
      }
      const limit = input.maxResults ?? 50;
      const rows = await store.queryAuditEvents({
        accountId: principal.accountId,
        attribute: input.attribute,
        startTime: input.startTime,
        endTime: input.endTime,
        beforeSeq,
        limit: limit + 1,
      });
      const events = rows.slice(0, limit);
      return {
        events,
        nextToken: rows.length > limit ? encodePageToken(events[events.length - 1].seq) : undefined,
      };
    },
  };
}
