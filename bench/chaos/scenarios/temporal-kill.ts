import { setTimeout as delay } from 'node:timers/promises';
import { httpCall, newCall, type ObservedCall } from '../calls';
import { TENANT } from '../cluster';
import { checkTrial } from '../invariants';
import { ChaosSession } from '../realtime-call';
import { randomMs, REASON, type Scenario } from '../scenario';

/**
 * The Temporal dev server is SIGKILLed while refunds run, and started again
 * on its SQLite file a moment later. More refunds are asked for while it is
 * down; their clients retry the same key until Temporal is back. A realtime
 * session asks for one as well. Worker and server stay up throughout and
 * must carry on by themselves.
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
    // A realtime refund too: if its start's answer is lost with Temporal, the session must follow it, not fail it.
    const session = await ChaosSession.open(cluster, `${trial.user}-rt`);
    const realtime = newCall('realtime refund in flight at the kill', { orderId, amountCents: 250 });
    calls.push(realtime);
    const running: Promise<unknown>[] = [];
    const asked = session.askRefund(orderId, 250);
    for (let i = 0; i < trial.sizes.inFlight; i++) running.push(refund(`refund #${i} in flight at the kill`, i));
    running.push(
      asked.then((modelCallId) => {
        realtime.workflowId = session.workflowIdOf(modelCallId);
        return session.settle(realtime, modelCallId, 120_000);
      }),
    );
    await delay(randomMs(0, 3 * cluster.refundStageMs));
    await cluster.temporal.kill();
    for (let i = 0; i < 2; i++) running.push(refund(`refund #${trial.sizes.inFlight + i} asked while Temporal is down`, trial.sizes.inFlight + i));
    await delay(randomMs(500, 2_000));
    await cluster.temporal.start();
    await Promise.all(running);
    await session.close();
    return checkTrial(cluster, calls, [orderId]);
  },
};
