import { randomUUID } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { z } from 'zod';
import { implementTool } from '../../src/activities';
import { CallStreamEventSchema, type CallStreamEvent } from '../../src/contracts/calls';
import { defineTool } from '../../src/contracts/tool-spec';
import { startHarness, freshKey, type Harness } from '../support/harness';
import { parseEventStream } from '../support/sse';
import { TEST_SCOPES } from '../support/test-tools';
import { waitFor } from '../support/wait';

/** Reports progress with a large message as often as heartbeats go out: a stream with a lot to say. */
const loudTool = defineTool({
  name: 'loud_tool',
  description: 'Reports 160 KB progress messages for `ms` milliseconds.',
  input: z.strictObject({ ms: z.number().int().positive() }),
  output: z.object({ done: z.boolean() }),
  scopes: ['test'],
  sideEffect: 'read',
  cancellable: true,
  budget: { ackAfterMs: 0, timeoutMs: 40_000, heartbeatTimeoutMs: 5_000 },
  retry: { maxAttempts: 1 },
});
// Large, so the stalled reader's socket buffers (megabytes on loopback) fill within seconds even on a loaded machine.
const padding = 'x'.repeat(160 * 1024);

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    refundTimings: { stageMs: 250, progressEveryMs: 50 },
    tools: [
      implementTool(loudTool, async ({ ms }, ctx) => {
        const started = Date.now();
        for (let pct = 0; Date.now() - started < ms; pct = Math.min(99, pct + 1)) {
          ctx.progress({ stage: 'talking', pct, message: `${pct} ${padding}` });
          await ctx.sleep(20);
        }
        return { done: true };
      }),
    ],
  });
});
afterAll(() => h.stop());

const fresh = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

interface Reader {
  events: CallStreamEvent[];
  close(): void;
  ended: Promise<void>;
}

/** Opens GET /v1/events and collects its events (each checked against the contract). */
async function read(token: string): Promise<Reader> {
  const abort = new AbortController();
  const response = await fetch(`${h.url}/v1/events`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/event-stream');
  const events: CallStreamEvent[] = [];
  const ended = parseEventStream(response.body as unknown as AsyncIterable<Uint8Array>, ({ event, data }) => {
    const parsed = CallStreamEventSchema.parse(data);
    expect(event).toBe(parsed.type);
    events.push(parsed);
  }).catch(() => undefined);
  await waitFor(() => events.length > 0, 10_000, 'the snapshot');
  return { events, close: () => abort.abort(), ended };
}

const about = (events: CallStreamEvent[], callId: string) =>
  events.filter((event) => ('call' in event ? event.call.call_id === callId : 'call_id' in event && event.call_id === callId));

describe('GET /v1/events', () => {
  it("opens with a snapshot of the reader's open calls, then streams a refund's start, progress and finish", async () => {
    const user = fresh('alice');
    const token = await h.token({ user });
    const waiting = await h.call('cancel_order', { order_id: 'A-1001', reason: 'ordered twice' }, { token, key: freshKey('wait') });
    expect(waiting.status).toBe(202);

    const reader = await read(token);
    const bystander = await read(await h.token({ user: fresh('bob') }));
    const operator = await read(await h.token({ user: fresh('ops'), scopes: [...TEST_SCOPES, 'holdline:operator'] }));
    try {
      const [snapshot] = reader.events;
      expect(snapshot).toMatchObject({ type: 'calls.snapshot' });
      expect(snapshot?.type === 'calls.snapshot' && snapshot.calls.map((call) => [call.call_id, call.status])).toEqual([[waiting.body.call_id, 'awaiting_approval']]);

      const key = freshKey('refund');
      const accepted = await h.call('refund_order', { order_id: 'A-1002', amount_cents: 500, reason: 'arrived broken' }, { token, key });
      expect(accepted.status).toBe(202);
      await waitFor(() => reader.events.some((event) => event.type === 'call.finished' && event.call.call_id === key), 20_000, 'the refund finishes');

      const events = about(reader.events, key);
      expect(events[0]).toMatchObject({ type: 'call.started', call: { call_id: key, tool: 'refund_order', user_id: user, status: 'running', cancellable: true } });
      const progress = events.flatMap((event) => (event.type === 'call.progress' ? [event.progress.pct] : []));
      expect(progress.length).toBeGreaterThanOrEqual(2);
      expect([...progress].sort((a, b) => a - b)).toEqual(progress);
      const last = events.at(-1)!;
      expect(last.type).toBe('call.finished');
      if (last.type !== 'call.finished') return;
      expect(last.call).toMatchObject({ call_id: key, status: 'ok', attempts: 1 });
      expect(last.call.duration_ms).toBeGreaterThan(0);
      expect(last.result).toMatchObject({ status: 'ok', call_id: key });
      expect(events.filter((event) => event.type === 'call.started' || event.type === 'call.finished')).toHaveLength(2);

      // The operator sees the tenant's calls; another user of the tenant sees none of them.
      await waitFor(() => about(operator.events, key).some((event) => event.type === 'call.finished'), 5_000, 'the operator sees the finish');
      expect(about(operator.events, key)[0]).toMatchObject({ type: 'call.started' });
      expect(bystander.events).toEqual([{ type: 'calls.snapshot', calls: [] }]);
    } finally {
      await h.post(`/v1/tool-calls/${waiting.body.call_id}/approval`, { approved: false }, token);
      for (const r of [reader, bystander, operator]) r.close();
    }
  });

  it('streams an approval: started awaiting approval, running once approved, then finished', async () => {
    const user = fresh('carol');
    const token = await h.token({ user });
    const reader = await read(token);
    const stranger = await read(await h.token({ tenant: fresh('globex'), user, scopes: [...TEST_SCOPES, 'holdline:operator'] }));
    try {
      const key = freshKey('cancel');
      expect((await h.call('cancel_order', { order_id: 'A-1004', reason: 'no longer needed' }, { token, key })).status).toBe(202);
      await waitFor(() => about(reader.events, key).length > 0, 5_000, 'the start');
      expect(about(reader.events, key)[0]).toMatchObject({ type: 'call.started', call: { status: 'awaiting_approval', cancellable: true } });
      expect((await h.post(`/v1/tool-calls/${key}/approval`, { approved: true }, token)).status).toBeLessThan(300);
      await waitFor(() => about(reader.events, key).some((event) => event.type === 'call.finished'), 20_000, 'the finish');
      const types = about(reader.events, key).map((event) => event.type);
      expect(types.filter((type) => type !== 'call.progress')).toEqual(['call.started', 'call.status', 'call.finished']);
      expect(about(reader.events, key).find((event) => event.type === 'call.status')).toMatchObject({ status: 'running', workflow_id: `acme/${user}/${key}` });
      expect(about(reader.events, key).at(-1)).toMatchObject({ call: { status: 'ok' }, result: { status: 'ok' } });
      // A user of another tenant with the same name, operator or not, hears nothing of it.
      expect(stranger.events).toEqual([{ type: 'calls.snapshot', calls: [] }]);
    } finally {
      reader.close();
      stranger.close();
    }
  });

  it('answers 401 without a token', async () => {
    expect((await fetch(`${h.url}/v1/events`)).status).toBe(401);
  });

  it('cuts off a reader that stops reading, while one that reads gets every finish', async () => {
    const user = fresh('dave');
    const token = await h.token({ user });
    await waitFor(() => h.server.feed.readerCount === 0, 5_000, 'earlier readers gone');
    const port = Number(new URL(h.url).port);
    const stalled = await new Promise<Socket>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write(`GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n\r\n`);
        socket.pause();
        resolve(socket);
      });
      socket.on('error', reject);
    });
    const reader = await read(token);
    try {
      await waitFor(() => h.server.feed.readerCount === 2, 5_000, 'both readers subscribed');
      const keys = Array.from({ length: 4 }, () => freshKey('loud'));
      // They talk until the stalled reader is cut off (however much the sockets buffer first), then are cancelled.
      for (const key of keys) expect((await h.call('loud_tool', { ms: 30_000 }, { token, key })).status).toBe(202);
      await waitFor(() => h.server.feed.readerCount === 1, 30_000, 'the stalled reader is cut off');
      for (const key of keys) expect((await h.post(`/v1/tool-calls/${key}/cancel`, {}, token)).status).toBeLessThan(300);
      await waitFor(() => keys.every((key) => about(reader.events, key).some((event) => event.type === 'call.finished')), 30_000, 'every finish reaches the reader');
      expect(about(reader.events, keys[0]!).at(-1)).toMatchObject({ type: 'call.finished', call: { status: 'cancelled' } });
      expect(reader.events.filter((event) => event.type === 'call.progress').length).toBeGreaterThan(keys.length);
    } finally {
      stalled.destroy();
      reader.close();
    }
  }, 60_000);
});
