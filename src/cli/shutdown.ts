import type { Logger } from "pino";

/** How long a graceful stop may take in all; orchestrators (Docker, Kubernetes, systemd) kill a little after 10 s. */
export const STOP_DEADLINE_MS = 10_000;
/** In-flight requests get this long; connections still open then are cut, so the audit flush and the store close fit in the deadline. */
const DRAIN_MS = 8_000;

/**
 * SIGTERM and SIGINT stop the server gracefully: stop accepting, let
 * in-flight requests finish, flush the audit trail, close the store (all in
 * `stop`), then exit 0. A stop that overruns the deadline exits 1; a second
 * signal exits at once (the store is crash-safe: WAL, synchronous=FULL).
 */
export function stopOnSignals(
  server: { stop(): Promise<void>; server: { server: { closeAllConnections(): void } } },
  logger: Logger,
): void {
  let stopping = false;
  const exit = (code: number) => {
    logger.flush();
    process.exit(code);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting without finishing the graceful stop");
      return exit(1);
    }
    stopping = true;
    const started = Date.now();
    // Called first: stop() closes the listener before its first await, so this line comes after it.
    const stopped = server.stop();
    logger.info({ signal }, "shutting down: no new connections; in-flight requests finish, then the audit trail is flushed and the store closed");
    const drain = setTimeout(() => {
      logger.warn("requests still in flight after 8 s: closing their connections");
      server.server.server.closeAllConnections();
    }, DRAIN_MS);
    // Not unref'd: the deadline holds the process open until the stop ends one way or the other.
    setTimeout(() => {
      logger.error(`did not stop within ${STOP_DEADLINE_MS / 1000} s; exiting`);
      exit(1);
    }, STOP_DEADLINE_MS);
    stopped.then(
      () => {
        clearTimeout(drain);
        logger.info({ ms: Date.now() - started }, "stopped");
        exit(0);
      },
      (err: Error) => {
        logger.error({ err: { message: err.message } }, "the graceful stop failed");
        exit(1);
      },
    );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}
