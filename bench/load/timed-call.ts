import { performance } from 'node:perf_hooks';
import type { Cluster } from '../chaos/cluster';
import type { HoldlineHttp } from '../http';

/**
 * One call over HTTP, timed as a client sees it: the ack is the first answer
 * (202, or a 200 that already carries the result), the completion is the
 * final envelope (GET ?wait= after a 202). Times in ms from `startedAt`.
 */
export interface CallSample {
  transport: 'http' | 'realtime';
  ackMs?: number;
  completionMs?: number;
  /** The final envelope's status; undefined when none came (lost). */
  outcome?: 'ok' | 'error';
  /** Why it did not end ok, for the error table. */
  reason?: string;
  /** Terminal envelopes delivered for the call: one, unless duplicated. */
  terminals: number;
  /** For refunds: the workflow id the provider saw, checked against the ledger afterwards. */
  refundKey?: string;
}

export type LoadTool = 'refund_order' | 'lookup_order';

/** How long a client waits for a call's result before counting it lost. */
export const RESULT_PATIENCE_MS = 120_000;

export async function timedHttpCall(client: HoldlineHttp, tool: LoadTool, orderId: string, key: string, startedAt = performance.now()): Promise<CallSample> {
  const sample: CallSample = { transport: 'http', terminals: 0 };
  const args = tool === 'refund_order' ? { order_id: orderId, amount_cents: 1, reason: 'load test refund' } : { order_id: orderId };
  try {
    const answer = await client.call(tool, args, key);
    sample.ackMs = performance.now() - startedAt;
    let final = answer;
    if (answer.status === 202) {
      if (tool === 'refund_order') sample.refundKey = answer.body.workflow_id;
      // A patient client: long polls again while the call runs, for up to RESULT_PATIENCE_MS.
      const giveUpAt = performance.now() + RESULT_PATIENCE_MS;
      do final = await client.result(answer.body.call_id, 30_000);
      while (final.status === 200 && final.body?.status !== 'ok' && final.body?.status !== 'error' && performance.now() < giveUpAt);
    }
    const status = final.body?.status;
    if (final.status === 200 && (status === 'ok' || status === 'error')) {
      sample.completionMs = performance.now() - startedAt;
      sample.outcome = status;
      sample.terminals = 1;
      if (status === 'ok' && tool === 'refund_order') sample.refundKey ??= final.body.workflow_id;
      if (status === 'error') sample.reason = `${final.body.error_code}`;
    } else if (final.status !== 200 && final.body?.status === 'error') {
      // A rejection is an answer: an error, not a lost call.
      sample.completionMs = performance.now() - startedAt;
      sample.outcome = 'error';
      sample.terminals = 1;
      sample.reason = `${final.status} ${final.body.error_code}`;
    } else sample.reason = `no final envelope (${final.status} ${status ?? ''})`;
  } catch (error) {
    sample.reason = `request failed: ${(error as Error).message}`;
  }
  return sample;
}

/** Refunds that ended ok must each have moved money exactly once: returns how many did not. */
export function ledgerMismatches(cluster: Cluster, samples: readonly CallSample[]): { missing: number; duplicated: number } {
  let missing = 0;
  let duplicated = 0;
  for (const sample of samples) {
    if (!sample.refundKey || sample.outcome !== 'ok') continue;
    const n = cluster.store.countProviderRefunds({ idempotencyKey: sample.refundKey });
    if (n === 0) missing++;
    if (n > 1) duplicated += n - 1;
  }
  return { missing, duplicated };
}
