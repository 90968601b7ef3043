/**
 * Waiting on a condition over state that incoming events change, as the
 * bench's realtime clients do: every event wakes the waiters, and a look every
 * 10 ms catches conditions that come true with time alone (a quiet period).
 */
export class ConditionWaiters {
  private readonly waiters = new Set<() => void>();

  /** Call after each event: every waiter looks at its condition again. */
  wake(): void {
    for (const wake of [...this.waiters]) wake();
  }

  /** Resolves once `condition` holds; rejects after `timeoutMs`. */
  until(condition: () => boolean, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!condition()) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        clearInterval(poll);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        clearInterval(poll);
        reject(new Error('timed out'));
      }, timeoutMs);
      const poll = setInterval(check, 10);
      this.waiters.add(check);
      check();
    });
  }
}
