import { implementTool } from '../../src/activities';
import { defineGateTool, Gates } from '../support/gates';
import { freshKey, startHarness, type Harness } from '../support/harness';
import { connectRealtime } from '../support/realtime-client';
import { waitFor } from '../support/wait';

jest.setTimeout(60_000);

const gates = new Gates();
/** A read tool whose result a caller waits up to 5 s for, in normal times. */
const gateTool = defineGateTool({ ackAfterMs: 5_000 });

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

/** What the scripted model was given: the function outputs for one of its calls, and the texts of notes. */
const modelItems = () => h.model.received.filter((e) => e.type === 'conversation.item.create').map((e) => e.item as Record<string, any>);
const modelOutputs = (callId: string) =>
  modelItems()
    .filter((item) => item.type === 'function_call_output' && item.call_id === callId)
    .map((item) => JSON.parse(item.output as string) as Record<string, unknown>);
const modelTexts = () => modelItems().flatMap((item) => (item.type === 'message' ? (item.content as { text?: string }[]).map((part) => part.text ?? '') : []));

/** Sheds calls until admission is degraded (where it then stays), and leaves the one permit free. */
async function degrade(): Promise<void> {
  if (admission().mode === 'degraded' && admission().in_flight === 0) return;
  const label = `held-${freshKey('held')}`;
  const held = h.call('gate_tool', { label }, { key: freshKey('held') });
  await waitFor(() => gates.reached(label) && admission().in_flight === 1, 10_000, 'the held call running');
  const shed = await Promise.all([1, 2, 3].map((i) => h.call('gate_tool', { label: `over${i}` }, { key: freshKey('over') })));
  expect(shed.map((a) => a.status)).toContain(429);
  await waitFor(() => admission().mode === 'degraded', 5_000, 'degraded');
  gates.open(label);
  expect((await held).body).toMatchObject({ status: 'ok' });
  await waitFor(() => admission().in_flight === 0, 5_000, 'the permit given back');
}

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
    await degrade();

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

  it('when pressed, acks a realtime model\'s function call promptly, and the result follows', async () => {
    await degrade();
    const client = await connectRealtime(h.url, { token: await h.token() });
    try {
      await client.next((e) => e.type === 'session.updated', 'session.updated');
      const asked = performance.now();
      client.say('call gate_tool with {"label": "pressed-realtime"}');
      const accepted = await client.next((e) => e.type === 'tool_call.accepted', 'accepted', 5_000);
      // Well inside the tool's 5 s ack window, and while the call is still running at its gate.
      expect(performance.now() - asked).toBeLessThan(1_000);
      expect(accepted).toMatchObject({ tool: 'gate_tool', message: 'Working on gate_tool; the result will follow' });
      expect(gates.isOpen('pressed-realtime')).toBe(false);
      expect(client.all('tool_call.completed')).toHaveLength(0);
      // The model heard "pending", not a result.
      await waitFor(() => modelOutputs(accepted.call_id).some((output) => output.status === 'pending'), 5_000, 'the model told the call is pending');

      await waitFor(() => gates.reached('pressed-realtime'), 10_000, 'the call running');
      gates.open('pressed-realtime');
      const completed = await client.next((e) => e.type === 'tool_call.completed', 'completed', 10_000);
      expect(completed).toMatchObject({ call_id: accepted.call_id, tool: 'gate_tool', result: { status: 'ok', data: { label: 'pressed-realtime' } } });
      await waitFor(() => modelTexts().some((text) => text.startsWith('Tool result for gate_tool') && text.includes('pressed-realtime')), 5_000, 'the model given the result');
    } finally {
      await client.close();
    }
  });
});
