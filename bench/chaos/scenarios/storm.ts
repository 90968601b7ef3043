import { setTimeout as delay } from 'node:timers/promises';
import { describe, finalEnvelope, followStream, newCall, type ObservedCall } from '../calls';
import { TENANT } from '../cluster';
import { checkTrial } from '../invariants';
import { REASON, type Scenario } from '../scenario';

/**
 * The same call (one key, same arguments) sent many times by one user under
 * Holdline's default limits: all at once, or spread over a window. Every
 * duplicate must attach to the one call and get its result: no 429, one payment.
 */
function storm(kind: 'burst' | 'spread'): Scenario {
  return {
    name: `storm-${kind}`,
    description:
      kind === 'burst' ? 'the same call sent N times at once (default limits)' : 'the same call sent N times spread evenly over a window (default limits)',
    // Spread trials mostly wait; overlapping them keeps the run's length bounded.
    ...(kind === 'spread' ? { parallel: () => 10 } : {}),
    async run(cluster, trial) {
      const failures: string[] = [];
      const { stormCalls: n, spreadMs } = trial.sizes;
      const orderId = cluster.ledger.newOrder(TENANT, 10_000);
      const client = await cluster.http(trial.user, { maxSockets: 256 });
      const key = `st-${trial.tag}`;
      const args = { order_id: orderId, amount_cents: 900, reason: REASON };
      const calls: ObservedCall[] = Array.from({ length: n }, (_, i) => newCall(`duplicate #${i}`, i === 0 ? { orderId, amountCents: 900 } : undefined));
      const accepted: ObservedCall[] = [];
      let stream: Promise<void> | undefined;

      const send = async (call: ObservedCall) => {
        let answer;
        try {
          answer = await client.call('refund_order', args, key);
        } catch (error) {
          call.notes.push(`POST failed: ${(error as Error).message}`);
          return;
        }
        if (answer.body?.workflow_id) call.workflowId = answer.body.workflow_id;
        if (answer.status === 200) call.final = answer.body;
        else if (answer.status === 202) {
          accepted.push(call);
          // One reader of the call's events, opened by the first acceptance: it must see one terminal event.
          stream ??= followStream(client, call, key, Date.now() + 90_000);
        } else {
          call.rejections.push(describe(answer));
          call.rejected = true;
          if (answer.body?.status === 'error') call.final = answer.body;
        }
      };
      if (kind === 'burst') await Promise.all(calls.map(send));
      else await Promise.all(calls.map((call, i) => delay(Math.round((i * spreadMs) / n)).then(() => send(call))));

      if (accepted.length) {
        const final = await finalEnvelope(client, accepted[0]!, key, Date.now() + 90_000);
        for (const call of accepted) if (final) call.final = final;
      }
      await stream;
      const workflows = new Set(calls.map((c) => c.workflowId).filter(Boolean));
      if (workflows.size > 1) failures.push(`split storm: the duplicates of key ${key} name ${workflows.size} workflows`);
      const rejected = calls.filter((c) => c.rejected);
      if (rejected.length) {
        const codes = new Map<string, number>();
        for (const c of rejected) for (const r of c.rejections) codes.set(r, (codes.get(r) ?? 0) + 1);
        failures.push(`rejected duplicates: ${rejected.length} of ${n} duplicates of key ${calls[0]?.workflowId ?? key} were refused (${[...codes].map(([code, count]) => `${count}× ${code}`).join(', ')})`);
      }
      const outcome = checkTrial(cluster, calls, [orderId], failures.slice());
      // One line for all rejected duplicates, not one per call.
      outcome.failures = [...failures, ...outcome.failures.filter((f) => !f.startsWith('rejected:') && !failures.includes(f))];
      return outcome;
    },
  };
}

export const stormBurst = storm('burst');
export const stormSpread = storm('spread');
