import type { Cluster } from './cluster';
import type { TrialOutcome } from './invariants';

/** How big each scenario's trials are: the full run, `--quick`, and the one-trial test. */
export interface Sizes {
  /** Duplicates of one call in a storm. */
  stormCalls: number;
  /** Over how long the spread storm sends them. */
  spreadMs: number;
  /** Keys refunding one order at once. */
  refundKeys: number;
  /** Calls in flight when Temporal is killed, or while the provider misbehaves. */
  inFlight: number;
}

export const SIZES = {
  full: { stormCalls: 1_000, spreadMs: 60_000, refundKeys: 10, inFlight: 4 },
  quick: { stormCalls: 1_000, spreadMs: 10_000, refundKeys: 10, inFlight: 4 },
  test: { stormCalls: 50, spreadMs: 3_000, refundKeys: 5, inFlight: 3 },
} satisfies Record<string, Sizes>;

export interface Trial {
  /** 0-based; scenarios rotate their fault points by it. */
  index: number;
  sizes: Sizes;
  /** A user of its own, so no two trials share a key or an in-flight limit. */
  user: string;
  /** A unique word for keys. */
  tag: string;
}

export interface Scenario {
  name: string;
  /** One line for the table's legend. */
  description: string;
  /** Trials that may run at the same time (they share nothing). Default 1. */
  parallel?: (sizes: Sizes) => number;
  run(cluster: Cluster, trial: Trial): Promise<TrialOutcome>;
}

/** A uniformly random whole number of milliseconds in [min, max]. */
export function randomMs(min: number, max: number): number {
  return Math.round(min + Math.random() * (max - min));
}

export const REASON = 'chaos: checking the guarantees';
