import { waitFor } from '../support/wait';
import { startHarness, freshKey, type Harness } from '../support/harness';
import { readEvents } from '../support/sse';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.stop());

describe('lookup_order', () => {
  it('answers a fast tool with 200 and the result envelope', async () => {
    const answer = await h.call('lookup_order', { order_id: 'A-1002' });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      status: 'ok',
      tool: 'lookup_order',
      data: { order_id: 'A-1002', state: 'shipped', total_cents: 15_800 },
      attempts: 1,
    });
    expect(answer.body.trace_id).toMatch(/^tool-req-/);
    expect(answer.body.workflow_id).toBe(`acme/alice/${answer.body.call_id}`);
  });

  it('accepts the arguments as the JSON string a model emits', async () => {
    const answer = await h.call('lookup_order', '{"order_id":"A-1001"}');
    expect(answer.status).toBe(200);
    expect(answer.body.data.order_id).toBe('A-1001');
  });

  it("does not reveal another tenant's order", async () => {
    const other = await h.call('lookup_order', { order_id: 'G-2001' });
    const missing = await h.call('lookup_order', { order_id: 'A-9999' });
    expect(other.body).toMatchObject({ status: 'error', error_code: 'TOOL_FAILED', message: 'No order G-2001 was found' });
    expect(missing.body.message).toBe('No order A-9999 was found');
    expect(other.body.details).toEqual(missing.body.details);
  });

  it('serves the same order to its own tenant', async () => {
    const token = await h.token({ tenant: 'globex' });
    const answer = await h.call('lookup_order', { order_id: 'G-2001' }, { token });
    expect(answer.body).toMatchObject({ status: 'ok', data: { order_id: 'G-2001', currency: 'EUR' } });
    expect(answer.body.workflow_id).toMatch(/^globex\//);
  });
});

describe('refund_order', () => {
  it('acks at once with 202, streams progress, then completes with one refund', async () => {
    const key = freshKey('refund');
    const answer = await h.call('refund_order', { order_id: 'A-1005', amount_cents: 1_000, reason: 'arrived scratched' }, { key });
    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({ status: 'accepted', call_id: key, workflow_id: `acme/alice/${key}`, tool: 'refund_order' });
    expect(answer.headers.get('location')).toBe(`/v1/tool-calls/${key}`);

    const events = await readEvents(`${h.url}/v1/tool-calls/${key}/events`, await h.token());
    const names = events.map((e) => e.event);
    expect(names[0]).toBe('accepted');
    expect(names.filter((n) => n === 'progress').length).toBeGreaterThanOrEqual(2);
    expect(names.at(-1)).toBe('completed');
    expect(names.filter((n) => ['completed', 'failed', 'cancelled'].includes(n))).toHaveLength(1);
    const progress = events.find((e) => e.event === 'progress')!.data.progress;
    expect(progress).toEqual({ stage: expect.any(String), pct: expect.any(Number), message: expect.any(String) });
    expect(events.at(-1)!.data.result).toMatchObject({ status: 'ok', data: { order_id: 'A-1005', amount_cents: 1_000 } });

    expect(h.store.countProviderRefunds({ idempotencyKey: `acme/alice/${key}` })).toBe(1);
    const after = await h.call('lookup_order', { order_id: 'A-1005' });
    expect(after.body.data.refunded_cents).toBeGreaterThanOrEqual(1_000);
  });

  it('shows a running call with its latest progress, and long-polls for the result', async () => {
    const key = freshKey('poll');
    await h.call('refund_order', { order_id: 'A-1003', amount_cents: 100, reason: 'late delivery' }, { key });
    const running = await h.get(`/v1/tool-calls/${key}`);
    expect(running.status).toBe(200);
    expect(running.body).toMatchObject({ status: 'running', call_id: key, tool: 'refund_order' });

    const final = await h.get(`/v1/tool-calls/${key}?wait=20000`);
    expect(final.body).toMatchObject({ status: 'ok', call_id: key, data: { amount_cents: 100 } });
  });

  it('is cancelled before the money moves, with no refund', async () => {
    const key = freshKey('cancel');
    await h.call('refund_order', { order_id: 'A-1003', amount_cents: 200, reason: 'changed my mind' }, { key });
    const cancel = await h.post(`/v1/tool-calls/${key}/cancel`, {});
    expect(cancel.status).toBe(202);
    expect(cancel.body).toMatchObject({ status: 'cancel_requested', cancellable: true });
    const final = await h.get(`/v1/tool-calls/${key}?wait=20000`);
    expect(final.body).toMatchObject({ status: 'error', error_code: 'CANCELLED', retryable: false });
    expect(h.store.countProviderRefunds({ idempotencyKey: `acme/alice/${key}` })).toBe(0);
  });
});

describe('cancel_order (needs approval)', () => {
  it('waits for approval, then runs once approved', async () => {
    const key = freshKey('approve');
    const answer = await h.call('cancel_order', { order_id: 'A-1001', reason: 'ordered twice' }, { key });
    expect(answer.status).toBe(202);
    expect(answer.body.message).toMatch(/approval/);
    const waiting = await h.get(`/v1/tool-calls/${key}`);
    expect(waiting.body.status).toBe('awaiting_approval');

    const approved = await h.post(`/v1/tool-calls/${key}/approval`, { approved: true });
    expect(approved.status).toBe(202);
    const final = await h.get(`/v1/tool-calls/${key}?wait=20000`);
    expect(final.body).toMatchObject({ status: 'ok', data: { order_id: 'A-1001', state: 'cancelled', previous_state: 'placed' } });
  });

  it('ends in APPROVAL_DENIED and changes nothing when denied', async () => {
    const key = freshKey('deny');
    await h.call('cancel_order', { order_id: 'A-1004', reason: 'not sure anymore' }, { key });
    await h.post(`/v1/tool-calls/${key}/approval`, { approved: false });
    const final = await h.get(`/v1/tool-calls/${key}?wait=20000`);
    expect(final.body).toMatchObject({ status: 'error', error_code: 'APPROVAL_DENIED', retryable: false });
    expect(h.store.findOrder('acme', 'A-1004')?.state).toBe('placed');
  });
});

describe('audit', () => {
  it('logs one line per call outcome with redacted arguments', async () => {
    const key = freshKey('audit');
    await h.call('refund_order', { order_id: 'A-1003', amount_cents: 50, reason: 'my card number is 4242' }, { key });
    await h.get(`/v1/tool-calls/${key}?wait=20000`);
    await waitFor(() => h.logs.some((line) => line.call_id === key && line.msg === 'tool call finished'));
    const lines = h.logs.filter((line) => line.call_id === key && line.msg === 'tool call finished');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ tool: 'refund_order', tenant: 'acme', status: 'ok', workflow_id: `acme/alice/${key}` });
    expect(lines[0]!.arguments).toEqual({ order_id: 'A-1003', amount_cents: 50, reason: '[redacted]' });
    expect(JSON.stringify(h.logs)).not.toContain('4242');
  });

  it('keeps search attributes and a redacted memo on the workflow', async () => {
    const key = freshKey('memo');
    await h.call('refund_order', { order_id: 'A-1003', amount_cents: 10, reason: 'secret reason' }, { key, session: 'voice-42' });
    await h.get(`/v1/tool-calls/${key}?wait=20000`);
    const description = await h.server.gateway.calls.handle(`acme/alice/${key}`).describe();
    expect(description.memo).toMatchObject({ arguments: { reason: '[redacted]' }, user_id: 'alice' });
    const attrs = Object.fromEntries(description.typedSearchAttributes.getAll().map((pair) => [pair.key.name, pair.value]));
    expect(attrs).toMatchObject({ HoldlineTool: 'refund_order', HoldlineTenant: 'acme', HoldlineSession: 'voice-42', HoldlineStatus: 'ok' });
  });

  it('serves Prometheus metrics', async () => {
    const response = await fetch(`${h.url}/metrics`);
    const text = await response.text();
    expect(text).toMatch(/holdline_tool_calls_total\{tool="lookup_order",outcome="ok"/);
    expect(text).toContain('holdline_ack_latency_seconds_bucket');
    expect(text).toContain('holdline_breaker_state 0');
  });
});
