import supportDesk from '../../examples/support-desk';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { loadConfig } from '../../src/runtime/config';
import { SEARCH_ATTRIBUTE_NAMES, startHoldline, type RunningHoldline } from '../../src/runtime/holdline';
import { issueDevToken } from '../../src/runtime/jwt-secret';
import { connectNative, installTemporalRuntime } from '../../src/runtime/temporal';
import { superviseWorker } from '../../src/runtime/worker';
import { startDevServer, type DevServer } from '../../src/temporal/dev-server';
import { freePort } from '../support/ports';
import { waitFor } from '../support/wait';

/**
 * Holdline started while nothing listens at TEMPORAL_ADDRESS: it runs anyway,
 * and serves calls end to end once a Temporal dev server appears there.
 */
let dir: string;
let temporalPort: number;
let temporal: DevServer | undefined;
let running: RunningHoldline | undefined;
const logs: Record<string, any>[] = [];

const logger = pino(
  { level: 'debug' },
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) logs.push(JSON.parse(line) as Record<string, any>);
      done();
    },
  }),
);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'holdline-late-'));
  temporalPort = await freePort();
});
afterAll(async () => {
  await running?.stop();
  await temporal?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('starting while Temporal is down', () => {
  it('serves 503 BACKEND_UNAVAILABLE and reports not ready, then runs calls end to end once Temporal arrives', async () => {
    const env = {
      HOLDLINE_DATA_DIR: join(dir, 'data'),
      PORT: String(await freePort()),
      TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
      HOLDLINE_REFUND_STAGE_MS: '100',
      HOLDLINE_BREAKER_COOLDOWN_MS: '500',
    };
    const config = loadConfig(env);
    running = await startHoldline({ env, logger, tools: supportDesk });
    expect(running.temporalReachable).toBe(false);
    expect(running.worker?.state).not.toBe('polling');

    const token = await issueDevToken(config, { tenantId: 'acme', userId: 'alice', scopes: ['orders:read', 'orders:refund'] });
    const api = running.apiUrl!;
    const call = async (tool: string, args: unknown, key: string) => {
      const response = await fetch(`${api}/v1/tool-calls`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify({ tool, arguments: args }),
      });
      return { status: response.status, body: (await response.json()) as any, retryAfter: response.headers.get('retry-after') };
    };
    const result = async (key: string) =>
      (await (await fetch(`${api}/v1/tool-calls/${key}?wait=20000`, { headers: { authorization: `Bearer ${token}` } })).json()) as any;

    // Down: a call that must run on Temporal is refused, retryably.
    const refused = await call('refund_order', { order_id: 'A-1004', amount_cents: 25, reason: 'late start test' }, 'late-refund');
    expect(refused).toMatchObject({ status: 503, body: { status: 'error', error_code: 'BACKEND_UNAVAILABLE', retryable: true, call_id: 'late-refund' } });
    expect(Number(refused.retryAfter)).toBeGreaterThan(0);

    const ready = await fetch(`${api}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'not_ready', temporal: 'unreachable' });
    expect((await fetch(`${api}/healthz`)).status).toBe(200);

    // The worker keeps trying: one warn line per failed attempt, with the next delay and no stack.
    await waitFor(() => retryLines().length >= 2, 5_000, 'two failed connection attempts');
    const [first, second] = retryLines() as [Record<string, any>, Record<string, any>];
    expect(first).toMatchObject({ level: 40, attempt: 1, address: config.TEMPORAL_ADDRESS, reason: expect.stringMatching(/refused/i) });
    expect(second.attempt).toBe(2);
    expect(first.retry_in_ms).toBeLessThanOrEqual(250);
    expect(second.retry_in_ms).toBeGreaterThan(250);
    expect(first.err).toBeUndefined();

    // Temporal arrives where the configuration said it would be.
    temporal = await startDevServer({
      cliPath: process.env.HOLDLINE_TEST_TEMPORAL_CLI!,
      port: temporalPort,
      uiPort: null,
      dbFile: join(dir, 'temporal.sqlite'),
      namespace: 'default',
      searchAttributes: SEARCH_ATTRIBUTE_NAMES,
    });
    await waitFor(() => running!.worker!.state === 'polling', 20_000, 'the worker polling');
    expect(logs.some((line) => line.msg === 'Temporal is reachable: worker polling')).toBe(true);
    await waitFor(async () => (await fetch(`${api}/readyz`)).status === 200, 15_000, 'readyz 200');

    // A lookup runs through Temporal and the worker, not the fallback.
    await waitFor(async () => (await call('lookup_order', { order_id: 'A-1001' }, 'late-lookup')).status < 300, 10_000, 'lookup accepted');
    const lookup = await result('late-lookup');
    expect(lookup).toMatchObject({ status: 'ok', data: { order_id: 'A-1001' }, workflow_id: 'acme/alice/late-lookup' });
    expect(lookup.fallback).toBeUndefined();

    // The refused call, retried with the call id it was given, now runs once.
    expect((await call('refund_order', { order_id: 'A-1004', amount_cents: 25, reason: 'late start test' }, 'late-refund')).status).toBeLessThan(300);
    expect(await result('late-refund')).toMatchObject({ status: 'ok', data: { amount_cents: 25 } });

    const stopping = Date.now();
    await running.stop();
    running = undefined;
    expect(Date.now() - stopping).toBeLessThan(10_000);
  }, 90_000);

  it('stops at once while the worker waits to reconnect', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const before = logs.length;
    const supervised = superviseWorker({
      address,
      logger,
      // Long waits between attempts: stop() must not sit them out.
      backoff: { initialMs: 60_000, maxMs: 60_000, factor: 2, jitter: 0 },
      connect: async () => {
        installTemporalRuntime(logger, 'WARN', { shutdownSignals: [] });
        return connectNative({}, address);
      },
      create: () => Promise.reject(new Error('never reached: nothing listens')),
    });
    expect(await supervised.firstAttempt).toBe(false);
    expect(supervised.state).toBe('waiting');
    const started = Date.now();
    await supervised.stop();
    expect(Date.now() - started).toBeLessThan(500);
    expect(supervised.state).toBe('stopped');
    expect(logs.slice(before).filter((line) => line.attempt !== undefined)).toHaveLength(1);
  });
});

function retryLines(): Record<string, any>[] {
  return logs.filter((line) => line.msg === 'Temporal is not reachable yet; the worker keeps trying');
}
