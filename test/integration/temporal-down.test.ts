import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SEARCH_ATTRIBUTE_NAMES } from '../../src/runtime/holdline';
import { startDevServer, type DevServer } from '../../src/temporal/dev-server';
import { startHarness, freshKey, type Harness } from '../support/harness';
import { freePort } from '../support/ports';
import { waitFor } from '../support/wait';

/** This file stops and restarts Temporal, so it runs a dev server of its own. */
let dir: string;
let port: number;
let temporal: DevServer;
let h: Harness;

const startTemporal = () =>
  startDevServer({
    cliPath: process.env.HOLDLINE_TEST_TEMPORAL_CLI!,
    port,
    uiPort: null,
    dbFile: join(dir, 'temporal.sqlite'),
    namespace: 'default',
    searchAttributes: SEARCH_ATTRIBUTE_NAMES,
  });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'holdline-down-'));
  port = await freePort();
  temporal = await startTemporal();
  h = await startHarness({ temporalAddress: temporal.address, refundTimings: { stageMs: 400 }, breakerCooldownMs: 500 });
});
afterAll(async () => {
  await h.stop();
  await temporal.stop();
  rmSync(dir, { recursive: true, force: true });
});

const refund = (key: string) => h.call('refund_order', { order_id: 'A-1005', amount_cents: 100, reason: 'backend outage test' }, { key });

describe('when Temporal is down', () => {
  it('fails calls fast with BACKEND_UNAVAILABLE, keeps serving, loses nothing, and recovers by itself', async () => {
    expect((await h.call('lookup_order', { order_id: 'A-1001' })).body.status).toBe('ok');

    // A call in flight when Temporal stops.
    const inFlightKey = freshKey('in-flight');
    expect((await refund(inFlightKey)).status).toBe(202);
    await temporal.stop();

    const started = Date.now();
    const down = await refund(freshKey('down'));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ status: 'error', error_code: 'BACKEND_UNAVAILABLE', retryable: true });
    expect(down.headers.get('retry-after')).toBeTruthy();
    // The call id comes back, so the caller can retry with it as Idempotency-Key.
    expect(down.body.call_id).toMatch(/^down-/);

    // The breaker opens: later calls fail without waiting on Temporal.
    for (let i = 0; i < 3; i++) await refund(freshKey('down'));
    expect(h.server.gateway.breaker.state).toBe('open');
    const fastStart = Date.now();
    expect((await refund(freshKey('fast'))).body.error_code).toBe('BACKEND_UNAVAILABLE');
    expect(Date.now() - fastStart).toBeLessThan(200);

    // A read tool answers from its declared fallback.
    const fallback = await h.call('lookup_order', { order_id: 'A-1002' });
    expect(fallback.status).toBe(200);
    expect(fallback.body).toMatchObject({ status: 'ok', fallback: true, confidence: 0.9, data: { order_id: 'A-1002' } });

    // The process keeps serving.
    expect((await h.get('/healthz')).status).toBe(200);
    expect((await h.get('/readyz')).status).toBe(503);

    temporal = await startTemporal();
    await waitFor(async () => (await h.get('/readyz')).status === 200, 15_000, 'readyz');
    const recoveredKey = freshKey('recovered');
    await waitFor(async () => (await refund(recoveredKey)).status === 202, 15_000, 'calls accepted again');
    const recovered = await h.get(`/v1/tool-calls/${recoveredKey}?wait=30000`);
    expect(recovered.body.status).toBe('ok');
    // Traffic is let back in gradually, then the breaker closes by itself.
    await waitFor(() => h.server.gateway.breaker.state === 'closed', 10_000, 'breaker closed');

    // The call that was in flight finishes, once.
    const inFlight = await h.get(`/v1/tool-calls/${inFlightKey}?wait=30000`);
    expect(inFlight.body).toMatchObject({ status: 'ok', data: { amount_cents: 100 } });
    expect(h.store.countProviderRefunds({ idempotencyKey: `acme/alice/${inFlightKey}` })).toBe(1);
  }, 90_000);
});
