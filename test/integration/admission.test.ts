import { z } from 'zod';
import { implementTool } from '../../src/activities';
import { defineTool } from '../../src/contracts/tool-spec';
import { freshKey, startHarness, type Harness, type HttpAnswer } from '../support/harness';
import { connectRealtime } from '../support/realtime-client';
import { defineGateTool, Gates } from '../support/gates';
import { waitFor } from '../support/wait';

jest.setTimeout(60_000);

/** Calls of the gate tools run until the test opens their gate, holding their admission permit meanwhile. */
const gates = new Gates();
const open = (label: string) => gates.open(label);
const gateHandler = gates.handler;
const gateTool = defineGateTool({ ackAfterMs: 5_000 });
const lowGateTool = defineGateTool({ name: 'low_gate_tool', ackAfterMs: 5_000, priority: 'low' });
const cachedPrice = defineTool({
  name: 'cached_price',
  description: 'A price, from the cache when Holdline is pressed.',
  input: z.strictObject({ sku: z.string() }),
  output: z.object({ sku: z.string(), source: z.string() }),
  scopes: ['test'],
  sideEffect: 'read',
  priority: 'low',
  fallbackConfidence: 0.6,
  budget: { ackAfterMs: 2_000, timeoutMs: 5_000 },
});

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    tools: [
      implementTool(gateTool, gateHandler),
      implementTool(lowGateTool, gateHandler),
      implementTool(cachedPrice, async ({ sku }) => ({ sku, source: 'live' }), { fallback: async ({ sku }) => ({ sku, source: 'cache' }) }),
    ],
    // One call at a time, two may wait 20 ms; an acked call counts for 100 ms at most; once degraded it stays so for the whole
    // file (never escalates). Calls keep their ack windows under pressure here (prompt acks have their own test below).
    admission: { initialLimit: 1, minLimit: 1, maxLimit: 1, queueLength: 2, queueMs: 20, holdMs: 100, pressedAckMs: 60_000, tickMs: 20, modes: { escalateMs: 600_000, calmMs: 600_000 } },
  });
  // Open the client's connections and warm the routes, so a timing measures Holdline, not connection set-up.
  await Promise.all(Array.from({ length: 8 }, () => h.get('/healthz')));
  await Promise.all(Array.from({ length: 8 }, () => h.get('/v1/tools')));
});
afterAll(async () => {
  gates.openAll();
  await h?.stop();
});

const admission = () => h.server.gateway.admission.snapshot();

/** Starts a gate call that holds the one permit, and waits until it does. */
async function holdPermit(label: string): Promise<{ held: Promise<HttpAnswer> }> {
  const held = h.call('gate_tool', { label }, { key: freshKey(label) });
  await waitFor(() => admission().in_flight === 1 && gates.reached(label), 10_000, `${label} running and holding the permit`);
  return { held };
}

async function timed(answer: Promise<HttpAnswer>): Promise<HttpAnswer & { ms: number }> {
  const started = performance.now();
  const answered = await answer;
  return { ...answered, ms: performance.now() - started };
}

describe('admission under load', () => {
  it('answers calls beyond the limit and its queue with 429 RATE_LIMITED within 50 ms, while the admitted call completes', async () => {
    const { held } = await holdPermit('a');
    const keys = Array.from({ length: 6 }, () => freshKey('x'));
    const shed = await Promise.all(keys.map((key, i) => timed(h.call('gate_tool', { label: `x${i}` }, { key }))));
    for (const [i, answer] of shed.entries()) {
      expect(answer.status).toBe(429);
      expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(answer.body).toMatchObject({ status: 'error', error_code: 'RATE_LIMITED', retryable: true, retry_after_ms: 1_000, tool: 'gate_tool', call_id: keys[i] });
      expect(['queue_full', 'queue_timeout']).toContain(answer.body.details.shed);
      // From the request's arrival in the gateway to its answer, as the gateway logs it.
      const logged = h.logs.find((line) => line.msg === 'tool call finished' && line.call_id === keys[i]);
      expect(logged).toMatchObject({ error_code: 'RATE_LIMITED' });
      expect(logged!.duration_ms as number).toBeLessThan(50);
      // The whole round trip, from a client sharing this process (and two cores) with the server and a worker.
      expect(answer.ms).toBeLessThan(150);
    }
    expect(shed.map((answer) => answer.body.details.shed)).toEqual(expect.arrayContaining(['queue_full', 'queue_timeout']));
    open('a');
    const done = await held;
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ status: 'ok', data: { label: 'a' } });
    await waitFor(() => admission().in_flight === 0, 5_000, 'the permit given back');

    const metrics = (await h.get('/metrics')).body as string;
    expect(metrics).toMatch(/holdline_shed_total\{tool="gate_tool",reason="queue_full"\} [1-9]/);
    expect(metrics).toMatch(/holdline_shed_total\{tool="gate_tool",reason="queue_timeout"\} [1-9]/);
    expect(metrics).toMatch(/holdline_admission_limit 1/);
  });

  it('degrades after shedding: /readyz shows it (still ready), the gauge moves, and the change is logged as a warning', async () => {
    await waitFor(() => admission().mode === 'degraded', 5_000, 'degraded');
    const ready = await h.get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ready', admission: { mode: 'degraded', limit: 1, in_flight: 0, queue: 0 } });
    expect((await h.get('/metrics')).body).toMatch(/holdline_degradation_mode 1/);
    expect(h.logs.find((line) => line.mode === 'degraded' && line.previous === 'normal')).toMatchObject({ level: 40 });
  });

  it('in degraded mode sheds low-priority calls at once, answers a read tool with a fallback from it, and still admits normal calls', async () => {
    expect(admission().mode).toBe('degraded');
    const low = await timed(h.call('low_gate_tool', { label: 'low' }, { key: freshKey('low') }));
    expect(low.status).toBe(429);
    expect(low.body).toMatchObject({ error_code: 'RATE_LIMITED', details: { shed: 'priority' } });
    expect(low.ms).toBeLessThan(50);
    expect(gates.reached('low')).toBe(false);

    const cached = await h.call('cached_price', { sku: 'S-1' }, { key: freshKey('price') });
    expect(cached.status).toBe(200);
    expect(cached.body).toMatchObject({ status: 'ok', data: { sku: 'S-1', source: 'cache' }, fallback: true, confidence: 0.6 });

    open('normal');
    const normal = await h.call('gate_tool', { label: 'normal' }, { key: freshKey('normal') });
    expect(normal.body).toMatchObject({ status: 'ok', data: { label: 'normal' } });

    const metrics = (await h.get('/metrics')).body as string;
    expect(metrics).toMatch(/holdline_shed_total\{tool="low_gate_tool",reason="priority"\} 1/);
    expect(metrics).toMatch(/holdline_shed_total\{tool="cached_price",reason="priority"\} 1/);
    expect(admission().in_flight).toBe(0);
  });

  it('never sheds what belongs to admitted calls: reads, streams, approvals, cancels and duplicates', async () => {
    // Admitted before the pressure: a call waiting for approval and a cancellable one running.
    const approval = await h.call('cancel_order', { order_id: 'A-1001', reason: 'changed my mind' }, { key: freshKey('approve') });
    expect(approval.status).toBe(202);
    const sleepyKey = freshKey('sleepy');
    const sleepy = await h.call('sleepy_tool', { label: 'sleepy', ms: 1_400 }, { key: sleepyKey });
    expect(sleepy.status).toBe(202);
    // The running call counts against the limit for the hold (100 ms here), then gives its permit back.
    await waitFor(() => admission().in_flight === 0, 5_000, "the running call's hold over");
    const heldKey = freshKey('b');
    const held = h.call('gate_tool', { label: 'b' }, { key: heldKey });
    await waitFor(() => admission().in_flight === 1 && gates.reached('b'), 10_000, 'b holding the permit');
    expect((await h.call('gate_tool', { label: 'y' }, { key: freshKey('y') })).status).toBe(429);

    const read = await h.get(`/v1/tool-calls/${encodeURIComponent(approval.body.call_id)}`);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ status: 'awaiting_approval' });
    const approved = await h.post(`/v1/tool-calls/${encodeURIComponent(approval.body.call_id)}/approval`, { approved: false });
    expect([200, 202]).toContain(approved.status);
    const cancelled = await h.post(`/v1/tool-calls/${encodeURIComponent(sleepyKey)}/cancel`, {});
    expect([200, 202]).toContain(cancelled.status);
    const stream = await h.get(`/v1/tool-calls/${encodeURIComponent(sleepyKey)}/events`);
    expect(stream.status).toBe(200);
    expect(String(stream.body)).toContain('event:');
    expect((await h.get('/healthz')).status).toBe(200);
    expect((await h.get('/readyz')).status).toBe(200);
    // A duplicate of the held call attaches without admission: it waits for the call's result instead of being shed within 50 ms.
    const duplicate = h.call('gate_tool', { label: 'b' }, { key: heldKey });
    expect(await Promise.race([duplicate.then((answer) => answer.status), new Promise((resolve) => setTimeout(resolve, 300, 'waiting'))])).toBe('waiting');
    open('b');
    expect((await duplicate).body).toMatchObject({ status: 'ok', data: { label: 'b' } });
    expect((await held).body).toMatchObject({ status: 'ok', data: { label: 'b' } });
    await waitFor(() => admission().in_flight === 0, 5_000, 'the permit given back');
  });

  it('sends a realtime model the shed envelope at once', async () => {
    const { held } = await holdPermit('c');
    const client = await connectRealtime(h.url, { token: await h.token() });
    try {
      await client.next((e) => e.type === 'session.updated', 'session.updated');
      const asked = performance.now();
      // A write tool: no fallback to answer from (a lookup would be answered from its fallback).
      client.say('Please refund order A-1005 for $2.50');
      const failed = await client.next((e) => e.type === 'tool_call.failed', 'failed', 5_000);
      expect(performance.now() - asked).toBeLessThan(2_000);
      expect(failed.result).toMatchObject({ error_code: 'RATE_LIMITED', retryable: true, retry_after_ms: 1_000, tool: 'refund_order' });
      expect(client.all('tool_call.accepted')).toHaveLength(0);
      const output = h.model.received.find((e) => e.type === 'conversation.item.create' && (e.item as any).type === 'function_call_output' && JSON.parse((e.item as any).output).error_code === 'RATE_LIMITED');
      expect(output).toBeDefined();
      // The permit was never released for it: the held call still holds it.
      expect(gates.reached('c') && !gates.isOpen('c')).toBe(true);
    } finally {
      await client.close();
      open('c');
      await held;
    }
  });
});
