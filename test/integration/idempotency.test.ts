import { startHarness, freshKey, type Harness } from '../support/harness';
import { waitFor } from '../support/wait';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ refundTimings: { stageMs: 150, progressEveryMs: 50 } });
});
afterAll(() => h.stop());

const refund = { order_id: 'A-1005', amount_cents: 100, reason: 'duplicate charge' };

describe('idempotency', () => {
  it('attaches a duplicate to the running call and returns its result without running again', async () => {
    const key = freshKey('dup-running');
    const first = await h.call('refund_order', refund, { key });
    const second = await h.call('refund_order', refund, { key });
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.body.trace_id).toBe(first.body.trace_id);
    const final = await h.get(`/v1/tool-calls/${key}?wait=20000`);
    expect(final.body.status).toBe('ok');
    expect(h.store.countProviderRefunds({ idempotencyKey: `acme/alice/${key}` })).toBe(1);
  });

  it('returns the stored result of a closed call without running it again', async () => {
    const key = freshKey('dup-closed');
    await h.call('refund_order', refund, { key });
    const first = await h.get(`/v1/tool-calls/${key}?wait=20000`);
    const again = await h.call('refund_order', refund, { key });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(h.store.countProviderRefunds({ idempotencyKey: `acme/alice/${key}` })).toBe(1);
  });

  it('runs 20 concurrent duplicates once', async () => {
    const key = freshKey('dup-20');
    const answers = await Promise.all(Array.from({ length: 20 }, () => h.call('refund_order', refund, { key })));
    expect(answers.map((a) => a.status).every((s) => s === 202 || s === 200)).toBe(true);
    expect(new Set(answers.map((a) => a.body.workflow_id))).toEqual(new Set([`acme/alice/${key}`]));
    const final = await h.get(`/v1/tool-calls/${key}?wait=20000`);
    expect(final.body.status).toBe('ok');
    expect(h.store.countProviderRefunds({ idempotencyKey: `acme/alice/${key}` })).toBe(1);
  });

  it('returns IDEMPOTENCY_CONFLICT when a key is reused with other arguments, and runs nothing', async () => {
    const key = freshKey('conflict');
    await h.call('refund_order', refund, { key });
    const reused = await h.call('refund_order', { ...refund, amount_cents: 999 }, { key });
    expect(reused.status).toBe(409);
    expect(reused.body).toMatchObject({ status: 'error', error_code: 'IDEMPOTENCY_CONFLICT', retryable: false });
    await h.get(`/v1/tool-calls/${key}?wait=20000`);
    expect(h.store.countProviderRefunds({ idempotencyKey: `acme/alice/${key}` })).toBe(1);
    const refunds = h.store.findRefund('acme', `acme/alice/${key}`);
    expect(refunds?.amount_cents).toBe(100);
  });

  it('treats the same arguments in another key order as the same call', async () => {
    const key = freshKey('order');
    await h.call('lookup_order', { order_id: 'A-1001' }, { key });
    const again = await h.call('lookup_order', '{ "order_id" : "A-1001" }', { key });
    expect(again.status).toBe(200);
  });

  it('keeps the same key of two tenants apart', async () => {
    const key = freshKey('tenants');
    const acme = await h.call('lookup_order', { order_id: 'A-1001' }, { key });
    const globex = await h.call('lookup_order', { order_id: 'G-2001' }, { key, token: await h.token({ tenant: 'globex' }) });
    expect(acme.body.status).toBe('ok');
    expect(globex.body.status).toBe('ok');
    expect(globex.body.workflow_id).toBe(`globex/alice/${key}`);
    const fromOtherTenant = await h.get(`/v1/tool-calls/${key}`, await h.token({ tenant: 'globex' }));
    expect(fromOtherTenant.body.data.order_id).toBe('G-2001');
  });
});

describe('waiting for results', () => {
  it('leaves no listener behind once a call has finished', async () => {
    const before = h.server.gateway.calls.waitsInProgress();
    for (let i = 0; i < 5; i++) await h.call('lookup_order', { order_id: 'A-1001' });
    await waitFor(() => h.server.gateway.calls.waitsInProgress() === before, 5_000, 'listeners released');
  });
});
