/**
 * Coffer's one scheduler: recurring jobs (rotations, purges, audit retention)
 * on a single timer. A job never overlaps itself; a failing job is logged and
 * runs again at its next time. The work each job does is durable in the
 * Store, so nothing is lost when the process stops between beats.
 */
export interface Job {
  name: string;
  everySeconds: number;
  run(): Promise<unknown>;
}

export function createScheduler(jobs: Job[], log: { error(obj: object, msg: string): void }) {
  const next = new Map<string, number>();
  const busy = new Set<string>();
  let timer: NodeJS.Timeout | undefined;

  function runJob(job: Job): Promise<void> {
    busy.add(job.name);
    next.set(job.name, Date.now() + job.everySeconds * 1000);
    return job
      .run()
      .then(
        () => undefined,
        (err: Error) => log.error({ job: job.name, err: { message: err.message } }, "scheduled job failed"),
      )
      .finally(() => busy.delete(job.name));
  }

  function beat(): void {
    const now = Date.now();
    for (const job of jobs) if (!busy.has(job.name) && (next.get(job.name) ?? 0) <= now) void runJob(job);
  }

  return {
    /** Starts every job now (without waiting: a slow rotation must not hold up start-up), then on its schedule. */
    start(): void {
      for (const job of jobs) void runJob(job);
      const tick = Math.max(0.05, Math.min(...jobs.map((j) => j.everySeconds)) / 2);
      timer = setInterval(beat, tick * 1000);
      timer.unref();
    },
    stop(): void {
      clearInterval(timer);
    },
  };
}
