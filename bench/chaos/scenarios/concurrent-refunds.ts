import { httpCall, newCall, toolErrorType, type ObservedCall } from '../calls';
import { TENANT } from '../cluster';
import { checkTrial } from '../invariants';
import { REASON, type Scenario } from '../scenario';

const TOTAL = 10_000;
const AMOUNT = 3_000;
const CLEAN_REFUSALS = ['REFUND_EXCEEDS_BALANCE', 'NOTHING_TO_REFUND'];

/**
 * Many keys refund 30% of one order at the same moment, each as a user of
 * its own (so no in-flight limit trims the race): at most three may succeed;
 * the rest must end in a clean TOOL_FAILED that moved nothing.
 */
export const concurrentRefunds: Scenario = {
  name: 'concurrent-refunds',
  description: 'one order refunded 30% at a time under many keys at once',
  async run(cluster, trial) {
    const failures: string[] = [];
    const orderId = cluster.ledger.newOrder(TENANT, TOTAL);
    const calls: ObservedCall[] = [];
    await Promise.all(
      Array.from({ length: trial.sizes.refundKeys }, async (_, i) => {
        const user = `${trial.user}-k${i}`;
        const client = await cluster.http(user);
        const call = newCall(`refund #${i} of 30% of ${orderId}`, { orderId, amountCents: AMOUNT });
        calls.push(call);
        return httpCall(client, call, 'refund_order', { order_id: orderId, amount_cents: AMOUNT, reason: REASON }, `cr-${trial.tag}-${i}`, {
          followStream: true,
          retryUnavailable: true,
          deadlineMs: 90_000,
        });
      }),
    );
    for (const call of calls) {
      const final = call.final;
      if (final?.status !== 'error' || call.rejected) continue;
      const type = toolErrorType(final);
      if (final.error_code !== 'TOOL_FAILED' || !type || !CLEAN_REFUSALS.includes(type)) {
        failures.push(`unclean refusal: ${call.label} [key ${call.workflowId}] ended ${final.error_code}${type ? `/${type}` : ''}, not TOOL_FAILED/REFUND_EXCEEDS_BALANCE`);
      }
    }
    const succeeded = calls.filter((c) => c.final?.status === 'ok').length;
    if (succeeded === 0) failures.push(`no refund of ${orderId} succeeded; at least one must`);
    if (succeeded > Math.floor(TOTAL / AMOUNT)) failures.push(`over-refund: ${succeeded} refunds of ${AMOUNT} cents of ${orderId} (total ${TOTAL}) ended ok`);
    return checkTrial(cluster, calls, [orderId], failures);
  },
};
