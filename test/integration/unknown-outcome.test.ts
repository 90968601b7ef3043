import { startHarness, freshKey, type Harness } from '../support/harness';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy';
import { connectRealtime } from '../support/realtime-client';
import { waitFor } from '../support/wait';

/**
 * The gateway reaches the real Temporal through a proxy that can swallow
 * answers: a start reaches Temporal, but its answer (and every answer after
 * it) is lost until the proxy passes again. The worker talks to Temporal
 * directly, so the started call runs.
 */
let proxy: FaultProxy;
let h: Harness;
beforeAll(async () => {
  proxy = await startFaultProxy(process.env.HOLDLINE_TEST_TEMPORAL_ADDRESS!);
  h = await startHarness({ gatewayAddress: proxy.address, refundTimings: { stageMs: 200, progressEveryMs: 100 }, breakerCooldownMs: 300 });
  // Open the gateway's connection while answers flow, as in a running server.
  expect((await h.call('lookup_order', { order_id: 'A-1001' })).status).toBe(200);
});
afterAll(async () => {
  proxy.setMode('pass');
  await h.stop();
  await proxy.close();
});
afterEach(() => proxy.setMode('pass'));

const terminal = (e: Record<string, any>) => ['tool_call.completed', 'tool_call.failed', 'tool_call.cancelled'].includes(e.type);

describe('a start whose answer was lost', () => {
  it('is reported as unknown with its call id, and a retry with that key attaches to the call that did start', async () => {
    const key = freshKey('lost-start');
    proxy.setMode('swallow-answers');
    const lost = await h.call('refund_order', { order_id: 'A-1005', amount_cents: 30, reason: 'lost answer' }, { key });
    expect(lost.status).toBe(503);
    expect(lost.body).toMatchObject({ status: 'error', error_code: 'BACKEND_UNAVAILABLE', retryable: true, call_id: key, details: { outcome: 'unknown' } });
    expect(lost.headers.get('retry-after')).toBeTruthy();
    // The start did reach Temporal: the worker runs the refund meanwhile.
    await waitFor(() => h.store.countProviderRefunds({ idempotencyKey: `acme/alice/${key}` }) === 1, 15_000, 'the refund ran');

    proxy.setMode('pass');
    let retry = await h.call('refund_order', { order_id: 'A-1005', amount_cents: 30, reason: 'lost answer' }, { key });
    // The breaker may still be letting calls back in gradually.
    while (retry.status === 503) retry = await h.call('refund_order', { order_id: 'A-1005', amount_cents: 30, reason: 'lost answer' }, { key });
    expect([200, 202]).toContain(retry.status);
    // Attached, not started again: the trace is the lost start's own.
    expect(retry.body.trace_id).toBe(lost.body.trace_id);
    const final = await h.get(`/v1/tool-calls/${key}?wait=20000`);
    expect(final.body).toMatchObject({ status: 'ok', data: { amount_cents: 30 } });
    expect(h.store.countProviderRefunds({ idempotencyKey: `acme/alice/${key}` })).toBe(1);
  }, 60_000);

  it('attaches a duplicate of a call this server placed without asking Temporal, even while its answers are lost', async () => {
    const key = freshKey('known');
    const args = { order_id: 'A-1005', amount_cents: 20, reason: 'known call' };
    const first = await h.call('refund_order', args, { key });
    expect(first.status).toBe(202);
    proxy.setMode('swallow-answers');
    const duplicate = await h.call('refund_order', args, { key });
    expect(duplicate.status).toBe(202);
    expect(duplicate.body.trace_id).toBe(first.body.trace_id);
    // And a reused key with other arguments is still a conflict.
    expect((await h.call('refund_order', { ...args, amount_cents: 21 }, { key })).status).toBe(409);
    proxy.setMode('pass');
    expect((await h.get(`/v1/tool-calls/${key}?wait=20000`)).body).toMatchObject({ status: 'ok', data: { amount_cents: 20 } });
    expect(h.store.countProviderRefunds({ idempotencyKey: `acme/alice/${key}` })).toBe(1);
  }, 60_000);

  it('keeps a realtime call pending, never failed, and delivers its one result when Temporal answers again', async () => {
    const client = await connectRealtime(h.url, { token: await h.token() });
    try {
      await client.next((e) => e.type === 'session.updated', 'session.updated');
      proxy.setMode('swallow-answers');
      client.say('Please refund order A-1005 for $0.40');
      const accepted = await client.next((e) => e.type === 'tool_call.accepted', 'accepted', 20_000);
      const outputFor = () => h.model.received.find((e) => e.type === 'conversation.item.create' && (e.item as any).call_id === accepted.call_id);
      await waitFor(() => outputFor() !== undefined, 5_000, 'the model heard back');
      expect(JSON.parse((outputFor()!.item as any).output)).toMatchObject({ status: 'pending' });
      const workflowKey = `acme/alice/rt-${(await client.next((e) => e.type === 'tool_call.session')).session_id}-${accepted.call_id}`;
      await waitFor(() => h.store.countProviderRefunds({ idempotencyKey: workflowKey }) === 1, 15_000, 'the refund ran');
      expect(client.events.filter(terminal)).toHaveLength(0);

      proxy.setMode('pass');
      const done = await client.next(terminal, 'terminal', 30_000);
      expect(done).toMatchObject({ type: 'tool_call.completed', call_id: accepted.call_id, result: { status: 'ok', data: { amount_cents: 40 } } });
      // Exactly one result, and the refund ran once.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(client.events.filter(terminal)).toHaveLength(1);
      expect(h.store.countProviderRefunds({ idempotencyKey: workflowKey })).toBe(1);
    } finally {
      await client.close();
    }
  }, 90_000);
});
