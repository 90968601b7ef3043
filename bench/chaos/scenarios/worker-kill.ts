import { setTimeout as delay } from 'node:timers/promises';
import { waitFor } from '../../../test/support/wait';
import { httpCall, newCall } from '../calls';
import { TENANT } from '../cluster';
import { checkTrial } from '../invariants';
import { randomMs, REASON, type Scenario } from '../scenario';

const PHASES = ['before', 'during', 'after'] as const;
/**
 * A refund whose worker is SIGKILLed, then started again. The kill point
 * rotates: before the money moves (verify stage), while it moves (payment
 * stage, either side of the provider call), and after it moved but before
 * the ledger row is written.
 */
export const workerKill: Scenario = {
  name: 'worker-kill',
  description: 'worker SIGKILLed before / during / after the money moves of a refund, then restarted',
  async run(cluster, trial) {
    const stageMs = cluster.refundStageMs;
    const phase = PHASES[trial.index % PHASES.length]!;
    const orderId = cluster.ledger.newOrder(TENANT, 10_000);
    const client = await cluster.http(trial.user);
    const key = `wk-${trial.tag}`;
    const workflowId = `${TENANT}/${trial.user}/${key}`;
    const call = newCall(`refund, worker killed ${phase} the money moves`, { orderId, amountCents: 700 });
    const running = httpCall(client, call, 'refund_order', { order_id: orderId, amount_cents: 700, reason: REASON }, key, {
      followStream: true,
      retryUnavailable: true,
      deadlineMs: 90_000,
    });
    if (phase === 'before') await delay(randomMs(0, stageMs));
    else if (phase === 'during') await delay(randomMs(stageMs, 2.5 * stageMs));
    else await waitFor(() => cluster.store.countProviderRefunds({ idempotencyKey: workflowId }) > 0, 30_000, 'the provider payment').catch(() => undefined);
    const movedAtKill = cluster.store.countProviderRefunds({ idempotencyKey: workflowId }) > 0;
    await cluster.worker.kill();
    call.notes.push(`killed ${movedAtKill ? 'after' : 'before'} the provider call`);
    await cluster.worker.start();
    await running;
    return checkTrial(cluster, [call], [orderId]);
  },
};
