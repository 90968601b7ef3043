import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { TENANT, type Cluster } from '../chaos/cluster';
import { BenchSession } from '../realtime';
import { RESULT_PATIENCE_MS, timedHttpCall, type CallSample, type LoadTool } from './timed-call';

/** A big order per client, so refunds of a cent never run out of balance. */
const ORDER_TOTAL = 1_000_000_000;

export interface ClosedLoopResult {
  clients: number;
  elapsedMs: number;
  samples: CallSample[];
}

/**
 * `calls` calls over `clients` clients, each sending its next call when the
 * previous one has ended: half over HTTP (POST, then GET ?wait= for the
 * result), half as realtime sessions (a line to the scripted model, which
 * makes the function call). Refunds of one cent and lookups alternate.
 */
export async function closedLoop(cluster: Cluster, plan: { calls: number; clients: number; runId: string }): Promise<ClosedLoopResult> {
  const samples: CallSample[] = [];
  let next = 0;
  const claim = () => (next < plan.calls ? next++ : undefined);
  const tool = (index: number): LoadTool => (index % 2 === 0 ? 'refund_order' : 'lookup_order');

  const httpClient = async (c: number) => {
    const user = `load-http-${plan.runId}-${c}`;
    const client = await cluster.http(user);
    const orderId = cluster.ledger.newOrder(TENANT, ORDER_TOTAL);
    for (let index = claim(); index !== undefined; index = claim()) samples.push(await timedHttpCall(client, tool(index), orderId, `load-${plan.runId}-${index}`));
  };
  const realtimeClient = async (c: number) => {
    const session = await BenchSession.open(cluster.apiUrl, await cluster.token(`load-rt-${plan.runId}-${c}`));
    const orderId = cluster.ledger.newOrder(TENANT, ORDER_TOTAL);
    try {
      for (let index = claim(); index !== undefined; index = claim()) {
        const refund = tool(index) === 'refund_order';
        const timing = await session.call(refund ? `refund order ${orderId} for $0.01` : `look up order ${orderId}`, RESULT_PATIENCE_MS);
        const sample: CallSample = { transport: 'realtime', terminals: timing?.terminals ?? 0 };
        if (!timing) sample.reason = 'the model made no function call';
        else {
          const ackAt = timing.acceptedAt ?? timing.terminalAt;
          if (ackAt !== undefined) sample.ackMs = ackAt - timing.functionCallAt;
          if (timing.terminalAt !== undefined) {
            sample.completionMs = timing.terminalAt - timing.functionCallAt;
            sample.outcome = timing.terminal === 'tool_call.completed' ? 'ok' : 'error';
            if (sample.outcome === 'error') sample.reason = timing.terminal;
          } else sample.reason = 'no terminal event';
          if (refund && timing.workflowId) sample.refundKey = timing.workflowId;
        }
        samples.push(sample);
      }
    } finally {
      session.close();
    }
  };

  const started = performance.now();
  // Clients arrive over a second rather than in one instant, as callers of a service do.
  const arrive = (c: number) => delay(Math.round((c * 1_000) / plan.clients));
  await Promise.all(Array.from({ length: plan.clients }, (_, c) => arrive(c).then(() => (c % 2 === 0 ? httpClient(c) : realtimeClient(c)))));
  return { clients: plan.clients, elapsedMs: performance.now() - started, samples };
}
