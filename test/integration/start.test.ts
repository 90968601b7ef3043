import supportDesk from '../../examples/support-desk';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '../../src/runtime/config';
import { startHoldline } from '../../src/runtime/holdline';
import { issueDevToken } from '../../src/runtime/jwt-secret';
import { freePort } from '../support/ports';

/** The default run (`npm start`): embedded dev server, worker and HTTP server in one process. */
describe('npm start (role "all")', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'holdline-start-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('serves calls on its own dev server, keeps state across a restart, and stops the dev server', async () => {
    const env = {
      HOLDLINE_DATA_DIR: dataDir,
      PORT: String(await freePort()),
      TEMPORAL_DEV_PORT: String(await freePort()),
      TEMPORAL_UI_PORT: String(await freePort()),
      TEMPORAL_CLI: process.env.HOLDLINE_TEST_TEMPORAL_CLI!,
      HOLDLINE_REFUND_STAGE_MS: '100',
    };
    const config = loadConfig(env);
    const logger = pino({ level: 'silent' });

    let running = await startHoldline({ env, logger, tools: supportDesk });
    const token = await issueDevToken(config, { tenantId: 'acme', userId: 'op', scopes: ['orders:read', 'orders:refund'] });
    const post = (body: unknown, key: string) =>
      fetch(`${running.apiUrl}/v1/tool-calls`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify(body),
      });

    expect(running.temporalUiUrl).toBe(`http://127.0.0.1:${env.TEMPORAL_UI_PORT}`);
    expect((await fetch(`${running.apiUrl}/readyz`)).status).toBe(200);
    expect((await fetch(`${running.temporalUiUrl}/`)).status).toBe(200);
    const refund = await post({ tool: 'refund_order', arguments: { order_id: 'A-1003', amount_cents: 42, reason: 'restart test' } }, 'restart-1');
    expect(refund.status).toBe(202);
    const done = await (await fetch(`${running.apiUrl}/v1/tool-calls/restart-1?wait=20000`, { headers: { authorization: `Bearer ${token}` } })).json();
    expect(done).toMatchObject({ status: 'ok', data: { amount_cents: 42 } });
    await running.stop();
    expect(await portOpen(Number(env.TEMPORAL_DEV_PORT))).toBe(false);

    // Start again on the same data directory: Temporal's history and the store survived.
    running = await startHoldline({ env, logger, tools: supportDesk });
    try {
      const again = await post({ tool: 'refund_order', arguments: { order_id: 'A-1003', amount_cents: 42, reason: 'restart test' } }, 'restart-1');
      expect(again.status).toBe(200);
      expect(await again.json()).toEqual(done);
      const order = (await (await post({ tool: 'lookup_order', arguments: { order_id: 'A-1003' } }, 'restart-lookup')).json()) as { data: { refunded_cents: number } };
      expect(order.data.refunded_cents).toBe(42);
    } finally {
      await running.stop();
    }
  }, 120_000);
});

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
