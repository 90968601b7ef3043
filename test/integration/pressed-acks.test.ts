import { z } from 'zod';
import { implementTool } from '../../src/activities';
import { defineTool } from '../../src/contracts/tool-spec';
import { Gates } from '../support/gates';
import { freshKey, startHarness, type Harness } from '../support/harness';
import { waitFor } from '../support/wait';

jest.setTimeout(60_000);

const gates = new Gates();
/** A read tool whose result a caller waits up to 5 s for, in normal times. */
const gateTool = defineTool({
  name: 'gate_tool',
  description: 'Runs until the test opens its gate.',
  input: z.strictObject({ label: z.string() }),
  output: z.object({ label: z.string() }),
  scopes: ['test'],
  sideEffect: 'read',
  budget: { ackAfterMs: 5_000, timeoutMs: 10_000 },
  retry: { maxAttempts: 1 },
});

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    tools: [implementTool(gateTool, gates.handler)],
    // One call at a time, one may wait 20 ms; once degraded it stays so (never escalates); prompt acks at their default (acked as soon as Temporal has the call).
    admission: { initialLimit: 1, minLimit: 1, maxLimit: 1, queueLength: 1, queueMs: 20, tickMs: 20, modes: { escalateMs: 600_000, calmMs: 600_000 } },
  });
});
afterAll(async () => {
  gates.openAll();
  await h?.stop();
});

const admission = () => h.server.gateway.admission.snapshot();

describe('acks under pressure', () => {
  it('in normal mode, a call waits within its ack window and answers with its result', async () => {
    const key = freshKey('calm');
    const answer = h.call('gate_tool', { label: 'calm' }, { key });
    await waitFor(() => gates.reached('calm'), 10_000, 'the call running');
    // Long past the prompt-ack window, and still no ack: the caller is waiting for the result, as the tool asks.
    await waitFor(() => admission().in_flight === 1, 1_000, 'the call holding its permit');
    expect(await Promise.race([answer.then((a) => a.status), new Promise((resolve) => setTimeout(resolve, 200, 'waiting'))])).toBe('waiting');
    gates.open('calm');
    expect((await answer).status).toBe(200);
    expect((await answer).body).toMatchObject({ status: 'ok', data: { label: 'calm' } });
    expect(admission().mode).toBe('normal');
  });

  it('when pressed, acks a new call promptly instead of waiting out its ack window, and the result follows', async () => {
    const held = h.call('gate_tool', { label: 'held' }, { key: freshKey('held') });
    await waitFor(() => gates.reached('held') && admission().in_flight === 1, 10_000, 'the held call running');
    const shed = await Promise.all([1, 2, 3].map((i) => h.call('gate_tool', { label: `over${i}` }, { key: freshKey('over') })));
    expect(shed.map((a) => a.status)).toContain(429);
    await waitFor(() => admission().mode === 'degraded', 5_000, 'degraded');
    gates.open('held');
    expect((await held).body).toMatchObject({ status: 'ok' });
    await waitFor(() => admission().in_flight === 0, 5_000, 'the permit given back');

    const key = freshKey('pressed');
    const started = performance.now();
    const acked = await h.call('gate_tool', { label: 'pressed' }, { key });
    const ackMs = performance.now() - started;
    expect(acked.status).toBe(202);
    expect(acked.body).toMatchObject({ status: 'accepted', call_id: key, tool: 'gate_tool' });
    expect(ackMs).toBeLessThan(1_000);
    // Acked, not finished: the call is running at its gate, and still counts against the limit (for the hold at most).
    expect(gates.isOpen('pressed')).toBe(false);
    gates.open('pressed');
    const result = await h.get(`/v1/tool-calls/${encodeURIComponent(key)}?wait=5000`);
    expect(result.body).toMatchObject({ status: 'ok', data: { label: 'pressed' } });
  });
});
