import { TenantPolicy } from '../../src/gateway';
import { lookupOrder, refundOrder } from '../../examples/support-desk';
import { freshKey, startHarness, type Harness } from '../support/harness';
import { connectRealtime } from '../support/realtime-client';

const names = (tools: { name: string }[]) => tools.map((tool) => tool.name).sort();

describe('TenantPolicy', () => {
  const policy = new TenantPolicy({
    acme: { tools: ['lookup_order', 'refund_order'], tighten: { refund_order: { timeoutMs: 10_000, maxAttempts: 2, needsApproval: true }, lookup_order: { timeoutMs: 60_000 } } },
    '*': { tools: ['lookup_order'] },
  });

  it('allows a named tenant its tools, others the "*" entry', () => {
    expect(policy.allows('acme', 'refund_order')).toBe(true);
    expect(policy.allows('acme', 'cancel_order')).toBe(false);
    expect(policy.allows('globex', 'lookup_order')).toBe(true);
    expect(policy.allows('globex', 'refund_order')).toBe(false);
  });

  it('allows nothing to a tenant it does not name when there is no "*" entry', () => {
    const strict = new TenantPolicy({ acme: {} });
    expect(strict.allows('acme', 'anything')).toBe(true);
    expect(strict.allows('globex', 'lookup_order')).toBe(false);
  });

  it('tightens a plan and never loosens it', () => {
    const plan = policy.planFor('acme', refundOrder);
    expect(plan).toMatchObject({ timeoutMs: 10_000, needsApproval: true, retry: { maxAttempts: 2 } });
    expect(plan.attemptTimeoutMs).toBeLessThanOrEqual(10_000);
    expect(policy.planFor('acme', lookupOrder).timeoutMs).toBe(lookupOrder.budget.timeoutMs);
    expect(policy.planFor('globex', refundOrder).needsApproval).toBe(false);
  });

  it('leaves every tool to every tenant when unconfigured', () => {
    expect(new TenantPolicy().allows('anyone', 'refund_order')).toBe(true);
  });
});

describe('a tenant policy in a running Holdline', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      tenants: {
        acme: { tools: ['lookup_order', 'refund_order'], tighten: { refund_order: { needsApproval: true } } },
        globex: { tools: ['lookup_order'] },
      },
    });
  });
  afterAll(() => h.stop());

  it('shows each tenant only its tools in GET /v1/tools', async () => {
    expect(names((await h.get('/v1/tools')).body.tools)).toEqual(['lookup_order', 'refund_order']);
    expect(names((await h.get('/v1/tools', await h.token({ tenant: 'globex' }))).body.tools)).toEqual(['lookup_order']);
    expect((await h.get('/v1/tools', await h.token({ tenant: 'initech' }))).body.tools).toEqual([]);
  });

  it('answers a tool the tenant may not use as one that does not exist, and runs nothing', async () => {
    const key = freshKey('tenant');
    const answer = await h.call('refund_order', { order_id: 'A-1005', amount_cents: 100, reason: 'not theirs' }, { key, token: await h.token({ tenant: 'globex' }) });
    expect(answer.status).toBe(404);
    expect(answer.body).toMatchObject({ status: 'error', error_code: 'UNKNOWN_TOOL' });
    expect(answer.body.message).toContain('known tools: lookup_order');
    expect(answer.body.message).not.toContain('refund_order;');
    const lookup = await h.get(`/v1/tool-calls/${key}`, await h.token({ tenant: 'globex' }));
    expect(lookup.status).toBe(404);

    const stranger = await h.call('lookup_order', { order_id: 'A-1001' }, { token: await h.token({ tenant: 'initech' }) });
    expect(stranger.body).toMatchObject({ error_code: 'UNKNOWN_TOOL' });
    expect(stranger.body.message).toContain('known tools: none');
  });

  it('applies a tightened approval: the tenant\'s refund waits for the user', async () => {
    const key = freshKey('tight');
    const answer = await h.call('refund_order', { order_id: 'A-1005', amount_cents: 100, reason: 'approval please' }, { key });
    expect(answer.status).toBe(202);
    expect(answer.body.message).toMatch(/approval/);
    const view = await h.get(`/v1/tool-calls/${key}`);
    expect(view.body.status).toBe('awaiting_approval');
    await h.post(`/v1/tool-calls/${key}/approval`, { approved: false });
    const done = await h.get(`/v1/tool-calls/${key}?wait=10000`);
    expect(done.body).toMatchObject({ status: 'error', error_code: 'APPROVAL_DENIED' });
  });

  it('installs only the tenant\'s tools in a realtime session, and refuses the others there too', async () => {
    const client = await connectRealtime(h.url, { token: await h.token({ tenant: 'globex' }) });
    try {
      const updated = await client.next((e) => e.type === 'session.updated', 'session.updated');
      expect(names(updated.session.tools)).toEqual(['lookup_order']);
      client.say('Please refund order A-1005 for $2.50');
      const failed = await client.next((e) => e.type === 'tool_call.failed', 'failed');
      expect(failed.result).toMatchObject({ status: 'error', error_code: 'UNKNOWN_TOOL' });
    } finally {
      await client.close();
    }
  });
});
