import { waitFor } from '../support/wait';
import { startHarness, freshKey, type Harness } from '../support/harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.stop());

describe('timeouts, retries and tool failures', () => {
  it('ends in TIMEOUT when the budget runs out, and the activity stops', async () => {
    const label = freshKey('sleepy');
    const key = freshKey('timeout');
    const started = Date.now();
    await h.call('sleepy_tool', { label, ms: 10_000 }, { key });
    const final = await h.get(`/v1/tool-calls/${key}?wait=20000`);
    expect(final.body).toMatchObject({ status: 'error', error_code: 'TIMEOUT', retryable: true });
    expect(Date.now() - started).toBeLessThan(5_000);
    await waitFor(() => h.probe.stopped.has(label));
  });

  it('retries a transient failure and succeeds', async () => {
    const label = freshKey('flaky');
    const answer = await h.call('flaky_tool', { label, failures: 2 });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ status: 'ok', data: { attempts: 3 }, attempts: 3 });
  });

  it('gives up after the last attempt with a retryable TOOL_FAILED', async () => {
    const label = freshKey('flaky-out');
    const answer = await h.call('flaky_tool', { label, failures: 10 });
    expect(answer.body).toMatchObject({ status: 'error', error_code: 'TOOL_FAILED', retryable: true, attempts: 4 });
    expect(h.probe.attempts.get(label)).toBe(4);
  });

  it('ends a non-retryable failure in TOOL_FAILED at once', async () => {
    const started = Date.now();
    const answer = await h.call('broken_tool', {});
    expect(answer.body).toMatchObject({
      status: 'error',
      error_code: 'TOOL_FAILED',
      message: 'The tool is broken',
      retryable: false,
      attempts: 1,
      details: { type: 'BROKEN' },
    });
    // Its retry policy would wait a second before a second attempt.
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('cancels a cancellable tool that heartbeats', async () => {
    const label = freshKey('sleepy-cancel');
    const key = freshKey('cancel');
    await h.call('sleepy_tool', { label, ms: 1_200 }, { key });
    await h.post(`/v1/tool-calls/${key}/cancel`, {});
    const final = await h.get(`/v1/tool-calls/${key}?wait=20000`);
    expect(final.body).toMatchObject({ status: 'error', error_code: 'CANCELLED' });
    await waitFor(() => h.probe.stopped.has(label));
  });

  it('finishes a refund whose money already moved, even when cancelled', async () => {
    const key = freshKey('late-cancel');
    await h.call('refund_order', { order_id: 'A-1005', amount_cents: 300, reason: 'too late to stop' }, { key });
    // Wait until the provider has moved the money, then cancel.
    await waitFor(() => h.store.countProviderRefunds({ idempotencyKey: `acme/alice/${key}` }) === 1, 10_000);
    await h.post(`/v1/tool-calls/${key}/cancel`, {});
    const final = await h.get(`/v1/tool-calls/${key}?wait=20000`);
    expect(final.body).toMatchObject({ status: 'ok', data: { amount_cents: 300 } });
  });
});
