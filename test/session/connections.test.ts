import WebSocket from 'ws';
import { startHarness, type Harness } from '../support/harness';
import { connectRealtime, spoken, type RealtimeTestClient } from '../support/realtime-client';
import { waitFor } from '../support/wait';

const terminal = (e: Record<string, any>) => ['tool_call.completed', 'tool_call.failed', 'tool_call.cancelled'].includes(e.type);
const resultNotesFor = (h: Harness, callId: string) =>
  h.model.received.filter((e) => e.type === 'conversation.item.create' && JSON.stringify(e).includes(`Tool result`) && JSON.stringify(e).includes(`(call ${callId})`));

const open: RealtimeTestClient[] = [];
async function connect(h: Harness, options: Parameters<typeof connectRealtime>[1] = {}): Promise<RealtimeTestClient> {
  const client = await connectRealtime(h.url, { token: await h.token(), ...options });
  open.push(client);
  return client;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

describe('liveness', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ withoutWorker: true, pingMs: 200 });
  });
  afterAll(() => h.stop());

  it('drops a client that stops answering pings within two intervals, so its session can be resumed', async () => {
    const silent = await connect(h, { socket: { autoPong: false } });
    const openedAt = Date.now();
    const { session_id } = await silent.next((e) => e.type === 'tool_call.session', 'session');
    const closed = await silent.closed;
    // Terminated, not closed politely: a half-open peer would not read a close frame.
    expect(closed.code).toBe(1006);
    expect(Date.now() - openedAt).toBeLessThan(2 * 200 + 400);
    await waitFor(() => h.server.sessions.attachedOf({ tenantId: 'acme', userId: 'alice' }) === 0, 2_000, 'session released');
    const again = await connect(h, { query: { session_id } });
    expect(await again.next((e) => e.type === 'tool_call.session', 'session')).toMatchObject({ session_id, resumed: true });
  });

  it('keeps a client that answers its pings', async () => {
    const client = await connect(h);
    let pings = 0;
    client.socket.on('ping', () => pings++);
    await waitFor(() => pings >= 4, 3_000, 'four pings');
    expect(client.socket.readyState).toBe(WebSocket.OPEN);
  });

  it('drops a model connection that stops answering pings and tells the client', async () => {
    const deaf = await startHarness({ withoutWorker: true, pingMs: 200, modelAnswersPings: false });
    try {
      const client = await connectRealtime(deaf.url, { token: await deaf.token() });
      const lost = await client.next((e) => e.type === 'error' && e.error?.code === 'model_connection_lost', 'model_connection_lost', 3_000);
      expect(lost.error.message).toContain('reconnect');
      expect((await client.closed).code).toBe(1011);
      await waitFor(() => deaf.model.connections() === 0, 2_000, 'model socket gone');
    } finally {
      await deaf.stop();
    }
  });
});

describe('a client that stops reading', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ withoutWorker: true, maxBufferedBytes: 256 * 1024 });
  });
  afterAll(() => h.stop());

  it('is closed with 1008 "client is not reading" instead of buffered for without bound, and can resume', async () => {
    const client = await connect(h);
    const { session_id } = await client.next((e) => e.type === 'tool_call.session', 'session');
    await client.next((e) => e.type === 'session.updated', 'session.updated');
    const frames = 800;
    (client.socket as any)._socket.pause();
    client.say(`stream ${frames} frames of 32 KB`);
    await waitFor(() => h.logs.some((line) => line.msg === 'client is not reading: closing it'), 20_000, 'the server gives up on the client');
    const overflow = h.logs.find((line) => line.msg === 'client is not reading: closing it')!;
    // What waited for the client when it was closed: the bound plus one frame.
    expect(overflow.buffered as number).toBeLessThan(256 * 1024 + 64 * 1024);
    expect(h.server.sessions.attachedOf({ tenantId: 'acme', userId: 'alice' })).toBe(0);
    await waitFor(() => h.model.connections() === 0, 5_000, 'model socket closed');

    (client.socket as any)._socket.resume();
    expect(await client.closed).toEqual({ code: 1008, reason: 'client is not reading' });
    // The rest of the stream was dropped, not queued.
    expect(client.all('response.output_audio.delta').length).toBeLessThan(frames);

    const again = await connect(h, { query: { session_id } });
    expect(await again.next((e) => e.type === 'tool_call.session', 'session')).toMatchObject({ session_id, resumed: true });
  }, 60_000);
});

describe('an upgrade that fails', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ withoutWorker: true, modelHandshakeDelayMs: 400 });
  });
  afterAll(() => h.stop());

  it('leaves no model socket and no session behind when the client hangs up while the model connection opens', async () => {
    const before = h.model.handshakes();
    const socket = new WebSocket(`${h.url.replace(/^http/, 'ws')}/v1/realtime`, { headers: { authorization: `Bearer ${await h.token()}` } });
    socket.on('error', () => undefined);
    await waitFor(() => h.model.handshakes().begun > before.begun, 5_000, 'the model handshake begins');
    expect(h.server.sessions.size).toBe(1);
    socket.terminate();
    await waitFor(() => h.server.sessions.size === 0, 2_000, 'the session is forgotten');
    // Once the model would have finished its handshake, nothing of it stays open.
    await waitFor(() => h.model.handshakes().answered > before.answered, 5_000, 'the model answers the handshake');
    await new Promise((resolve) => setImmediate(resolve));
    expect(h.model.connections()).toBe(0);
    expect(h.server.sessions.size).toBe(0);
  });

  it('forgets a new session whose provider call does not exist (the model answers 404)', async () => {
    await expect(connect(h, { query: { call_id: 'rtc_nobody_has_this' } })).rejects.toMatchObject({ status: 404 });
    expect(h.server.sessions.size).toBe(0);
    expect(h.model.connections()).toBe(0);
  });
});

describe('resumes, caps and ownership', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ maxSessionsPerUser: 2, refundTimings: { stageMs: 300, progressEveryMs: 100 } });
  });
  afterAll(() => h.stop());

  it('lets exactly one of two concurrent resumes of a session attach; the other gets 409', async () => {
    const token = await h.token({ user: 'erin' });
    const first = await connectRealtime(h.url, { token });
    const { session_id } = await first.next((e) => e.type === 'tool_call.session', 'session');
    await first.close();
    await waitFor(() => h.server.sessions.attachedOf({ tenantId: 'acme', userId: 'erin' }) === 0, 2_000, 'released');

    // A session this server never had: it ran on another server, which made a call in it.
    const other = await startHarness({ taskQueue: h.taskQueue, withoutWorker: true });
    let elsewhere: string;
    try {
      const client = await connectRealtime(other.url, { token });
      ({ session_id: elsewhere } = await client.next((e) => e.type === 'tool_call.session', 'session'));
      client.say('look up order A-1001');
      await client.next((e) => e.type === 'tool_call.completed', 'completed');
      await client.close();
    } finally {
      await other.stop();
    }

    for (const id of [session_id, elsewhere]) {
      const attempts = await Promise.allSettled([connectRealtime(h.url, { token, query: { session_id: id } }), connectRealtime(h.url, { token, query: { session_id: id } })]);
      const won = attempts.filter((a): a is PromiseFulfilledResult<RealtimeTestClient> => a.status === 'fulfilled');
      const lost = attempts.filter((a): a is PromiseRejectedResult => a.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost.map((a) => a.reason.status)).toEqual([409]);
      expect(JSON.parse(lost[0]!.reason.body)).toMatchObject({ status: 'error', error_code: 'IDEMPOTENCY_CONFLICT' });
      expect(await won[0]!.value.next((e) => e.type === 'tool_call.session', 'session')).toMatchObject({ session_id: id, resumed: true });
      await won[0]!.value.close();
      await waitFor(() => h.server.sessions.attachedOf({ tenantId: 'acme', userId: 'erin' }) === 0, 2_000, 'released');
    }
  });

  it('refuses a session beyond the per-user cap with 429 and an error envelope', async () => {
    const carol = await h.token({ user: 'carol' });
    const one = await connectRealtime(h.url, { token: carol });
    open.push(one, await connectRealtime(h.url, { token: carol }));
    const refused = await connectRealtime(h.url, { token: carol }).catch((error: { status: number; body: string }) => error);
    expect(refused).toMatchObject({ status: 429 });
    expect(JSON.parse((refused as { body: string }).body)).toMatchObject({ status: 'error', error_code: 'RATE_LIMITED', retryable: true });
    // Another user is not affected; a session closed frees a place.
    open.push(await connectRealtime(h.url, { token: await h.token({ user: 'dave' }) }));
    await one.close();
    await waitFor(() => h.server.sessions.attachedOf({ tenantId: 'acme', userId: 'carol' }) === 1, 2_000, 'one released');
    open.push(await connectRealtime(h.url, { token: carol }));
  });

  it("lets only the owner's user attach to a provider call; anyone else hears it does not exist", async () => {
    const peer = new WebSocket(h.model.url);
    const heard: Record<string, any>[] = [];
    peer.on('message', (data) => heard.push(JSON.parse(data.toString())));
    try {
      await waitFor(() => heard.some((e) => e.type === 'session.created'), 5_000, 'the provider call');
      const providerCallId = heard.find((e) => e.type === 'session.created')!.session.id as string;
      const alice = await h.token({ user: 'alice' });
      const owner = await connectRealtime(h.url, { token: alice, query: { call_id: providerCallId } });
      open.push(owner);
      await owner.next((e) => e.type === 'session.updated', 'session.updated');

      const mallory = await h.token({ user: 'mallory' });
      const taken = await connectRealtime(h.url, { token: mallory, query: { call_id: providerCallId } }).catch((error: { status: number; body: string }) => error);
      const missing = await connectRealtime(h.url, { token: mallory, query: { call_id: 'rtc_does_not_exist' } }).catch((error: { status: number; body: string }) => error);
      const otherTenant = await connectRealtime(h.url, { token: await h.token({ tenant: 'globex', user: 'alice' }), query: { call_id: providerCallId } }).catch(
        (error: { status: number; body: string }) => error,
      );
      for (const refused of [taken, missing, otherTenant]) expect(refused).toMatchObject({ status: 404 });
      const withoutTrace = (r: unknown) => ({ ...JSON.parse((r as { body: string }).body), trace_id: undefined });
      expect(withoutTrace(taken)).toEqual(withoutTrace(missing));
      expect(withoutTrace(otherTenant)).toEqual(withoutTrace(missing));
      expect((taken as { body: string }).body).not.toContain('alice');

      // The owner's user may attach again (a second device, a resume elsewhere).
      const again = await connectRealtime(h.url, { token: alice, query: { call_id: providerCallId } });
      open.push(again);
      await again.next((e) => e.type === 'session.updated', 'session.updated');
    } finally {
      peer.close();
    }
  });

  it('delivers each result once: an in-memory resume repeats none already delivered', async () => {
    const token = await h.token({ user: 'frank' });
    const first = await connectRealtime(h.url, { token });
    const { session_id } = await first.next((e) => e.type === 'tool_call.session', 'session');
    first.say('look up order A-1001');
    const lookup = await first.next((e) => e.type === 'tool_call.completed', 'lookup');
    await waitFor(() => spoken(first).some((t) => t.includes('Order A-1001')), 5_000, 'spoken lookup');
    first.say('refund order A-1005 for $0.01');
    const refund = await first.next((e) => e.type === 'tool_call.completed' && e.call_id !== lookup.call_id, 'refund');
    await waitFor(() => spoken(first).some((t) => t.includes('I refunded $0.01')), 5_000, 'spoken refund');
    first.say('refund order A-1003 for $0.02');
    const away = await first.next((e) => e.type === 'tool_call.accepted' && ![lookup.call_id, refund.call_id].includes(e.call_id), 'second refund accepted');
    await first.close();

    const again = await connectRealtime(h.url, { token, query: { session_id } });
    open.push(again);
    const done = await again.next(terminal, 'the result that finished while away', 20_000);
    expect(done).toMatchObject({ call_id: away.call_id, result: { status: 'ok', data: { amount_cents: 2 } } });
    await waitFor(() => spoken(again).some((t) => t.includes('I refunded $0.02')), 5_000, 'spoken result after resume');
    expect(again.events.filter(terminal).map((e) => e.call_id)).toEqual([away.call_id]);
    expect(resultNotesFor(h, refund.call_id)).toHaveLength(1);
    expect(resultNotesFor(h, away.call_id)).toHaveLength(1);
  });
});
