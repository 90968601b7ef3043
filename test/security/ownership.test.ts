import { Client, Connection } from '@temporalio/client';
import { freshKey, startHarness, type Harness, type HttpAnswer } from '../support/harness';
import { TEST_SCOPES } from '../support/test-tools';
import { waitFor } from '../support/wait';

/**
 * A call belongs to the user who made it. Anyone else, in the same tenant or
 * another, gets exactly the answer a call that does not exist gets, unless
 * their token holds `holdline:operator` (read, stream, cancel) or
 * `holdline:approve` (approve) and the call is in their own tenant.
 */
let h: Harness;
let temporal: Client;
const tokens = {} as Record<'alice' | 'bob' | 'globexAlice' | 'globexOperator' | 'operator' | 'approver', string>;
beforeAll(async () => {
  h = await startHarness();
  temporal = new Client({ connection: await Connection.connect({ address: process.env.HOLDLINE_TEST_TEMPORAL_ADDRESS! }) });
  tokens.alice = await h.token({ user: 'alice' });
  tokens.bob = await h.token({ user: 'bob' });
  tokens.globexAlice = await h.token({ tenant: 'globex', user: 'alice' });
  tokens.globexOperator = await h.token({ tenant: 'globex', user: 'gina', scopes: [...TEST_SCOPES, 'holdline:operator', 'holdline:approve'] });
  tokens.operator = await h.token({ user: 'olga', scopes: ['holdline:operator'] });
  tokens.approver = await h.token({ user: 'april', scopes: ['holdline:approve'] });
});
afterAll(async () => {
  await temporal.connection.close();
  await h.stop();
});

/** A cancel_order of alice's that waits for approval: it stays put until someone acts. */
async function aliceWaitingCall(): Promise<string> {
  const key = freshKey('own');
  const answer = await h.call('cancel_order', { order_id: 'A-1004', reason: 'ownership test' }, { key, token: tokens.alice });
  expect(answer.status).toBe(202);
  return key;
}

const routes = [
  { name: 'GET /v1/tool-calls/:id', send: (id: string, token: string, query = '') => h.get(`/v1/tool-calls/${id}${query}`, token) },
  { name: 'GET /v1/tool-calls/:id/events', send: (id: string, token: string, query = '') => h.get(`/v1/tool-calls/${id}/events${query}`, token) },
  { name: 'POST /v1/tool-calls/:id/approval', send: (id: string, token: string, query = '') => h.post(`/v1/tool-calls/${id}/approval${query}`, { approved: true }, token) },
  { name: 'POST /v1/tool-calls/:id/cancel', send: (id: string, token: string, query = '') => h.post(`/v1/tool-calls/${id}/cancel${query}`, {}, token) },
];

/** The answer, with what names the call id and the request made neutral, for comparing two answers. */
function shapeOf(answer: HttpAnswer, callId: string) {
  const body = answer.body as Record<string, unknown>;
  return {
    status: answer.status,
    keys: Object.keys(body).sort(),
    error_code: body.error_code,
    retryable: body.retryable,
    message: String(body.message).split(callId).join('<id>'),
  };
}

async function expectLikeMissing(route: (typeof routes)[number], callId: string, token: string, query = ''): Promise<void> {
  const missing = freshKey('missing');
  const asMissing = shapeOf(await route.send(missing, token, query), missing);
  const answer = await route.send(callId, token, query);
  expect(answer.status).toBe(404);
  expect(shapeOf(answer, callId)).toEqual(asMissing);
}

async function expectStillWaiting(callId: string): Promise<void> {
  const view = await h.get(`/v1/tool-calls/${callId}`, tokens.alice);
  expect(view.status).toBe(200);
  expect(view.body.status).toBe('awaiting_approval');
}

/** The approval signals in a workflow's history, decoded. */
async function approvalSignals(workflowId: string): Promise<Record<string, unknown>[]> {
  const history = await temporal.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? [])
    .filter((event) => event.workflowExecutionSignaledEventAttributes?.signalName === 'approval')
    .map((event) => JSON.parse(Buffer.from(event.workflowExecutionSignaledEventAttributes!.input!.payloads![0]!.data!).toString()) as Record<string, unknown>);
}

describe('another user of the same tenant, without a scope', () => {
  for (const route of routes) {
    it(`gets the answer of a call that does not exist on ${route.name}`, async () => {
      const callId = await aliceWaitingCall();
      await expectLikeMissing(route, callId, tokens.bob);
      await expectStillWaiting(callId);
    });
  }

  it('gets the same not-found answer when naming the owner with ?user=', async () => {
    const callId = await aliceWaitingCall();
    for (const route of routes) await expectLikeMissing(route, callId, tokens.bob, '?user=alice');
    await expectStillWaiting(callId);
  });
});

describe('a user of another tenant', () => {
  for (const route of routes) {
    it(`gets the answer of a call that does not exist on ${route.name}, even with the same user id`, async () => {
      const callId = await aliceWaitingCall();
      await expectLikeMissing(route, callId, tokens.globexAlice);
      await expectStillWaiting(callId);
    });
  }

  it('gets the same not-found answer with operator and approver scopes and ?user=', async () => {
    const callId = await aliceWaitingCall();
    for (const route of routes) await expectLikeMissing(route, callId, tokens.globexOperator, '?user=alice');
    await expectStillWaiting(callId);
  });
});

describe('holdline:operator', () => {
  it('reads another user’s call of its tenant with ?user=', async () => {
    const callId = await aliceWaitingCall();
    const view = await h.get(`/v1/tool-calls/${callId}?user=alice`, tokens.operator);
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({ status: 'awaiting_approval', call_id: callId, tool: 'cancel_order' });
  });

  it('streams another user’s call of its tenant with ?user=', async () => {
    const callId = await aliceWaitingCall();
    const controller = new AbortController();
    const response = await fetch(`${h.url}/v1/tool-calls/${callId}/events?user=alice`, { headers: { authorization: `Bearer ${tokens.operator}` }, signal: controller.signal });
    try {
      expect(response.status).toBe(200);
      const reader = response.body!.getReader();
      const first = new TextDecoder().decode((await reader.read()).value);
      expect(first).toContain('event: accepted');
      expect(first).toContain(callId);
    } finally {
      controller.abort();
    }
  });

  it('cancels another user’s call of its tenant with ?user=', async () => {
    const callId = await aliceWaitingCall();
    const cancel = await h.post(`/v1/tool-calls/${callId}/cancel?user=alice`, {}, tokens.operator);
    expect(cancel.status).toBe(202);
    const final = await h.get(`/v1/tool-calls/${callId}?wait=10000`, tokens.alice);
    expect(final.body).toMatchObject({ status: 'error', error_code: 'CANCELLED' });
  });

  it('may not approve: approving needs holdline:approve', async () => {
    const callId = await aliceWaitingCall();
    await expectLikeMissing(routes[2]!, callId, tokens.operator, '?user=alice');
    await expectStillWaiting(callId);
  });

  it('without ?user= addresses its own calls only', async () => {
    const callId = await aliceWaitingCall();
    await expectLikeMissing(routes[0]!, callId, tokens.operator);
  });
});

describe('approving', () => {
  it('is the calling user’s act, recorded in the workflow history as decided by them', async () => {
    const callId = await aliceWaitingCall();
    const answer = await h.post(`/v1/tool-calls/${callId}/approval`, { approved: false }, tokens.alice);
    expect(answer.status).toBeLessThan(300);
    const final = await h.get(`/v1/tool-calls/${callId}?wait=10000`, tokens.alice);
    expect(final.body).toMatchObject({ status: 'error', error_code: 'APPROVAL_DENIED' });
    expect(await approvalSignals(`acme/alice/${callId}`)).toEqual([expect.objectContaining({ approved: false, decidedBy: 'alice' })]);
  });

  it('is open to holdline:approve with ?user=, and the approver is recorded in the workflow history', async () => {
    const callId = await aliceWaitingCall();
    const answer = await h.post(`/v1/tool-calls/${callId}/approval?user=alice`, { approved: false }, tokens.approver);
    expect(answer.status).toBeLessThan(300);
    await waitFor(async () => (await approvalSignals(`acme/alice/${callId}`)).length > 0, 10_000, 'the approval signal');
    expect(await approvalSignals(`acme/alice/${callId}`)).toEqual([expect.objectContaining({ approved: false, decidedBy: 'april' })]);
  });
});

describe('an idempotency key is scoped to its caller', () => {
  it('runs another user’s call of the same key as that user’s own, without conflict or attachment', async () => {
    const key = freshKey('shared');
    const first = await h.call('lookup_order', { order_id: 'A-1001' }, { key, token: tokens.alice });
    const second = await h.call('lookup_order', { order_id: 'A-1002' }, { key, token: tokens.bob });
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(first.body.data.order_id).toBe('A-1001');
    expect(second.body.data.order_id).toBe('A-1002');
    expect(first.body.trace_id).not.toBe(second.body.trace_id);
    const aliceCall = await h.server.gateway.calls.snapshot(`acme/alice/${key}`);
    const bobCall = await h.server.gateway.calls.snapshot(`acme/bob/${key}`);
    expect(aliceCall?.memo.user_id).toBe('alice');
    expect(bobCall?.memo.user_id).toBe('bob');
    expect(aliceCall?.memo.fingerprint).not.toBe(bobCall?.memo.fingerprint);
  });
});

describe('strangers create no state and learn nothing', () => {
  it('answers an unauthenticated call of a made-up tool with 401, and /metrics gains no series', async () => {
    const series = async () => {
      const text = String((await h.get('/metrics', '')).body);
      return text.split('\n').filter((line) => line.startsWith('holdline_') && line.includes('{')).map((line) => line.slice(0, line.lastIndexOf(' ')));
    };
    const before = await series();
    const names = Array.from({ length: 30 }, (_, i) => `made_up_tool_${i}_${Date.now()}`);
    for (const name of names) {
      const answer = await h.call(name, {}, { token: '' });
      expect(answer.status).toBe(401);
      expect(answer.body.error_code).toBe('UNAUTHENTICATED');
    }
    const after = await series();
    expect(after.filter((line) => names.some((name) => line.includes(name)))).toEqual([]);
    expect(after.filter((line) => !before.includes(line))).toEqual([]);
  });

  it('labels an authenticated call of an unknown tool as `unknown`, never by the name it sent', async () => {
    const name = `made_up_tool_${Date.now()}`;
    const answer = await h.call(name, {});
    expect(answer.status).toBe(404);
    const text = String((await h.get('/metrics', '')).body);
    expect(text).not.toContain(name);
    expect(text).toMatch(/holdline_tool_calls_total\{[^}]*tool="unknown"/);
  });

  it.each([
    ['arguments that break the schema', () => h.call('refund_order', { order_id: 1, amount_cents: 'ten', extra: true }, { token: '' })],
    ['an unknown tool', () => h.call('delete_everything', {}, { token: '' })],
    ['a body that is not JSON', () => h.post('/v1/tool-calls', '{"tool": ', '')],
    ['the tool catalog', () => h.get('/v1/tools', '')],
    ['a call lookup', () => h.get(`/v1/tool-calls/${freshKey()}`, '')],
    ['a forged token', () => h.call('refund_order', { order_id: 1 }, { token: 'forged.token.value' })],
  ])('never shows an unauthenticated caller schema details or the tool list: %s', async (_name, send) => {
    const answer = await send();
    expect(answer.status).toBe(401);
    expect(answer.body).toMatchObject({ status: 'error', error_code: 'UNAUTHENTICATED' });
    expect(answer.body.details).toBeUndefined();
    const text = JSON.stringify(answer.body);
    for (const tool of h.server.gateway.registry.names()) expect(text).not.toContain(tool);
    expect(text).not.toMatch(/issues|unrecognized|expected|order_id|amount_cents/);
  });
});

describe('the Holdline-Session header', () => {
  it.each([
    ['longer than 128 characters', 's'.repeat(129)],
    ['with a space', 'my session'],
    ['with a slash', 'acme/alice'],
    ['with a non-ASCII letter', 'séance'],
    ['with a quote', 'a"b'],
  ])('is refused with 400 when %s', async (_name, session) => {
    const key = freshKey('sess');
    const answer = await h.call('lookup_order', { order_id: 'A-1001' }, { key, session: Buffer.from(session, 'utf8').toString('latin1') });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error_code: 'INVALID_ARGUMENTS' });
    expect(await h.server.gateway.calls.snapshot(`acme/alice/${key}`)).toBeUndefined();
  });

  it('is accepted at 128 characters of [A-Za-z0-9._:-]', async () => {
    const answer = await h.call('lookup_order', { order_id: 'A-1001' }, { session: `${'a.b_c:d-'.repeat(16)}` });
    expect(answer.status).toBe(200);
  });
});
