import { setTimeout as delay } from 'node:timers/promises';
import { httpCall, newCall, type ObservedCall } from '../calls';
import { TENANT } from '../cluster';
import { FAULT_MODES } from '../faults';
import { checkTrial } from '../invariants';
import { REASON, type Scenario } from '../scenario';

/** How long each fault lasts: shorter than a refund's retries take, so calls can still succeed after it. */
const WINDOW_MS = { fail: 1_500, 'lost-reply': 1_500, hang: 2_000 } as const;

/**
 * The payment provider misbehaves for a window while refunds run: it fails,
 * or moves money and loses its answer, or hangs. The mode rotates by trial.
 */
export const downstream: Scenario = {
  name: 'downstream',
  description: 'payment provider fails, loses its reply after paying, or hangs, for a window',
  async run(cluster, trial) {
    const mode = FAULT_MODES[trial.index % FAULT_MODES.length]!;
    const orderId = cluster.ledger.newOrder(TENANT, 10_000);
    const client = await cluster.http(trial.user);
    const calls: ObservedCall[] = [];
    cluster.faults.set(mode);
    const running = Array.from({ length: trial.sizes.inFlight }, (_, i) => {
      const call = newCall(`refund #${i} while the provider is in '${mode}'`, { orderId, amountCents: 500 + i });
      calls.push(call);
      return httpCall(client, call, 'refund_order', { order_id: orderId, amount_cents: 500 + i, reason: REASON }, `ds-${trial.tag}-${i}`, {
        followStream: true,
        retryUnavailable: true,
        deadlineMs: 90_000,
      });
    });
    await delay(WINDOW_MS[mode]);
    cluster.faults.clear();
    await Promise.all(running);
    return checkTrial(cluster, calls, [orderId]);
  },
};
