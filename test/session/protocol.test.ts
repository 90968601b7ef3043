import pino from 'pino';
import { supportTools } from '../../examples/support-desk';
import { CallControl, Gateway, ProgressHub, TemporalCalls, TokenVerifier, ToolRegistry } from '../../src/gateway';
import { ModelTurns } from '../../src/session/model-turns';
import { functionCallOf, parseClientEvent, parseModelEvent } from '../../src/session/protocol';
import { RealtimeSession } from '../../src/session/realtime-session';
import type { SessionRecords } from '../../src/session/records';
import { SessionStore } from '../../src/session/session-store';
import { okEnvelope } from '../../src/contracts/envelope-builders';
import { waitFor } from '../support/wait';
import { WebSocketTransport, type Transport } from '../../src/session/transport';
import { gatewayClient } from '../../src/runtime/temporal';

/** A transport that records what the session sends. */
class RecordingTransport implements Transport {
  readonly sent: Record<string, any>[] = [];
  closedWith: { code: number; reason: string } | undefined;
  get isOpen() {
    return !this.closedWith;
  }
  send(event: object) {
    this.sent.push(event as Record<string, any>);
  }
  close(code: number, reason: string) {
    this.closedWith = { code, reason };
  }
  types() {
    return this.sent.map((e) => e.type);
  }
}

describe('parsing model events', () => {
  it('reads a completed function call from either event that announces it', () => {
    const done = parseModelEvent(JSON.stringify({ type: 'response.function_call_arguments.done', call_id: 'c1', name: 'lookup_order', arguments: '{}', event_id: 'e' }));
    expect(done.kind).toBe('event');
    expect(done.kind === 'event' && functionCallOf(done.event)).toEqual({ callId: 'c1', name: 'lookup_order', arguments: '{}' });
    const item = parseModelEvent(
      JSON.stringify({ type: 'response.output_item.done', item: { type: 'function_call', call_id: 'c1', name: 'lookup_order', arguments: '{"a":1}' } }),
    );
    expect(item.kind === 'event' && functionCallOf(item.event)).toEqual({ callId: 'c1', name: 'lookup_order', arguments: '{"a":1}' });
    const message = parseModelEvent(JSON.stringify({ type: 'response.output_item.done', item: { type: 'message' } }));
    expect(message.kind === 'event' && functionCallOf(message.event)).toBeUndefined();
  });

  it('keeps events it does not know apart from events that are broken', () => {
    expect(parseModelEvent(JSON.stringify({ type: 'rate_limits.updated', rate_limits: [] }))).toMatchObject({ kind: 'unknown', type: 'rate_limits.updated' });
    expect(parseModelEvent('{not json')).toEqual({ kind: 'invalid', reason: 'the frame is not JSON' });
    expect(parseModelEvent('[1,2]')).toMatchObject({ kind: 'invalid' });
    expect(parseModelEvent(JSON.stringify({ type: 'response.function_call_arguments.done', call_id: 'c1' }))).toMatchObject({ kind: 'invalid' });
  });

  it('reads the client events Holdline acts on, strictly', () => {
    expect(parseClientEvent(JSON.stringify({ type: 'tool_call.approve', call_id: 'c1', approved: true }))).toMatchObject({ kind: 'event' });
    expect(parseClientEvent(JSON.stringify({ type: 'tool_call.approve', call_id: 'c1', approved: 'yes' }))).toMatchObject({ kind: 'invalid' });
    expect(parseClientEvent(JSON.stringify({ type: 'tool_call.approve', call_id: 'c1', approved: true, tenant_id: 'x' }))).toMatchObject({ kind: 'invalid' });
    expect(parseClientEvent(JSON.stringify({ type: 'input_audio_buffer.append', audio: '' }))).toMatchObject({ kind: 'unknown' });
  });
});

describe('model turns', () => {
  it('holds a response request while the model responds, and sends one when it is done', () => {
    const sent: string[] = [];
    const turns = new ModelTurns((command) => sent.push(command.type));
    turns.responseStarted();
    turns.requestResponse();
    turns.requestResponse();
    expect(sent).toEqual([]);
    turns.responseDone();
    expect(sent).toEqual(['response.create']);
    expect(turns.busy).toBe(true);
  });
});

describe('a session relaying between recording transports', () => {
  const logger = pino({ level: 'silent' });
  const registry = new ToolRegistry(supportTools);
  const calls = new TemporalCalls(gatewayClient({ TEMPORAL_NAMESPACE: 'default' }, '127.0.0.1:1'), { taskQueue: 'unused', requestTimeoutMs: 100 });
  const gateway = new Gateway({
    registry,
    calls,
    verifier: new TokenVerifier('x'.repeat(32)),
    logger,
    limits: { maxArgumentBytes: 1_000, sessionMaxInFlight: 1, tenantRatePerSec: 1, tenantBurst: 1 },
    breakerCooldownMs: 1_000,
  });
  const recorded: string[] = [];
  const records: SessionRecords = {
    callsOf: async () => [],
    ledgerOf: async () => ({ calls: [], delivered: new Set() }),
    recordCall: () => undefined,
    recordDelivery: (_session, _owner, callId) => void recorded.push(callId),
    claimProviderCall: async () => 'claimed',
    releaseProviderCall: () => undefined,
    flush: async () => undefined,
  };
  const services = { gateway, control: new CallControl(gateway), hub: new ProgressHub(calls, () => new Promise(() => undefined), { kind: 'polled', everyMs: 100 }, logger), logger, spokenProgressEveryMs: 1_000, records };
  afterAll(() => calls.client.connection.close());

  function session() {
    const client = new RecordingTransport();
    const model = new RecordingTransport();
    const s = new RealtimeSession('sess_unit00000', { tenantId: 'acme', userId: 'u', scopes: new Set(['orders:read', 'orders:refund', 'orders:write']) }, services);
    s.connect(client, model, 1_000, false);
    return { s, client, model };
  }

  it('announces the session and installs the tools on connect', () => {
    const { client, model } = session();
    expect(client.sent[0]).toEqual({ type: 'tool_call.session', session_id: 'sess_unit00000', resumed: false, resume_window_ms: 1_000 });
    expect(model.sent[0]!.session.tools.map((t: { name: string }) => t.name)).toEqual(['lookup_order', 'refund_order', 'cancel_order']);
  });

  it("keeps Holdline's tools when the client updates the session", () => {
    const { s, model } = session();
    s.onClientFrame(JSON.stringify({ type: 'session.update', session: { instructions: 'Be brief', tools: [] } }), false);
    const update = model.sent.at(-1)!;
    expect(update.session.instructions).toBe('Be brief');
    expect(update.session.tools).toHaveLength(3);
  });

  it('relays unknown client events verbatim and model events to the client', () => {
    const { s, client, model } = session();
    s.onClientFrame(JSON.stringify({ type: 'input_audio_buffer.append', audio: 'AAAA' }), false);
    expect(model.sent.at(-1)).toEqual({ type: 'input_audio_buffer.append', audio: 'AAAA' });
    s.onModelFrame(JSON.stringify({ type: 'rate_limits.updated', rate_limits: [] }));
    expect(client.sent.at(-1)).toEqual({ type: 'rate_limits.updated', rate_limits: [] });
  });

  it('answers bad client frames with an error event and relays nothing', () => {
    const { s, client, model } = session();
    const before = model.sent.length;
    s.onClientFrame('nope', false);
    s.onClientFrame(Buffer.from([0]), true);
    expect(client.sent.slice(-2).map((e) => e.error.code)).toEqual(['invalid_event', 'binary_frame']);
    expect(model.sent.length).toBe(before);
  });

  it('tells the client and closes when the model connection drops', () => {
    const { s, client } = session();
    s.modelClosed(1006, '');
    expect(client.sent.at(-1)).toMatchObject({ type: 'error', error: { code: 'model_connection_lost' } });
    expect(client.closedWith).toEqual({ code: 1011, reason: 'model connection lost' });
  });

  it('does not follow or announce a restored call whose result the model already has', () => {
    const s = new RealtimeSession('sess_unit00001', { tenantId: 'acme', userId: 'u', scopes: new Set(['orders:read', 'orders:refund', 'orders:write']) }, services);
    const ref = { call_id: 'rt-sess_unit00001-c1', workflow_id: 'acme/u/rt-sess_unit00001-c1', trace_id: 't', tool: 'lookup_order' };
    const completionOf = jest.spyOn(gateway, 'completionOf');
    s.restore([{ modelCallId: 'c1', ref }], new Set(['c1']));
    expect(completionOf).not.toHaveBeenCalled();
    const client = new RecordingTransport();
    const model = new RecordingTransport();
    s.connect(client, model, 1_000, true);
    expect(client.types()).toEqual(['tool_call.session']);
    expect(model.types()).toEqual(['session.update']);
    expect(recorded).toEqual([]);
    completionOf.mockRestore();
  });
});

describe('resuming a session this server never had', () => {
  const logger = pino({ level: 'silent' });
  const calls = new TemporalCalls(gatewayClient({ TEMPORAL_NAMESPACE: 'default' }, '127.0.0.1:1'), { taskQueue: 'unused', requestTimeoutMs: 100 });
  const gateway = new Gateway({
    registry: new ToolRegistry(supportTools),
    calls,
    verifier: new TokenVerifier('x'.repeat(32)),
    logger,
    limits: { maxArgumentBytes: 1_000, sessionMaxInFlight: 1, tenantRatePerSec: 1, tenantBurst: 1 },
    breakerCooldownMs: 1_000,
  });
  const hub = new ProgressHub(calls, () => new Promise(() => undefined), { kind: 'polled', everyMs: 60_000 }, logger);
  afterAll(() => calls.client.connection.close());

  const principal = { tenantId: 'acme', userId: 'u', scopes: new Set(['orders:read', 'orders:refund']) };
  const sessionId = 'sess_resume0000001';
  const ref = { call_id: `${sessionId}:call_1`, workflow_id: `acme/u/${sessionId}:call_1`, trace_id: 'trace-1', tool: 'refund_order' };
  const recordsWith = (found: Pick<SessionRecords, 'callsOf' | 'ledgerOf'>): SessionRecords => ({
    ...found,
    recordCall: () => undefined,
    recordDelivery: () => undefined,
    claimProviderCall: async () => 'claimed',
    releaseProviderCall: () => undefined,
    flush: async () => undefined,
  });
  const storeWith = (records: SessionRecords) =>
    new SessionStore({ gateway, control: new CallControl(gateway), hub, logger, spokenProgressEveryMs: 1_000, records }, records, { resumeWindowMs: 1_000, maxSessionsPerUser: 5 });

  it("takes up a call the ledger has before Temporal's visibility lists it, and delivers its result", async () => {
    jest.spyOn(gateway, 'completionOf').mockResolvedValue(okEnvelope({ amount_cents: 5 }, ref.trace_id, { tool: ref.tool, call_id: ref.call_id, workflow_id: ref.workflow_id }));
    const store = storeWith(
      recordsWith({
        callsOf: async () => [],
        ledgerOf: async () => ({ owner: { tenantId: 'acme', userId: 'u' }, calls: [{ modelCallId: 'call_1', ref }], delivered: new Set() }),
      }),
    );
    try {
      const { session, resumed } = await store.open(principal, sessionId);
      expect(resumed).toBe(true);
      const client = new RecordingTransport();
      session.connect(client, new RecordingTransport(), 1_000, true);
      await waitFor(() => client.types().includes('tool_call.completed'), 2_000, 'the result');
      expect(client.sent.filter((e) => e.type === 'tool_call.completed')).toEqual([expect.objectContaining({ workflow_id: ref.workflow_id, result: expect.objectContaining({ status: 'ok' }) })]);
    } finally {
      await store.close();
      jest.restoreAllMocks();
    }
  });

  it("answers 404 for a session with neither a ledger nor a listed call, and for another user's ledger", async () => {
    const nothing = storeWith(recordsWith({ callsOf: async () => [], ledgerOf: async () => ({ calls: [], delivered: new Set() }) }));
    await expect(nothing.open(principal, sessionId)).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS', httpStatus: 404 });
    const someoneElse = storeWith(
      recordsWith({ callsOf: async () => [], ledgerOf: async () => ({ owner: { tenantId: 'acme', userId: 'other' }, calls: [{ modelCallId: 'call_1', ref }], delivered: new Set() }) }),
    );
    await expect(someoneElse.open(principal, sessionId)).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS', httpStatus: 404 });
    await Promise.all([nothing.close(), someoneElse.close()]);
  });
});

describe('a WebSocket transport', () => {
  /** Just enough of a ws socket: every frame sent stays buffered, as with a peer that stopped reading. */
  function stalledSocket() {
    const socket = { readyState: 1, bufferedAmount: 0, sent: 0, closedWith: undefined as undefined | [number, string] };
    return Object.assign(socket, {
      send(text: string) {
        socket.sent++;
        socket.bufferedAmount += text.length;
      },
      close(code: number, reason: string) {
        socket.closedWith = [code, reason];
        socket.readyState = 2;
      },
    });
  }

  it('closes a peer that stops reading once the bound is passed, and queues nothing after', () => {
    const socket = stalledSocket();
    const overflow = jest.fn();
    const transport = new WebSocketTransport(socket as never, { maxBufferedBytes: 1_000, reason: 'client is not reading', onOverflow: overflow });
    for (let i = 0; i < 100; i++) transport.sendRaw('x'.repeat(100));
    expect(socket.sent).toBe(11);
    expect(socket.closedWith).toEqual([1008, 'client is not reading']);
    expect(overflow).toHaveBeenCalledTimes(1);
    expect(transport.isOpen).toBe(false);
  });
});
