import { startHarness, type Harness } from '../support/harness';
import { connectRealtime, spoken, type RealtimeTestClient } from '../support/realtime-client';
import { waitFor } from '../support/wait';

let h: Harness;
let token: string;
beforeAll(async () => {
  h = await startHarness({ refundTimings: { stageMs: 400, progressEveryMs: 100 } });
  token = await h.token();
});
afterAll(() => h.stop());

const open: RealtimeTestClient[] = [];
async function connect(options: Parameters<typeof connectRealtime>[1] = {}): Promise<RealtimeTestClient> {
  const client = await connectRealtime(h.url, { token, ...options });
  open.push(client);
  return client;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

const terminal = (e: Record<string, any>) => ['tool_call.completed', 'tool_call.failed', 'tool_call.cancelled'].includes(e.type);

describe('realtime sessions through Holdline', () => {
  it('installs the tools, answers a fast tool directly and speaks the result', async () => {
    const client = await connect();
    const session = await client.next((e) => e.type === 'tool_call.session', 'session');
    expect(session.session_id).toMatch(/^sess_/);
    const updated = await client.next((e) => e.type === 'session.updated', 'session.updated');
    expect(updated.session.tools.map((t: { name: string }) => t.name)).toEqual(expect.arrayContaining(['lookup_order', 'refund_order', 'cancel_order']));

    client.say('Hi, can you look up order A-1002?');
    const done = await client.next((e) => e.type === 'tool_call.completed', 'completed');
    expect(done.result).toMatchObject({ status: 'ok', data: { order_id: 'A-1002', state: 'shipped' } });
    expect(client.events.findIndex((e) => e.type === 'tool_call.accepted')).toBeLessThan(client.events.indexOf(done));
    await waitFor(() => spoken(client).some((t) => t.includes('Order A-1002 is shipped')), 5_000, 'spoken answer');
    // The model spoke from the output, so it has it.
    const outputs = h.model.received.filter((e) => e.type === 'conversation.item.create' && (e.item as any).type === 'function_call_output');
    expect(JSON.parse((outputs.at(-1)!.item as any).output)).toMatchObject({ status: 'ok', data: { order_id: 'A-1002' } });
  });

  it('installs only the tools the user may call', async () => {
    const client = await connect({ token: await h.token({ scopes: ['orders:read'] }) });
    const updated = await client.next((e) => e.type === 'session.updated', 'session.updated');
    expect(updated.session.tools.map((t: { name: string }) => t.name)).toEqual(['lookup_order']);
    const listed = await h.get('/v1/tools', await h.token({ scopes: ['orders:read'] }));
    expect(listed.body.tools.map((t: { name: string }) => t.name)).toEqual(['lookup_order']);
  });

  it('acks a slow tool, streams progress, then delivers the final result and a spoken summary', async () => {
    const client = await connect();
    client.say('Please refund order A-1005 for $2.50');
    const accepted = await client.next((e) => e.type === 'tool_call.accepted', 'accepted');
    await waitFor(() => spoken(client).some((t) => t.includes('working on that')), 5_000, 'spoken ack');
    const pending = h.model.received.find((e) => e.type === 'conversation.item.create' && (e.item as any).call_id === accepted.call_id);
    expect(JSON.parse((pending!.item as any).output)).toMatchObject({ status: 'pending', trace_id: accepted.trace_id });
    const done = await client.next(terminal, 'terminal');
    expect(done).toMatchObject({ type: 'tool_call.completed', call_id: accepted.call_id, result: { status: 'ok', data: { amount_cents: 250 } } });
    expect(client.all('tool_call.progress').filter((e) => e.call_id === accepted.call_id).length).toBeGreaterThanOrEqual(2);
    expect(client.events.filter(terminal)).toHaveLength(1);
    await waitFor(() => spoken(client).some((t) => t.includes('I refunded $2.50 on order A-1005')), 5_000, 'spoken result');
  });

  it('speaks progress at most once per interval, never while the model is speaking', async () => {
    const chatty = await startHarness({ refundTimings: { stageMs: 600, progressEveryMs: 100 }, spokenProgressEveryMs: 500, speakMs: 150 });
    try {
      const client = await connectRealtime(chatty.url, { token: await chatty.token() });
      client.say('refund order A-1005 for $1');
      await client.next((e) => e.type === 'tool_call.completed', 'completed', 20_000);
      const notes = chatty.model.received.filter((e) => e.type === 'conversation.item.create' && JSON.stringify(e).includes('Tool progress'));
      expect(notes.length).toBeGreaterThanOrEqual(1);
      // ~1.8 s of refund: at most one spoken update per 500 ms.
      expect(notes.length).toBeLessThanOrEqual(4);
      expect(spoken(client).some((t) => t.startsWith('Still working on it'))).toBe(true);
      // Holdline never asked for a response while one was under way.
      expect(client.all('error').filter((e) => e.error?.code === 'conversation_already_has_active_response')).toHaveLength(0);
      await client.close();
    } finally {
      await chatty.stop();
    }
  });

  it('runs a call whose events the model repeats only once', async () => {
    const flaky = await startHarness({ repeatFunctionCalls: true });
    try {
      const client = await connectRealtime(flaky.url, { token: await flaky.token() });
      client.say('refund order A-1003 for $0.07');
      const done = await client.next((e) => e.type === 'tool_call.completed', 'completed', 20_000);
      expect(flaky.store.countProviderRefunds({ idempotencyKey: done.workflow_id })).toBe(1);
      expect(client.all('tool_call.accepted')).toHaveLength(1);
      await client.close();
    } finally {
      await flaky.stop();
    }
  });

  it('runs several calls of one response in parallel', async () => {
    const client = await connect();
    const started = Date.now();
    client.say('refund order A-1003 for $0.01 and refund order A-1005 for $0.01 and look up order A-1001');
    await waitFor(() => client.events.filter(terminal).length === 3, 15_000, 'three results');
    // Two refunds of ~1.2 s each, run side by side.
    expect(Date.now() - started).toBeLessThan(2_300);
  });

  it('cancels a cancellable tool on barge-in and tells the model it had no effect', async () => {
    const client = await connect();
    client.say('refund order A-1003 for $3');
    const accepted = await client.next((e) => e.type === 'tool_call.accepted', 'accepted');
    client.send({ type: 'input_audio_buffer.append', audio: 'AAAA' });
    const done = await client.next(terminal, 'terminal');
    expect(done).toMatchObject({ type: 'tool_call.cancelled', call_id: accepted.call_id, result: { error_code: 'CANCELLED' } });
    expect(h.store.countProviderRefunds({ idempotencyKey: accepted.workflow_id })).toBe(0);
    await waitFor(() => spoken(client).some((t) => t.includes('Nothing was changed')), 5_000, 'spoken cancel');
  });

  it('leaves a non-cancellable tool running on barge-in and still delivers its result', async () => {
    const client = await connect();
    client.say('cancel order A-1004');
    const requested = await client.next((e) => e.type === 'tool_call.approval_requested', 'approval request');
    expect(requested.arguments).toEqual({ order_id: 'A-1004', reason: '[redacted]' });
    client.send({ type: 'input_audio_buffer.append', audio: 'AAAA' });
    client.send({ type: 'tool_call.approve', call_id: requested.call_id, approved: true });
    const done = await client.next(terminal, 'terminal');
    expect(done).toMatchObject({ type: 'tool_call.completed', result: { data: { order_id: 'A-1004', state: 'cancelled' } } });
    await waitFor(() => spoken(client).some((t) => t.includes('Order A-1004 is now cancelled')), 5_000, 'spoken result');
  });

  it('tells the model when the user denies approval', async () => {
    const client = await connect();
    client.say('cancel order A-1001');
    const requested = await client.next((e) => e.type === 'tool_call.approval_requested', 'approval request');
    client.send({ type: 'tool_call.approve', call_id: requested.call_id, approved: false });
    const done = await client.next(terminal, 'terminal');
    expect(done).toMatchObject({ type: 'tool_call.failed', result: { error_code: 'APPROVAL_DENIED' } });
    await waitFor(() => spoken(client).some((t) => t.includes("I won't do that")), 5_000, 'spoken denial');
  });

  it('delivers a result that finished while the client was away when it reconnects', async () => {
    const first = await connect();
    const { session_id } = await first.next((e) => e.type === 'tool_call.session', 'session');
    first.say('refund order A-1005 for $0.03');
    const accepted = await first.next((e) => e.type === 'tool_call.accepted', 'accepted');
    await first.close();
    await waitFor(async () => (await h.get(`/v1/tool-calls/${encodeURIComponent(`rt-${session_id}-${accepted.call_id}`)}`)).body.status === 'ok', 15_000, 'call done');

    const again = await connect({ query: { session_id } });
    expect(await again.next((e) => e.type === 'tool_call.session', 'session')).toMatchObject({ session_id, resumed: true });
    const done = await again.next(terminal, 'terminal');
    expect(done).toMatchObject({ type: 'tool_call.completed', call_id: accepted.call_id, result: { data: { amount_cents: 3 } } });
    await waitFor(() => spoken(again).some((t) => t.includes('I refunded $0.03')), 5_000, 'spoken result after resume');
  });

  it("answers a resume of another user's session exactly as one of a session that does not exist", async () => {
    const first = await connect();
    const { session_id } = await first.next((e) => e.type === 'tool_call.session', 'session');
    await first.close();
    const bob = await h.token({ user: 'bob' });
    const refusal = await connectRealtime(h.url, { token: bob, query: { session_id } }).catch((error: { status: number; body: string }) => error);
    const unknown = await connectRealtime(h.url, { token: bob, query: { session_id: 'sess_000000000000000000000000' } }).catch(
      (error: { status: number; body: string }) => error,
    );
    expect(refusal).toMatchObject({ status: 404 });
    expect(unknown).toMatchObject({ status: 404 });
    const withoutTrace = (body: string) => ({ ...JSON.parse(body), trace_id: undefined });
    expect(withoutTrace((refusal as { body: string }).body)).toEqual(withoutTrace((unknown as { body: string }).body));
  });

  it('tells the client clearly when the model connection drops, and the calls go on', async () => {
    const client = await connect();
    client.say('refund order A-1003 for $0.04');
    const accepted = await client.next((e) => e.type === 'tool_call.accepted', 'accepted');
    await waitFor(() => spoken(client).some((t) => t.includes('working on that')), 5_000, 'spoken ack');
    client.say('hang up');
    const error = await client.next((e) => e.type === 'error' && e.error?.code === 'model_connection_lost', 'error event');
    expect(error.error.message).toContain('reconnect');
    expect((await client.closed).code).toBe(1011);
    const final = await h.get(`/v1/tool-calls/${encodeURIComponent(accepted.workflow_id.split('/')[2])}?wait=15000`);
    expect(final.body).toMatchObject({ status: 'ok', data: { amount_cents: 4 } });
  });

  it('attaches to a call the provider already has open (sideband) and handles only its tools', async () => {
    // The user's side of the call, as a WebRTC client would hold it.
    const { default: WebSocket } = await import('ws');
    const peer = new WebSocket(h.model.url);
    const heard: Record<string, any>[] = [];
    peer.on('message', (data) => heard.push(JSON.parse(data.toString())));
    await waitFor(() => heard.some((e) => e.type === 'session.created'), 5_000, 'the provider call');
    const providerCallId = heard.find((e) => e.type === 'session.created')!.session.id as string;
    const sideband = await connect({ query: { call_id: providerCallId } });
    await sideband.next((e) => e.type === 'session.updated', 'session.updated');
    peer.send(JSON.stringify({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'look up order A-1003' }] } }));
    peer.send(JSON.stringify({ type: 'response.create' }));
    await sideband.next((e) => e.type === 'tool_call.completed', 'completed');
    await waitFor(() => heard.some((e) => e.type === 'response.output_text.done' && String(e.text).includes('Order A-1003 is delivered')), 5_000, 'peer hears the answer');
    peer.close();
  });
});
