import type { createAuditLookup } from "../../audit/audit-service.ts";
import type { ApiService, Handler } from "../api-service.ts";
import { errorMapper } from "../api-errors.ts";
import { CofferError, type ErrorCode } from "../../shared/errors.ts";
import { metadata, operations } from "./generated/operations.ts";
import { shapes } from "./generated/shapes.ts";
import type * as T from "./generated/types.ts";

const cloudTrailErrors: Partial<Record<ErrorCode, { type: string; status: number }>> = {
  InvalidTimeRange: { type: "InvalidTimeRangeException", status: 400 },
  InvalidLookupAttributes: { type: "InvalidLookupAttributesException", status: 400 },
  InvalidNextToken: { type: "InvalidNextTokenException", status: 400 },
  InvalidParameter: { type: "InvalidParameterException", status: 400 },
};

export const cloudTrailError = errorMapper(cloudTrailErrors, "json");

/** CloudTrail LookupEvents over Coffer's own audit trail. */
export function cloudTrailApi(audit: ReturnType<typeof createAuditLookup>): ApiService {
  const handlers: Record<string, Handler> = {
    async LookupEvents(p, i: T.LookupEventsRequest): Promise<T.LookupEventsResponse> {
      if ((i.LookupAttributes?.length ?? 0) > 1) {
        throw new CofferError("InvalidLookupAttributes", "You can only specify one lookup attribute.");
      }
      const a = i.LookupAttributes?.[0];
      const page = await audit.lookup(p, {
        attribute: a ? { key: a.AttributeKey, value: a.AttributeValue } : undefined,
        startTime: i.StartTime?.getTime(),
        endTime: i.EndTime?.getTime(),
        maxResults: i.MaxResults,
        nextToken: i.NextToken,
      });
      return {
        Events: page.events.map((e) => ({
          EventId: e.eventId,
          EventName: e.eventName,
          ReadOnly: String(e.readOnly),
          AccessKeyId: e.accessKeyId,
          EventTime: new Date(e.time),
          EventSource: e.eventSource,
          Username: e.username,
          Resources: e.resources.map((r) => ({ ResourceType: r.type, ResourceName: r.name })),
          CloudTrailEvent: e.record,
        })),
        NextToken: page.nextToken,
      };
    },
  };
  return { metadata, shapes, operations, handlers, errorFor: cloudTrailError };
}
