import { useState } from "preact/hooks";
import type { Api, Json } from "./aws.ts";
import { ErrorMessage, JsonBlock, Status, time, useAction, useLoad } from "./ui.tsx";

/** The audit trail: CloudTrail LookupEvents with filters, each event's record, and the chain's state (docs/console.md). */

interface Filters {
  user: string;
  event: string;
  secret: string;
  from: string;
  to: string;
  deniedOnly: boolean;
}

const NONE: Filters = { user: "", event: "", secret: "", from: "", to: "", deniedOnly: false };
const WANTED = 25;

interface Row {
  event: Json;
  record: Json;
}

function recordOf(e: Json): Json {
  try {
    return JSON.parse(e.CloudTrailEvent as string) as Json;
  } catch {
    return {};
  }
}

const denied = (r: Json) => typeof r.errorCode === "string" && /AccessDenied|UnauthorizedOperation|NotAuthorized/i.test(r.errorCode as string);

/**
 * LookupEvents takes one attribute: the first filter given goes to the
 * server, the others (and "denied only") are applied here, page after page,
 * until a screenful matches or the trail ends.
 */
async function lookup(api: Api, f: Filters, token: string | undefined): Promise<{ rows: Row[]; next?: string }> {
  let resource = f.secret.trim();
  if (resource && !resource.startsWith("arn:")) {
    // Events name a secret by its ARN.
    resource = (await api.json("secretsmanager", "DescribeSecret", { SecretId: resource })).ARN as string;
  }
  const attributes: [string, string][] = [];
  if (f.user.trim()) attributes.push(["Username", f.user.trim()]);
  if (f.event.trim()) attributes.push(["EventName", f.event.trim()]);
  if (resource) attributes.push(["ResourceName", resource]);
  const [server, ...local] = attributes;
  const start = f.from ? new Date(f.from).getTime() / 1000 : undefined;
  const end = f.to ? new Date(f.to).getTime() / 1000 : undefined;
  const rows: Row[] = [];
  let next = token;
  let pages = 0;
  do {
    const r = await api.json("cloudtrail", "LookupEvents", {
      MaxResults: 50,
      ...(server ? { LookupAttributes: [{ AttributeKey: server[0], AttributeValue: server[1] }] } : {}),
      ...(start !== undefined ? { StartTime: start } : {}),
      ...(end !== undefined ? { EndTime: end } : {}),
      ...(next ? { NextToken: next } : {}),
    });
    for (const event of (r.Events ?? []) as Json[]) {
      const record = recordOf(event);
      if (f.deniedOnly && !denied(record)) continue;
      if (
        local.some(([k, v]) =>
          k === "Username" ? event.Username !== v : k === "EventName" ? event.EventName !== v : !((event.Resources ?? []) as Json[]).some((x) => x.ResourceName === v),
        )
      ) {
        continue;
      }
      rows.push({ event, record });
    }
    next = r.NextToken as string | undefined;
    pages += 1;
  } while (next && rows.length < WANTED && pages < 20);
  return { rows, next };
}

export function AuditPage({ api }: { api: Api }) {
  const [filters, setFilters] = useState<Filters>(NONE);
  const [more, setMore] = useState<{ rows: Row[]; next?: string } | undefined>(undefined);
  const loadMore = useAction();
  const first = useLoad(async () => {
    setMore(undefined);
    return lookup(api, filters, undefined);
  }, [filters]);
  const rows = [...(first.data?.rows ?? []), ...(more?.rows ?? [])];
  const next = more ? more.next : first.data?.next;

  return (
    <section aria-labelledby="audit-heading">
      <h2 id="audit-heading">Audit</h2>
      <ChainStatus api={api} />
      <form
        class="filters"
        aria-label="Filter events"
        onSubmit={(e) => {
          e.preventDefault();
          const f = new FormData(e.currentTarget);
          setFilters({
            user: String(f.get("user") ?? ""),
            event: String(f.get("event") ?? ""),
            secret: String(f.get("secret") ?? ""),
            from: String(f.get("from") ?? ""),
            to: String(f.get("to") ?? ""),
            deniedOnly: f.get("denied") === "on",
          });
        }}
      >
        <label>
          User name
          <input name="user" />
        </label>
        <label>
          Event name
          <input name="event" placeholder="GetSecretValue" />
        </label>
        <label>
          Secret name or ARN
          <input name="secret" />
        </label>
        <label>
          From
          <input name="from" type="datetime-local" />
        </label>
        <label>
          To
          <input name="to" type="datetime-local" />
        </label>
        <label class="check">
          <input name="denied" type="checkbox" />
          Denied only
        </label>
        <button type="submit">Apply filters</button>
      </form>
      <ErrorMessage error={first.error} />
      {first.loading && <Status>Loading events…</Status>}
      <table aria-label="Events">
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">User</th>
            <th scope="col">Event</th>
            <th scope="col">Resource</th>
            <th scope="col">Result</th>
            <th scope="col">Source</th>
            <th scope="col">Details</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <EventRow key={r.event.EventId} row={r} />
          ))}
        </tbody>
      </table>
      {!first.loading && !first.error && rows.length === 0 && <p>No events match.</p>}
      {next && (
        <button type="button" disabled={loadMore.busy} onClick={() =>
            loadMore.run(async () => {
              const page = await lookup(api, filters, next);
              setMore({ rows: [...(more?.rows ?? []), ...page.rows], next: page.next });
            })
          }>
          Load more events
        </button>
      )}
      <ErrorMessage error={loadMore.error} />
    </section>
  );
}

function EventRow({ row }: { row: Row }) {
  const [open, setOpen] = useState(false);
  const { event, record } = row;
  const resources = ((event.Resources ?? []) as Json[]).map((x) => x.ResourceName as string);
  const result = record.errorCode ? `${record.errorCode as string}` : "OK";
  const id = `event-${event.EventId as string}`;
  return (
    <>
      <tr class={record.errorCode ? "failed" : undefined}>
        <td>{time(event.EventTime)}</td>
        <td>{event.Username ?? "—"}</td>
        <td>{event.EventName}</td>
        <td>
          {resources.map((r) => (
            <code key={r}>{r}</code>
          ))}
        </td>
        <td>{result}</td>
        <td>{record.sourceIPAddress ?? "—"}</td>
        <td>
          <button type="button" aria-expanded={open} aria-controls={id} aria-label={`Details of ${event.EventName as string} at ${time(event.EventTime)}`} onClick={() => setOpen(!open)}>
            {open ? "Hide" : "Details"}
          </button>
        </td>
      </tr>
      {open && (
        <tr id={id}>
          <td colSpan={7}>
            {record.errorMessage && <p>{record.errorMessage as string}</p>}
            <JsonBlock text={event.CloudTrailEvent as string} label={`Event ${event.EventId as string}`} />
          </td>
        </tr>
      )}
    </>
  );
}

function ChainStatus({ api }: { api: Api }) {
  const status = useLoad(() => api.json("coffer", "VerifyAuditTrail"), []);
  const s = status.data;
  return (
    <div class="panel" role="group" aria-labelledby="chain-heading">
      <h3 id="chain-heading">Audit chain</h3>
      {status.loading && <Status>Verifying the hash chain…</Status>}
      <ErrorMessage error={status.error} />
      {s && !status.loading && (
        <p role="status" class={s.Intact ? "ok" : "error"}>
          {s.Intact
            ? `Intact: ${s.EventCount as number} events (${s.FirstSequence as number} to ${s.LastSequence as number}); the signed head and ${s.SignedCheckpoints as number} signed checkpoints match.`
            : `NOT intact at event ${s.ProblemSequence as number}: ${s.Problem as string}`}
        </p>
      )}
      <button type="button" onClick={status.reload} disabled={status.loading}>
        Verify audit chain
      </button>
    </div>
  );
}
