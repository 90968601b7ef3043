import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { TENANT, type Cluster } from '../chaos/cluster';
import { timedHttpCall, type CallSample } from './timed-call';

export interface OpenLoopResult {
  /** Arrivals per second asked for. */
  rate: number;
  durationMs: number;
  /** Calls sent. */
  offered: number;
  /** From the first arrival until the last call ended. */
  elapsedMs: number;
  samples: (CallSample & { sentAtMs: number })[];
}

/**
 * Open loop: HTTP refunds arrive at `rate` per second, evenly spaced, for
 * `durationMs`, whether or not earlier ones have answered. Latencies count
 * from each call's scheduled arrival, so a client that falls behind shows up
 * in them instead of hiding the server's delay. `onTick` hears the elapsed
 * time about once a second (it must not block the arrivals).
 */
export async function openLoop(
  cluster: Cluster,
  plan: { rate: number; durationMs: number; runId: string; clients?: number },
  onTick?: (elapsedMs: number) => void,
): Promise<OpenLoopResult> {
  const users = plan.clients ?? 50;
  const clients = await Promise.all(Array.from({ length: users }, (_, i) => cluster.http(`open-${plan.runId}-${i}`)));
  const orders = clients.map(() => cluster.ledger.newOrder(TENANT, 1_000_000_000));
  const total = Math.max(1, Math.round((plan.rate * plan.durationMs) / 1000));
  const interval = 1000 / plan.rate;
  const samples: OpenLoopResult['samples'] = [];
  const running: Promise<void>[] = [];
  const started = performance.now();
  let sent = 0;
  let nextTick = 1_000;
  while (sent < total) {
    const now = performance.now();
    // Send everything due; a late timer sends several at once rather than shifting the schedule.
    while (sent < total && started + sent * interval <= now) {
      const index = sent++;
      const scheduled = started + index * interval;
      const c = index % users;
      running.push(timedHttpCall(clients[c]!, 'refund_order', orders[c]!, `open-${plan.runId}-${index}`, scheduled).then((s) => void samples.push({ ...s, sentAtMs: scheduled - started })));
    }
    if (onTick && now - started >= nextTick) {
      nextTick += 1_000;
      onTick(now - started);
    }
    await delay(Math.max(0, Math.min(started + sent * interval - performance.now(), 50)));
  }
  await Promise.all(running);
  return { rate: plan.rate, durationMs: plan.durationMs, offered: total, elapsedMs: performance.now() - started, samples };
}
