import { implementTool } from '../../src/activities';
import { TenantPolicy } from '../../src/gateway';
import { lookupOrder, refundOrder } from '../../examples/support-desk';
import { freshKey, startHarness, type Harness } from '../support/harness';
import { defineGateTool, Gates } from '../support/gates';
import { connectRealtime } from '../support/realtime-client';
import { waitFor } from '../support/wait';

const gates = new Gates();
/** A tool that runs until the test opens its gate: a call outlives a budget for exactly as long as the test needs. */
const gateTool = defineGateTool({ ackAfterMs: 0 });

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
      tools: [implementTool(gateTool, gates.handler)],
      tenants: {
        acme: { tools: ['lookup_order', 'refund_order'], tighten: { refund_order: { needsApproval: true } } },
        globex: { tools: ['lookup_order'] },
        // Two tenants with the same tool, one of them on a shorter budget than the tool declares (10 s).
        umbrella: { tools: ['gate_tool'], tighten: { gate_tool: { timeoutMs: 300 } } },
        hooli: { tools: ['gate_tool'] },
      },
    });
  });
  afterAll(async () => {
    gates.openAll();
    await h?.stop();
  });

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

  it('applies a tightened budget to that tenant\'s calls only: its workflow runs on the shorter budget and times out', async () => {
    /** The plan the call's workflow started with, and the attempt timeout of the activity it scheduled, from Temporal's history. */
    const planInTemporal = async (workflowId: string) => {
      const events = (await h.server.gateway.calls.handle(workflowId).fetchHistory()).events ?? [];
      const started = events[0]?.workflowExecutionStartedEventAttributes;
      const input = JSON.parse(Buffer.from(started!.input!.payloads![0]!.data!).toString()) as { plan: { timeoutMs: number } };
      const attemptTimeout = events.find((event) => event.activityTaskScheduledEventAttributes)!.activityTaskScheduledEventAttributes!.startToCloseTimeout!;
      return { timeoutMs: input.plan.timeoutMs, attemptTimeoutMs: Number(attemptTimeout.seconds ?? 0) * 1_000 + (attemptTimeout.nanos ?? 0) / 1e6 };
    };
    const start = async (tenant: string) => {
      const key = freshKey(tenant);
      const token = await h.token({ tenant });
      expect((await h.call('gate_tool', { label: key }, { key, token })).status).toBe(202);
      await waitFor(() => gates.reached(key), 10_000, `${tenant}'s call running`);
      return { key, token, workflowId: `${tenant}/alice/${key}` };
    };
    try {
      // The untightened call starts first, so it has run at least as long as the tightened one when that one times out.
      const declared = await start('hooli');
      const tightened = await start('umbrella');

      const timedOut = await h.get(`/v1/tool-calls/${tightened.key}?wait=10000`, tightened.token);
      expect(timedOut.body).toMatchObject({ status: 'error', error_code: 'TIMEOUT', tool: 'gate_tool', attempts: 1 });
      expect(timedOut.body.message).toContain('within 0.3s');
      expect(await planInTemporal(tightened.workflowId)).toEqual({ timeoutMs: 300, attemptTimeoutMs: 300 });

      // Past 300 ms, the other tenant's call of the same tool runs on, and ends ok when its gate opens.
      expect((await h.get(`/v1/tool-calls/${declared.key}`, declared.token)).body.status).toBe('running');
      gates.open(declared.key);
      const ok = await h.get(`/v1/tool-calls/${declared.key}?wait=10000`, declared.token);
      expect(ok.body).toMatchObject({ status: 'ok', tool: 'gate_tool', data: { label: declared.key } });
      expect(await planInTemporal(declared.workflowId)).toEqual({ timeoutMs: 10_000, attemptTimeoutMs: 10_000 });
    } finally {
      gates.openAll();
    }
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
