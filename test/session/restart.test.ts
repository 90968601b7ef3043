import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { SEARCH_ATTRIBUTE_NAMES } from '../../src/runtime/holdline';
import { TemporalSessionRecords } from '../../src/runtime/session-records';
import { startDevServer, type DevServer } from '../../src/temporal/dev-server';
import { deliveredQuery, sessionLedgerId } from '../../src/workflows/session-ledger';
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
      // The session's ledger has the call (read by id, consistent), so a rebuild never waits on visibility to list it.
      const records = new TemporalSessionRecords(first.server.gateway.calls.client, { taskQueue: first.taskQueue, requestTimeoutMs: 5_000, resumeWindowMs: 60_000, logger: pino({ level: 'silent' }) });
      await waitFor(async () => (await records.ledgerOf(session_id)).calls.some((call) => call.ref.workflow_id === accepted.workflow_id), 5_000, 'the call in the session ledger');
      expect((await records.ledgerOf(session_id)).owner).toMatchObject({ tenantId: 'acme' });

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

describe('a session rebuilt by another server', () => {
  it('announces only the results the model has not had: each result is delivered once', async () => {
    const first = await startHarness({ refundTimings: { stageMs: 500, progressEveryMs: 100 } });
    let second: Harness | undefined;
    try {
      const client = await connectRealtime(first.url, { token: await first.token() });
      const { session_id } = await client.next((e) => e.type === 'tool_call.session', 'session');
      // Answered directly within its ack window, then one answered by a late result: both delivered.
      client.say('look up order A-1002');
      const lookup = await client.next((e) => e.type === 'tool_call.completed', 'lookup');
      await waitFor(() => spoken(client).some((t) => t.includes('Order A-1002')), 5_000, 'spoken lookup');
      client.say('refund order A-1005 for $0.06');
      const delivered = await client.next((e) => e.type === 'tool_call.completed' && e.call_id !== lookup.call_id, 'refund', 20_000);
      await waitFor(() => spoken(client).some((t) => t.includes('I refunded $0.06')), 5_000, 'spoken refund');
      // And one still running when the server goes away.
      client.say('refund order A-1003 for $0.07');
      const inFlight = await client.next((e) => e.type === 'tool_call.accepted' && ![lookup.call_id, delivered.call_id].includes(e.call_id), 'accepted');
      await first.server.close();
      await client.closed;

      const ledger = first.server.gateway.calls.client.workflow.getHandle(sessionLedgerId(session_id));
      second = await startHarness({ withoutWorker: true, taskQueue: first.taskQueue });
      const again = await connectRealtime(second.url, { token: await second.token(), query: { session_id } });
      expect(await again.next((e) => e.type === 'tool_call.session', 'session')).toMatchObject({ session_id, resumed: true });
      const done = await again.next((e) => e.type === 'tool_call.completed', 'completed', 20_000);
      expect(done).toMatchObject({ call_id: inFlight.call_id, result: { status: 'ok', data: { amount_cents: 7 } } });
      await waitFor(() => spoken(again).some((t) => t.includes('I refunded $0.07')), 5_000, 'spoken result');
      // The two delivered before the restart are neither announced to the client nor told to the model again.
      expect(again.all('tool_call.completed').map((e) => e.call_id)).toEqual([inFlight.call_id]);
      const toldAgain = second.model.received.filter((e) => [lookup.call_id, delivered.call_id].some((id) => JSON.stringify(e).includes(`(call ${id})`)));
      expect(toldAgain).toEqual([]);
      // The ledger lists all three now.
      const secondLedger = second.server.gateway.calls.client.workflow.getHandle(ledger.workflowId);
      await waitFor(async () => (await secondLedger.query(deliveredQuery)).length === 3, 10_000, 'three deliveries in the ledger');
      expect(new Set(await secondLedger.query(deliveredQuery))).toEqual(new Set([lookup.call_id, delivered.call_id, inFlight.call_id]));
      await again.close();
    } finally {
      await second?.stop();
      await first.stop();
    }
  }, 90_000);
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
