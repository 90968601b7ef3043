import { summarize } from '../stats';
import type { Cluster } from '../chaos/cluster';
import { openLoop, type OpenLoopResult } from './open-loop';

/** One rate tried: did the machine keep up with it? */
export interface RateStep {
  rate: number;
  offered: number;
  ok: number;
  /** Ended in an error envelope or a rejection. */
  errors: number;
  /** No final envelope. */
  lost: number;
  ackP99: number;
  completionP99: number;
  /** How long after the last arrival the last call ended. */
  drainMs: number;
  sustained: boolean;
  why?: string;
}

/** Keeping up: every call ends ok, completions stay within a second at p99, and no backlog outlives the arrivals by 2 s. */
const MAX_COMPLETION_P99_MS = 1_000;
const MAX_DRAIN_MS = 2_000;
const FACTOR = 1.25;

export function judgeStep(result: OpenLoopResult): RateStep {
  const ok = result.samples.filter((s) => s.outcome === 'ok').length;
  const errors = result.samples.filter((s) => s.outcome === 'error').length;
  const lost = result.samples.filter((s) => s.outcome === undefined).length;
  const ackP99 = summarize(result.samples.flatMap((s) => (s.ackMs === undefined ? [] : [s.ackMs]))).p99;
  const completionP99 = summarize(result.samples.flatMap((s) => (s.completionMs === undefined ? [] : [s.completionMs]))).p99;
  const drainMs = result.elapsedMs - result.durationMs;
  const why = [
    errors ? `${errors} errors` : '',
    lost ? `${lost} lost` : '',
    completionP99 > MAX_COMPLETION_P99_MS ? `completion p99 ${Math.round(completionP99)} ms > ${MAX_COMPLETION_P99_MS}` : '',
    drainMs > MAX_DRAIN_MS ? `backlog drained ${Math.round(drainMs)} ms after the last arrival` : '',
  ].filter(Boolean);
  return { rate: result.rate, offered: result.offered, ok, errors, lost, ackP99, completionP99, drainMs, sustained: why.length === 0, ...(why.length ? { why: why.join(', ') } : {}) };
}

/**
 * The highest open-loop arrival rate (HTTP refunds) this machine keeps up
 * with: from `startRate`, up by 25% while it keeps up, or down by 20% until
 * it does; at most `maxSteps` steps of `stepMs` each.
 */
export async function findMaxRate(
  cluster: Cluster,
  plan: { startRate: number; stepMs: number; maxSteps: number; runId: string },
  onStep: (step: RateStep) => void,
): Promise<{ best: number | undefined; steps: RateStep[] }> {
  const steps: RateStep[] = [];
  let rate = Math.max(1, Math.round(plan.startRate));
  let best: number | undefined;
  for (let i = 0; i < plan.maxSteps; i++) {
    const step = judgeStep(await openLoop(cluster, { rate, durationMs: plan.stepMs, runId: `${plan.runId}-s${i}` }));
    steps.push(step);
    onStep(step);
    if (step.sustained) {
      best = rate;
      rate = Math.round(rate * FACTOR);
    } else if (best !== undefined) break;
    else rate = Math.max(1, Math.floor(rate / FACTOR));
  }
  return { best, steps };
}
