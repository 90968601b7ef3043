import { freshKey, startHarness, type Harness } from '../support/harness';
import { connectRealtime, type RealtimeTestClient } from '../support/realtime-client';

/** Who a start was for: the identity the gateway handed the workflow. */
interface Started {
  workflowId: string;
  tenantId: string;
  userId: string;
}

let h: Harness;
const started: Started[] = [];
beforeAll(async () => {
  h = await startHarness();
  const calls = h.server.gateway.calls;
  const start = calls.start.bind(calls);
  calls.start = (input, workflowId, memo) => {
    started.push({ workflowId, tenantId: input.tenantId, userId: input.userId });
    return start(input, workflowId, memo);
  };
});
afterAll(() => h.stop());

const open: RealtimeTestClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

async function session(): Promise<RealtimeTestClient> {
  const client = await connectRealtime(h.url, { token: await h.token() });
  open.push(client);
  await client.next((e) => e.type === 'session.updated', 'session.updated');
  return client;
}

/** Globex's order: a call that ran as globex would find it; as acme it is not found. */
const GLOBEX_ORDER = 'G-2001';

describe('a tenant or user smuggled into the arguments is refused and never used', () => {
  it.each([
    ['tenant_id', { order_id: GLOBEX_ORDER, tenant_id: 'globex' }],
    ['user_id', { order_id: GLOBEX_ORDER, user_id: 'bob' }],
    ['tenantId and userId', { order_id: GLOBEX_ORDER, tenantId: 'globex', userId: 'bob' }],
    ['a nested tenant_id', { order_id: GLOBEX_ORDER, context: { tenant_id: 'globex', user_id: 'bob' } }],
    ['an own __proto__ key', JSON.parse('{"order_id":"G-2001","__proto__":{"tenant_id":"globex"}}') as unknown],
    ['a constructor key', { order_id: GLOBEX_ORDER, constructor: { prototype: { tenant_id: 'globex' } } }],
  ])('over HTTP: %s', async (_name, args) => {
    const before = started.length;
    const key = freshKey('smuggle');
    const answer = await h.call('lookup_order', args, { key });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ status: 'error', error_code: 'INVALID_ARGUMENTS' });
    expect(started.length).toBe(before);
    for (const owner of ['acme/alice', 'globex/alice', 'acme/bob', 'globex/bob']) {
      expect(await h.server.gateway.calls.snapshot(`${owner}/${key}`)).toBeUndefined();
    }
  });

  it('over HTTP, as the JSON text a model emits', async () => {
    const before = started.length;
    const answer = await h.call('lookup_order', JSON.stringify({ order_id: GLOBEX_ORDER, tenant_id: 'globex' }));
    expect(answer.status).toBe(400);
    expect(started.length).toBe(before);
  });

  it('in a realtime session: the model’s call fails with INVALID_ARGUMENTS and nothing starts', async () => {
    const client = await session();
    const before = started.length;
    client.say(`call lookup_order with {"order_id": "${GLOBEX_ORDER}", "context": {"tenant_id": "globex", "user_id": "bob"}}`);
    const failed = await client.next((e) => e.type === 'tool_call.failed', 'failed');
    expect(failed.result).toMatchObject({ status: 'error', error_code: 'INVALID_ARGUMENTS' });
    expect(started.length).toBe(before);
  });

  it('the identity a call runs as is the token’s, whatever a body field next to the arguments says', async () => {
    const before = started.length;
    const token = await h.token({ tenant: 'acme', user: 'alice' });
    const response = await fetch(`${h.url}/v1/tool-calls`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: '{"tenant_id":"globex","user_id":"bob","__proto__":{"tenant_id":"globex"},"tool":"lookup_order","arguments":{"order_id":"A-1001"}}',
    });
    expect(response.status).toBe(200);
    expect(started.slice(before)).toEqual([expect.objectContaining({ tenantId: 'acme', userId: 'alice' })]);
    expect(started.at(-1)!.workflowId.startsWith('acme/alice/')).toBe(true);
  });
});

describe('oversize input', () => {
  it('answers a body beyond the HTTP limit with 413 and an envelope, starting nothing', async () => {
    const before = started.length;
    const answer = await h.post('/v1/tool-calls', { tool: 'lookup_order', arguments: { order_id: 'A-1001', padding: 'x'.repeat(200_000) } });
    expect(answer.status).toBe(413);
    expect(answer.body).toMatchObject({ status: 'error', error_code: 'INVALID_ARGUMENTS' });
    expect(started.length).toBe(before);
  });

  it('answers an oversize body from a stranger with 401, unread', async () => {
    const answer = await h.post('/v1/tool-calls', { tool: 'lookup_order', arguments: { padding: 'x'.repeat(200_000) } }, '');
    expect(answer.status).toBe(401);
    expect(answer.body.error_code).toBe('UNAUTHENTICATED');
  });

  it('answers arguments beyond the argument limit with 413', async () => {
    const answer = await h.call('lookup_order', { order_id: 'A-1001', padding: 'é'.repeat(3_000) });
    expect(answer.status).toBe(413);
    expect(answer.body.details).toMatchObject({ limit_bytes: 4_096 });
  });

  it('refuses arguments nested deeper than any schema with 400, not a stack overflow', async () => {
    const depth = 20_000;
    const response = await fetch(`${h.url}/v1/tool-calls`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await h.token()}` },
      body: `{"tool":"lookup_order","arguments":{"order_id":"A-1001","x":${'['.repeat(depth)}${']'.repeat(depth)}}}`,
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error_code: 'INVALID_ARGUMENTS' });
  });

  it('closes a realtime connection that sends an oversize frame with 1009, and other sessions keep being served', async () => {
    const bystander = await session();
    const offender = await session();
    offender.socket.send(JSON.stringify({ type: 'session.update', session: { instructions: 'x'.repeat(70 * 1024) } }));
    const closed = await offender.closed;
    expect(closed.code).toBe(1009);
    bystander.say('look up order A-1001');
    const done = await bystander.next((e) => e.type === 'tool_call.completed', 'completed');
    expect(done.result.data.order_id).toBe('A-1001');
  });
});
