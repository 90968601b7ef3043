import { setTimeout as delay } from 'node:timers/promises';
import { httpCall, newCall } from '../calls';
import { TENANT } from '../cluster';
import { checkTrial } from '../invariants';
import { ChaosSession } from '../realtime-call';
import { randomMs, REASON, type Scenario } from '../scenario';

/**
 * The server process is SIGKILLed while a realtime session's refund and an
 * HTTP refund run, then started again on the same address. The realtime
 * client resumes its session (`?session_id=`) and must hear the result once;
 * the HTTP client reads its result with the same key.
 */
export const serverKill: Scenario = {
  name: 'server-kill',
  description: 'server SIGKILLed mid-call and restarted; the realtime client resumes and gets the result once',
  async run(cluster, trial) {
    const failures: string[] = [];
    const orderId = cluster.ledger.newOrder(TENANT, 10_000);
    const session = await ChaosSession.open(cluster, trial.user);
    const realtime = newCall('realtime refund across a server kill', { orderId, amountCents: 123 });
    const modelCallId = await session.askRefund(orderId, 123);
    realtime.workflowId = session.workflowIdOf(modelCallId);

    const http = newCall('HTTP refund across a server kill', { orderId, amountCents: 456 });
    const httpRunning = httpCall(await cluster.http(trial.user), http, 'refund_order', { order_id: orderId, amount_cents: 456, reason: REASON }, `sk-${trial.tag}`, {
      followStream: false,
      retryUnavailable: true,
      deadlineMs: 90_000,
    });

    await delay(randomMs(0, 3 * cluster.refundStageMs));
    await cluster.server.kill();
    await session.current.closed;
    await cluster.server.start();
    const refused = await session.resume();
    if (refused) failures.push(refused);
    await session.settle(realtime, modelCallId, 60_000);
    await httpRunning;
    await session.close();
    return checkTrial(cluster, [realtime, http], [orderId], failures);
  },
};
