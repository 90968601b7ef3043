import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SEARCH_ATTRIBUTE_NAMES } from '../../src/runtime/holdline';
import { startDevServer, type DevServer } from '../../src/temporal/dev-server';
import { startHarness, type Harness } from '../support/harness';
import { freePort } from '../support/ports';
import { connectRealtime, spoken } from '../support/realtime-client';
import { waitFor } from '../support/wait';

describe('a session server that restarts', () => {
  it('loses nothing: the result of a call in flight is delivered when the client comes back', async () => {
    const first = await startHarness({ refundTimings: { stageMs: 500, progressEveryMs: 100 } });
    let second: Harness | undefined;
    try {
      const client = await connectRealtime(first.url, { token: await first.token() });
      const { session_id } = await client.next((e) => e.type === 'tool_call.session', 'session');
      client.say('refund order A-1003 for $0.05');
      const accepted = await client.next((e) => e.type === 'tool_call.accepted', 'accepted');

      // The server process goes away mid-call: its sessions and their memory with it.
      await first.server.close();
      await client.closed;

      // Another server (no memory of the session) on the same Temporal and workers.
      second = await startHarness({ withoutWorker: true, taskQueue: first.taskQueue });
      const again = await connectRealtime(second.url, { token: await second.token(), query: { session_id } });
      expect(await again.next((e) => e.type === 'tool_call.session', 'session')).toMatchObject({ session_id, resumed: true });
      const done = await again.next((e) => e.type === 'tool_call.completed', 'completed', 20_000);
      expect(done).toMatchObject({ call_id: accepted.call_id, workflow_id: accepted.workflow_id, result: { status: 'ok', data: { amount_cents: 5 } } });
      await waitFor(() => spoken(again).some((t) => t.includes('I refunded $0.05')), 5_000, 'spoken result');
      expect(first.store.countProviderRefunds({ idempotencyKey: accepted.workflow_id })).toBe(1);
      await again.close();
    } finally {
      await second?.stop();
      await first.stop();
    }
  }, 60_000);
});

describe('a realtime call while Temporal is down', () => {
  let dir: string;
  let temporal: DevServer;
  let h: Harness;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'holdline-rt-down-'));
    temporal = await startDevServer({
      cliPath: process.env.HOLDLINE_TEST_TEMPORAL_CLI!,
      port: await freePort(),
      uiPort: null,
      dbFile: join(dir, 'temporal.sqlite'),
      namespace: 'default',
      searchAttributes: SEARCH_ATTRIBUTE_NAMES,
    });
    h = await startHarness({ temporalAddress: temporal.address });
  });
  afterAll(async () => {
    await h.stop();
    await temporal.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gets BACKEND_UNAVAILABLE within 2 s, and the model is told', async () => {
    const client = await connectRealtime(h.url, { token: await h.token() });
    await client.next((e) => e.type === 'session.updated', 'session.updated');
    await temporal.stop();
    const started = Date.now();
    client.say('refund order A-1005 for $1');
    const failed = await client.next((e) => e.type === 'tool_call.failed', 'failed', 10_000);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(failed.result).toMatchObject({ error_code: 'BACKEND_UNAVAILABLE', retryable: true });
    await waitFor(() => spoken(client).some((t) => t.startsWith("Sorry, that didn't work")), 5_000, 'spoken error');
    await client.close();
  }, 30_000);
});
