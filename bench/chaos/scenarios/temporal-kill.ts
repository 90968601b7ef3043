import { setTimeout as delay } from 'node:timers/promises';
import { httpCall, newCall, type ObservedCall } from '../calls';
import { TENANT } from '../cluster';
import { checkTrial } from '../invariants';
import { randomMs, REASON, type Scenario } from '../scenario';

/**
 * The Temporal dev server is SIGKILLed while refunds run, and started again
 * on its SQLite file a moment later. More refunds are asked for while it is
 * down; their clients retry the same key until Temporal is back. Worker and
 * server stay up throughout and must carry on by themselves.
 */
export const temporalKill: Scenario = {
  name: 'temporal-kill',
  description: 'Temporal dev server SIGKILLed with calls in flight, restarted on its database',
  async run(cluster, trial) {
    const orderId = cluster.ledger.newOrder(TENANT, 50_000);
    const client = await cluster.http(trial.user);
    const calls: ObservedCall[] = [];
    const refund = (label: string, index: number) => {
      const call = newCall(label, { orderId, amountCents: 300 + index });
      calls.push(call);
      return httpCall(client, call, 'refund_order', { order_id: orderId, amount_cents: 300 + index, reason: REASON }, `tk-${trial.tag}-${index}`, {
        followStream: false,
        retryUnavailable: true,
        deadlineMs: 120_000,
      });
    };
    const running: Promise<unknown>[] = [];
    for (let i = 0; i < trial.sizes.inFlight; i++) running.push(refund(`refund #${i} in flight at the kill`, i));
    await delay(randomMs(0, 3 * cluster.refundStageMs));
    await cluster.temporal.kill();
    for (let i = 0; i < 2; i++) running.push(refund(`refund #${trial.sizes.inFlight + i} asked while Temporal is down`, trial.sizes.inFlight + i));
    await delay(randomMs(500, 2_000));
    await cluster.temporal.start();
    await Promise.all(running);
    return checkTrial(cluster, calls, [orderId]);
  },
};
