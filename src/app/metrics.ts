import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** Process figures (CPU, memory, heap, event loop lag, GC, file descriptors): one set per process, started once. */
let processRegistry: Registry | undefined;

function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/**
 * The server's Prometheus metrics (GET /metrics, docs/operations.md lists
 * them). Each server has its own registry, so several servers in one
 * process (tests) do not share counts; the process figures are shared. Labels take values only from fixed
 * sets Coffer defines (service signing names, modelled operation names,
 * status classes, AWS error names, outcomes): never a secret or parameter
 * name, a value, an ARN, an account id, an access key id or an address.
 * The components report through plain callbacks (the `on...` options of
 * the audit log, the dispatcher, the caches, rotation and alerts), so
 * prom-client stays in this file.
 */
export function createMetrics() {
  const registry = new Registry();
  const perProcess = processMetrics();
  const registers = [registry];

  const requests = new Counter({
    name: "coffer_requests_total",
    help: "API requests answered, by service, operation, status class and AWS error name (empty on success).",
    labelNames: ["service", "operation", "status", "error"] as const,
    registers,
  });
  const duration = new Histogram({
    name: "coffer_request_duration_seconds",
    help: "Time from a request's parse to its answer (audit commit included), by service and operation.",
    labelNames: ["service", "operation"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const auditBatch = new Histogram({
    name: "coffer_audit_batch_entries",
    help: "Audit entries per group commit.",
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
    registers,
  });
  const auditCommit = new Histogram({
    name: "coffer_audit_commit_seconds",
    help: "Time from a batch's hand-over to the audit writer to its durable commit (fsync included), or its failure.",
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers,
  });
  const auditFailures = new Counter({
    name: "coffer_audit_batch_failures_total",
    help: "Audit batches that could not be committed (their requests failed closed).",
    registers,
  });
  // Several lookups per request: plain numbers, read into the counter at scrape time.
  const lookups = { read: { hit: 0, miss: 0 }, credential: { hit: 0, miss: 0 } };
  new Counter({
    name: "coffer_cache_lookups_total",
    help: "Lookups in the read cache (cache=read) and the credential cache (cache=credential), by result (hit, miss).",
    labelNames: ["cache", "result"] as const,
    registers,
    collect() {
      this.reset();
      for (const [cache, counts] of Object.entries(lookups)) {
        this.inc({ cache, result: "hit" }, counts.hit);
        this.inc({ cache, result: "miss" }, counts.miss);
      }
    },
  });
  const rotations = new Counter({
    name: "coffer_rotations_total",
    help: "Rotation attempts by outcome: succeeded, failed (will be retried), abandoned (until the next window).",
    labelNames: ["outcome"] as const,
    registers,
  });
  const alerts = new Counter({
    name: "coffer_alert_deliveries_total",
    help: "Alert webhook deliveries by outcome: delivered, failed (will be retried), given-up, dropped (rule removed).",
    labelNames: ["outcome"] as const,
    registers,
  });

  // Every outcome shows from the start (at 0), so a rate() or an alert rule has a series to look at.
  for (const outcome of ["succeeded", "failed", "abandoned"]) rotations.labels(outcome).inc(0);
  for (const outcome of ["delivered", "failed", "given-up", "dropped"]) alerts.labels(outcome).inc(0);

  return {
    onAnswered(service: string, operation: string, status: number, error: string, seconds: number): void {
      requests.labels(service, operation, statusClass(status), error).inc();
      duration.labels(service, operation).observe(seconds);
    },
    onAuditBatch(entries: number, seconds: number, ok: boolean): void {
      auditBatch.observe(entries);
      auditCommit.observe(seconds);
      if (!ok) auditFailures.inc();
    },
    onReadCache(hit: boolean): void {
      if (hit) lookups.read.hit++;
      else lookups.read.miss++;
    },
    onCredentialCache(hit: boolean): void {
      if (hit) lookups.credential.hit++;
      else lookups.credential.miss++;
    },
    onRotation(outcome: "succeeded" | "failed" | "abandoned"): void {
      rotations.labels(outcome).inc();
    },
    onAlertDelivery(outcome: string): void {
      alerts.labels(outcome).inc();
    },
    /** The exposition, for GET /metrics. */
    async scrape(): Promise<{ contentType: string; body: string }> {
      const both = Registry.merge([perProcess, registry]);
      return { contentType: both.contentType, body: await both.metrics() };
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

const STATUS_CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx"];

function statusClass(status: number): string {
  return STATUS_CLASSES[Math.floor(status / 100) - 1] ?? "other";
}
