import { startHarness, type Harness } from '../support/harness';
import { connectRealtime, type RealtimeTestClient } from '../support/realtime-client';
import { waitFor } from '../support/wait';

let h: Harness;
let token: string;
beforeAll(async () => {
  h = await startHarness({ limits: { sessionMaxInFlight: 2 } });
  token = await h.token();
});
afterAll(() => h.stop());

const open: RealtimeTestClient[] = [];
async function connect(): Promise<RealtimeTestClient> {
  const client = await connectRealtime(h.url, { token });
  open.push(client);
  await client.next((e) => e.type === 'session.updated', 'session.updated');
  return client;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

describe('bad input on the realtime endpoint', () => {
  it('refuses a client without a token before any model connection', async () => {
    const before = h.model.connections();
    await expect(connectRealtime(h.url, {})).rejects.toMatchObject({ status: 401 });
    expect(h.model.connections()).toBe(before);
  });

  it('refuses a forged token, also given as ?token=', async () => {
    const forged = `${token.slice(0, -4)}AAAA`;
    await expect(connectRealtime(h.url, { token: forged })).rejects.toMatchObject({ status: 401 });
    await expect(connectRealtime(h.url, { token: forged, tokenInQuery: true })).rejects.toMatchObject({ status: 401 });
    const browser = await connectRealtime(h.url, { token, tokenInQuery: true });
    open.push(browser);
    await browser.next((e) => e.type === 'tool_call.session', 'session');
  });

  it('answers a frame that is not JSON with an error event and keeps serving', async () => {
    const client = await connect();
    client.socket.send('this is not json');
    const error = await client.next((e) => e.type === 'error' && e.error?.code === 'invalid_event', 'error');
    expect(error.error.message).toContain('not JSON');
    client.say('look up order A-1001');
    await client.next((e) => e.type === 'tool_call.completed', 'completed');
  });

  it('answers a binary frame with an error event', async () => {
    const client = await connect();
    client.socket.send(Buffer.from([1, 2, 3]), { binary: true });
    const error = await client.next((e) => e.type === 'error' && e.error?.code === 'binary_frame', 'error');
    expect(error.error.message).toContain('JSON');
  });

  it('closes the connection on an oversized frame, with a reason', async () => {
    const client = await connect();
    client.socket.send(JSON.stringify({ type: 'conversation.item.create', padding: 'x'.repeat(70 * 1024) }));
    const closed = await client.closed;
    expect(closed.code).toBe(1009);
  });

  it('relays unknown event types to the model instead of dropping them', async () => {
    const client = await connect();
    client.send({ type: 'holdline.test.unknown', event_id: 'evt_unknown_1' });
    await waitFor(() => h.model.received.some((e) => e.type === 'holdline.test.unknown'), 5_000, 'relayed');
    // The model's own answer to it comes back through Holdline too.
    const error = await client.next((e) => e.type === 'error' && e.error?.code === 'unknown_event', 'model error');
    expect(error.error.event_id).toBe('evt_unknown_1');
  });

  it.each([
    ['an unknown tool', 'call delete_all_orders with {}', 'UNKNOWN_TOOL'],
    ['invalid arguments', 'call lookup_order with {"order_id": 42}', 'INVALID_ARGUMENTS'],
    ['a tenant_id in the arguments', 'call lookup_order with {"order_id": "G-2001", "tenant_id": "globex"}', 'INVALID_ARGUMENTS'],
  ])('gives the model an error envelope for %s, and starts no workflow', async (_name, text, code) => {
    const client = await connect();
    client.say(text);
    const failed = await client.next((e) => e.type === 'tool_call.failed', 'failed');
    expect(failed.result).toMatchObject({ status: 'error', error_code: code });
    expect(failed.workflow_id).toBe('');
    const outputOf = () => h.model.received.find((e) => e.type === 'conversation.item.create' && (e.item as any).call_id === failed.call_id);
    await waitFor(() => outputOf() !== undefined, 5_000, 'function_call_output at the model');
    expect(JSON.parse((outputOf()!.item as any).output)).toMatchObject({ error_code: code });
    const key = `rt-${client.all('tool_call.session')[0]!.session_id}-${failed.call_id}`;
    expect(await h.server.gateway.calls.snapshot(`acme/alice/${key}`)).toBeUndefined();
  });

  it('ignores an approval for a call that is not one of this session', async () => {
    const owner = await connect();
    owner.say('cancel order A-1004');
    const requested = await owner.next((e) => e.type === 'tool_call.approval_requested', 'approval request');
    const stranger = await connect();
    stranger.send({ type: 'tool_call.approve', call_id: requested.call_id, approved: true });
    await waitFor(() => h.logs.some((line) => String(line.msg).includes('ignored an approval') && line.call_id === requested.call_id), 5_000, 'log line');
    const view = await h.get(`/v1/tool-calls/${encodeURIComponent(requested.workflow_id.split('/')[2])}`);
    expect(view.body.status).toBe('awaiting_approval');
    owner.send({ type: 'tool_call.approve', call_id: requested.call_id, approved: false });
    await owner.next((e) => e.type === 'tool_call.failed', 'denied');
  });

  it('answers function calls beyond the session limit with RATE_LIMITED envelopes', async () => {
    const client = await connect();
    client.say('refund order A-1003 for $0.01, refund order A-1005 for $0.01, refund order A-1003 for $0.02, refund order A-1005 for $0.02');
    await waitFor(() => client.events.filter((e) => e.type.startsWith('tool_call.') && ['completed', 'failed', 'cancelled'].includes(e.type.slice(10))).length === 4, 15_000, 'four results');
    const limited = client.all('tool_call.failed').filter((e) => e.result.error_code === 'RATE_LIMITED');
    expect(limited).toHaveLength(2);
    expect(limited[0]!.result.retryable).toBe(true);
    expect(client.all('tool_call.completed')).toHaveLength(2);
  });
});
