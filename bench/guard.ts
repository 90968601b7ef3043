/**
 * Bounds a benchmark process: it gives up after `limitMs` (a hang is a failure,
 * not a long run, on a shared 2-core machine), and Ctrl-C or SIGTERM stop what
 * it started before it exits. `stop` is read when a signal comes, so it may
 * return undefined while nothing has started yet.
 */
export function guardRun(name: string, limitMs: number, stop: () => Promise<void> | undefined): void {
  const watchdog = setTimeout(() => {
    process.stderr.write(`${name}: still running after ${Math.round(limitMs / 60_000)} minutes; giving up\n`);
    process.exit(1);
  }, limitMs);
  watchdog.unref();
  const interrupted = async () => {
    process.stderr.write(`${name}: interrupted; cleaning up\n`);
    await stop();
    process.exit(130);
  };
  process.once('SIGINT', () => void interrupted());
  process.once('SIGTERM', () => void interrupted());
}
