import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { PLAN } from './config';
import type { BenchEnv } from './setup';

/**
 * Closed-loop throughput: N clients, each sending its next call as soon as
 * the previous one answers, until the time is up. Calls in flight at the
 * deadline are waited for and counted, and the rate is over the time until
 * the last one answered, so neither side gains from the cut-off.
 */
export interface LoadResult {
  clients: number;
  elapsedMs: number;
  ok: number;
  /** Answered, but not with an ok result: an error envelope, a 202, a rejection. */
  errors: number;
  /** No answer at all: the request failed or timed out. */
  failed: number;
  /** Why calls did not end ok, with counts. */
  reasons: Map<string, number>;
  /** ok calls per second. */
  rate: number;
}

/** A call's outcome: 'ok', or why not, prefixed `error:` (answered) or `failed:` (no answer). */
type Outcome = 'ok' | `error:${string}` | `failed:${string}`;

export async function holdlineThroughput(env: BenchEnv): Promise<LoadResult> {
  return closedLoop(async () => {
    let answer;
    try {
      answer = await env.http.call('lookup_order', { order_id: 'A-1001' }, `bench-load-${randomUUID()}`);
    } catch (error) {
      return `failed:${(error as Error).name}`;
    }
    if (answer.status === 200 && answer.body?.status === 'ok') return 'ok';
    return `error:${answer.status} ${answer.body?.error_code ?? answer.body?.status ?? 'no envelope'}`;
  });
}

export async function rawThroughput(env: BenchEnv): Promise<LoadResult> {
  return closedLoop(async () => {
    try {
      await env.raw.execute('activity');
      return 'ok';
    } catch (error) {
      return `error:${(error as Error).name}`;
    }
  });
}

async function closedLoop(once: () => Promise<Outcome>): Promise<LoadResult> {
  const { clients, durationMs } = PLAN.throughput;
  const started = performance.now();
  const deadline = started + durationMs;
  const outcomes: Outcome[] = [];
  const client = async () => {
    while (performance.now() < deadline) outcomes.push(await once());
  };
  await Promise.all(Array.from({ length: clients }, client));
  const elapsedMs = performance.now() - started;

  const reasons = new Map<string, number>();
  let ok = 0;
  let errors = 0;
  let failed = 0;
  for (const outcome of outcomes) {
    if (outcome === 'ok') {
      ok++;
      continue;
    }
    if (outcome.startsWith('error:')) errors++;
    else failed++;
    reasons.set(outcome, (reasons.get(outcome) ?? 0) + 1);
  }
  return { clients, elapsedMs, ok, errors, failed, reasons, rate: ok / (elapsedMs / 1000) };
}

/** Calls that did not end in an ok result. */
export function lost(result: LoadResult): number {
  return result.errors + result.failed;
}
