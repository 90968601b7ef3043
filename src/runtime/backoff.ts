/** Capped exponential backoff with jitter, for reconnecting to a service that is down. */
export interface BackoffOptions {
  /** Delay after the first failure. Default 250 ms. */
  initialMs: number;
  /** No delay is longer. Default 10 s: a Temporal that comes back is found within ~10 s. */
  maxMs: number;
  /** Growth per failure. Default 2. */
  factor: number;
  /**
   * Fraction of each delay drawn at random, 0..1. Default 0.2. Many workers
   * that lost one cluster together then come back spread out, not in lockstep.
   */
  jitter: number;
}

export const DEFAULT_BACKOFF: Readonly<BackoffOptions> = { initialMs: 250, maxMs: 10_000, factor: 2, jitter: 0.2 };

/**
 * The delay before retrying after `failures` consecutive failures (1 = the
 * first). The un-jittered delay is `initialMs × factor^(failures-1)`, capped at
 * `maxMs`; jitter then shortens it by up to `jitter` of itself, so a delay is
 * never longer than the cap. `random` returns a number in [0, 1).
 */
export function backoffDelay(failures: number, options: Readonly<BackoffOptions> = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const exponent = Math.max(0, Math.floor(failures) - 1);
  const base = Math.min(options.maxMs, options.initialMs * options.factor ** exponent);
  return Math.round(base * (1 - options.jitter * random()));
}
