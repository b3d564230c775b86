/**
 * Coffer's one scheduler: recurring jobs (rotations, purges, audit retention)
 * on a single timer. A job never overlaps itself; a failing job is logged and
 * runs again at its next time. The work each job does is durable in the
 * Store, so nothing is lost when the process stops between beats.
 *
 * With several nodes on one database, a `singleton` job runs only on the
 * node that holds its lease (the others skip their beat), and every job
 * first brings the node up to date with the others' writes (`sync`). Jobs
 * that are not singletons (rotations) claim their own work item by item.
 */
export interface Job {
  name: string;
  everySeconds: number;
  /** Runs on one node at a time: the one holding the job's lease. */
  singleton?: boolean;
  run(): Promise<unknown>;
}

export interface SchedulerOptions {
  log: { error(obj: object, msg: string): void };
  sync?: () => Promise<void>;
  /** Whether this node holds (or could take) the lease `name` for `ms`. */
  lease?: (name: string, ms: number) => Promise<boolean>;
}

/** A node that dies holding a lease blocks its job this long at most: three beats, and never less than 30 s. */
export const leaseMsOf = (job: Job): number => Math.max(30_000, 3 * job.everySeconds * 1000);

export function createScheduler(jobs: Job[], { log, sync, lease }: SchedulerOptions) {
  const next = new Map<string, number>();
  const busy = new Map<string, Promise<void>>();
  let timer: NodeJS.Timeout | undefined;

  async function attempt(job: Job): Promise<void> {
    if (job.singleton && lease && !(await lease(`job.${job.name}`, leaseMsOf(job)))) return;
    await sync?.();
    await job.run();
  }

  function runJob(job: Job): void {
    next.set(job.name, Date.now() + job.everySeconds * 1000);
    const run = attempt(job)
      .catch((err: Error) => log.error({ job: job.name, err: { message: err.message } }, "scheduled job failed"))
      .finally(() => busy.delete(job.name));
    busy.set(job.name, run);
  }

  function beat(): void {
    const now = Date.now();
    for (const job of jobs) if (!busy.has(job.name) && (next.get(job.name) ?? 0) <= now) runJob(job);
  }

  return {
    /** Starts every job now (without waiting: a slow rotation must not hold up start-up), then on its schedule. */
    start(): void {
      for (const job of jobs) runJob(job);
      const tick = Math.max(0.05, Math.min(...jobs.map((j) => j.everySeconds)) / 2);
      timer = setInterval(beat, tick * 1000);
      timer.unref();
    },
    /** Stops the timer and waits for the jobs under way. */
    async stop(): Promise<void> {
      clearInterval(timer);
      await Promise.all(busy.values());
    },
  };
}
