import { setTimeout as delay } from 'node:timers/promises';
import { connectRealtime, type RealtimeTestClient } from '../../../test/support/realtime-client';
import { waitFor } from '../../../test/support/wait';
import { httpCall, newCall, type Envelope } from '../calls';
import { TENANT } from '../cluster';
import { checkTrial } from '../invariants';
import { randomMs, REASON, type Scenario } from '../scenario';

const TERMINAL = ['tool_call.completed', 'tool_call.failed', 'tool_call.cancelled'];

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
    const token = await cluster.token(trial.user);
    const client = await cluster.http(trial.user);
    const first = await connectRealtime(cluster.apiUrl, { token });
    const { session_id: sessionId } = await first.next((e) => e.type === 'tool_call.session', 'session');
    await first.next((e) => e.type === 'session.updated', 'session.updated');

    const realtime = newCall('realtime refund across a server kill', { orderId, amountCents: 123 });
    first.say(`refund order ${orderId} for $1.23`);
    const accepted = await first.next((e) => e.type === 'tool_call.accepted', 'tool_call.accepted', 20_000).catch(() => undefined);
    if (accepted) realtime.workflowId = String(accepted.workflow_id);
    else realtime.notes.push('never accepted before the kill');

    const httpKey = `sk-${trial.tag}`;
    const http = newCall('HTTP refund across a server kill', { orderId, amountCents: 456 });
    const httpRunning = httpCall(client, http, 'refund_order', { order_id: orderId, amount_cents: 456, reason: REASON }, httpKey, {
      followStream: false,
      retryUnavailable: true,
      deadlineMs: 90_000,
    });

    await delay(randomMs(0, 3 * cluster.refundStageMs));
    await cluster.server.kill();
    await first.closed;
    await cluster.server.start();

    let again: RealtimeTestClient | undefined;
    try {
      again = await connectRealtime(cluster.apiUrl, { token, query: { session_id: sessionId } });
      const session = await again.next((e) => e.type === 'tool_call.session', 'session');
      if (!session.resumed) failures.push(`resume: session ${sessionId} came back as a new session`);
    } catch (error) {
      const logged = cluster.server.recentErrors();
      failures.push(`resume: session ${sessionId} could not be resumed: ${(error as Error).message}${logged.length ? `; server logged: ${logged.join(' | ')}` : ''}`);
    }

    if (accepted) {
      const callId = accepted.call_id as string;
      const terminals = () => [...first.events, ...(again?.events ?? [])].filter((e) => TERMINAL.includes(e.type) && e.call_id === callId);
      await waitFor(() => terminals().length > 0, 60_000, 'the result').catch(() => realtime.notes.push('no terminal event within 60 s of the resume'));
      // A barrier: a call made after the resume, answered and spoken; anything re-announced comes before it ends.
      if (again) await barrier(again).catch((error: Error) => realtime.notes.push(`the resumed session did not answer a lookup: ${error.message}`));
      realtime.streamTerminals = terminals().map((e) => String(e.type).slice('tool_call.'.length));
      const result = terminals()[0]?.result as Envelope | undefined;
      if (result) realtime.final = result;
    }
    await httpRunning;
    await again?.close();
    return checkTrial(cluster, [realtime, http], [orderId], failures);
  },
};

async function barrier(client: RealtimeTestClient): Promise<void> {
  client.say('look up order A-1001');
  const done = await client.next((e) => e.type === 'tool_call.completed' && e.tool === 'lookup_order', 'lookup result', 20_000);
  const after = client.events.indexOf(done);
  await client.next((e) => e.type === 'response.done' && client.events.indexOf(e) > after, 'response.done after the lookup', 20_000);
}
