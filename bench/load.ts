import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { lookupOrder } from '../examples/support-desk';
import { PLAN } from './config';
import { startCpuMeter, type CpuUse } from './cpu';
import type { RawWorkflowKind } from './raw-temporal';
import type { BenchEnv } from './setup';

/** What a closed-loop run counted. */
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
  /** Things worth knowing that are not failures. */
  notes: string[];
  cpu: CpuUse;
}

/** A call's outcome: 'ok', or why not, prefixed `error:` (answered) or `failed:` (no answer). */
type Outcome = 'ok' | `error:${string}` | `failed:${string}`;

export async function holdlineThroughput(env: BenchEnv): Promise<LoadResult> {
  let lateAcks = 0;
  const result = await closedLoop(async () => {
    let answer;
    try {
      answer = await env.http.call('lookup_order', { order_id: 'A-1001' }, `bench-load-${randomUUID()}`);
    } catch (error) {
      return `failed:${(error as Error).name}`;
    }
    // A fallback's answer never went through Temporal: it is not throughput to compare with raw.
    if (answer.status === 200 && answer.body?.status === 'ok') return answer.body.fallback === true ? 'error:answered by its fallback' : 'ok';
    if (answer.status === 202) {
      // Past its ack window the call was acked, not lost: fetch the result as a caller would.
      lateAcks += 1;
      const final = await env.http.result(answer.body.call_id, 30_000).catch(() => undefined);
      if (final?.body?.status === 'ok') return 'ok';
      return `error:202 accepted, then ${final?.body?.error_code ?? final?.body?.status ?? 'no final envelope'}`;
    }
    return `error:${answer.status} ${answer.body?.error_code ?? answer.body?.status ?? 'no envelope'}`;
  });
  if (lateAcks) result.notes.push(`${lateAcks} answered 202 past the ${lookupOrder.budget.ackAfterMs} ms ack window; their results were fetched with ?wait=`);
  return result;
}

export async function rawThroughput(env: BenchEnv, kind: RawWorkflowKind): Promise<LoadResult> {
  return closedLoop(async () => {
    try {
      await env.raw.execute(kind);
      return 'ok';
    } catch (error) {
      return `error:${(error as Error).name}`;
    }
  });
}

/**
 * Closed-loop throughput: N clients, each sending its next call as soon as
 * the previous one answers, until the time is up. Calls in flight at the
 * deadline are waited for and counted, and the rate is over the time until
 * the last one answered, so neither side gains from the cut-off.
 */
async function closedLoop(once: () => Promise<Outcome>): Promise<LoadResult> {
  const { clients, durationMs } = PLAN.throughput;
  const meter = startCpuMeter();
  const started = performance.now();
  const deadline = started + durationMs;
  const outcomes: Outcome[] = [];
  const client = async () => {
    while (performance.now() < deadline) outcomes.push(await once());
  };
  await Promise.all(Array.from({ length: clients }, client));
  const elapsedMs = performance.now() - started;
  const cpu = meter.stop();

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
  return { clients, elapsedMs, ok, errors, failed, reasons, rate: ok / (elapsedMs / 1000), cpu, notes: [] };
}

/** Calls that did not end in an ok result. */
export function lost(result: LoadResult): number {
  return result.errors + result.failed;
}
