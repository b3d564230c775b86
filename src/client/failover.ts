/**
 * Reading from the next region when one is unreachable (docs/replication.md):
 * one SDK client per region, tried in order. Only unreachability moves a read
 * on (no connection, a timeout, a gateway's 502/503/504): an answer, any
 * answer (AccessDenied, ResourceNotFound, a throttle), is the region's and is
 * returned as it is, so a denial in one region never turns into a read from
 * another. After a failover the region that answered is asked first, and the
 * first region again once `retryFirstAfterMs` has passed.
 */

/** One region to read from: its name (what requests are signed for), its endpoint, and anything else for its client (credentials, TLS trust). */
export interface RegionTarget<C extends object = object> {
  region: string;
  endpoint?: string;
  clientConfig?: C;
}

export interface FailoverOptions {
  /** How long to keep asking the region that answered before trying the first one again (default 30 s). */
  retryFirstAfterMs?: number;
  clock?: { now(): number };
  /** Told when a region could not be reached and the read moves on to the next. */
  onFailover?: (region: string, err: unknown) => void;
}

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EPIPE",
  "ECONNABORTED",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_SOCKET",
]);

/** Whether `err` says the region could not be reached (as opposed to its answer). */
export function isUnreachable(err: unknown): boolean {
  if (typeof err !== "object" || err === null) return false;
  const e = err as { code?: string; name?: string; $metadata?: { httpStatusCode?: number }; cause?: unknown; message?: string };
  const status = e.$metadata?.httpStatusCode;
  if (status === 502 || status === 503 || status === 504) return true;
  if (status !== undefined) return false;
  if (e.code && NETWORK_CODES.has(e.code)) return true;
  if (e.name === "TimeoutError" || e.name === "RequestTimeout" || e.name === "AbortError") return true;
  if (typeof e.message === "string" && /socket hang up|connect ETIMEDOUT|ECONNREFUSED|getaddrinfo/.test(e.message)) return true;
  return e.cause !== undefined && e.cause !== err && isUnreachable(e.cause);
}

/** An AWS SDK command: its input, and its class to make the same command for another region. */
interface AnyCommand {
  input: object;
}

/** A secret ARN names its region; the same secret's replica elsewhere has that region in its ARN instead. */
function forRegion(input: object, region: string): object {
  const id = (input as { SecretId?: unknown }).SecretId;
  if (typeof id !== "string" || !id.startsWith("arn:")) return input;
  const parts = id.split(":");
  if (parts.length < 7 || parts[2] !== "secretsmanager") return input;
  parts[3] = region;
  return { ...input, SecretId: parts.join(":") };
}

/**
 * A sender over several regions' clients, satisfying the caches' `client`
 * option (SecretsManagerSender, SsmSender).
 */
export class FailoverSender<Client extends { send(command: never): Promise<unknown> }> {
  private preferred = 0;
  private movedAt = 0;
  private readonly retryFirstAfterMs: number;
  private readonly clock: { now(): number };

  constructor(
    private readonly clients: { region: string; client: Client }[],
    private readonly options: FailoverOptions = {},
  ) {
    if (clients.length === 0) throw new RangeError("At least one region is needed.");
    this.retryFirstAfterMs = options.retryFirstAfterMs ?? 30_000;
    this.clock = options.clock ?? { now: () => Date.now() };
  }

  /** Closes every region's client (their sockets), as an SDK client's destroy does. */
  destroy(): void {
    for (const { client } of this.clients) (client as { destroy?: () => void }).destroy?.();
  }

  /** The regions in the order the next read tries them. */
  order(): string[] {
    return this.sequence().map((i) => this.clients[i].region);
  }

  private sequence(): number[] {
    if (this.preferred !== 0 && this.clock.now() - this.movedAt >= this.retryFirstAfterMs) this.preferred = 0;
    const all = this.clients.map((_, i) => i);
    return [this.preferred, ...all.filter((i) => i !== this.preferred)];
  }

  async send(command: never): Promise<never> {
    const first = this.clients[0].region;
    let last: unknown;
    for (const i of this.sequence()) {
      const { region, client } = this.clients[i];
      const cmd = command as unknown as AnyCommand;
      const input = region === first ? cmd.input : forRegion(cmd.input, region);
      const sent =
        input === cmd.input
          ? command
          : (new (cmd.constructor as new (input: object) => AnyCommand)(input) as unknown as never);
      try {
        const out = await client.send(sent);
        if (i !== this.preferred) {
          this.preferred = i;
          this.movedAt = this.clock.now();
        }
        return out as never;
      } catch (err) {
        if (!isUnreachable(err)) throw err;
        this.options.onFailover?.(region, err);
        last = err;
      }
    }
    throw last;
  }
}

/** The clients for `targets`, built with `make` from the shared config and each target's own. */
export function failoverClients<C extends object, Client extends { send(command: never): Promise<unknown> }>(
  targets: RegionTarget<C>[],
  shared: C,
  make: (config: C) => Client,
  options?: FailoverOptions,
): FailoverSender<Client> {
  return new FailoverSender(
    targets.map((t) => ({
      region: t.region,
      client: make({ ...shared, region: t.region, ...(t.endpoint ? { endpoint: t.endpoint } : {}), ...t.clientConfig } as C),
    })),
    options,
  );
}
