import { connect, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { freshKey, startHarness, type Harness } from '../support/harness';
import { waitFor } from '../support/wait';

/**
 * Clients that open a call's event stream and never read it. Whatever they
 * do, the server's memory stays bounded and everyone else keeps being served.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ refundTimings: { stageMs: 200, progressEveryMs: 20 } });
});
afterAll(() => h.stop());

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Sends the request and pauses: the socket is never read, so the server's writes pile up against it. */
function neverReading(port: number, path: string, token: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nAccept: text/event-stream\r\n\r\n`);
      socket.pause();
      resolve(socket);
    });
    socket.on('error', reject);
  });
}

const READERS = 200;

describe('slow readers on GET /v1/tool-calls/:id/events', () => {
  it(`keep memory bounded with ${READERS} streams that are never read, while others are served`, async () => {
    const token = await h.token();
    const port = Number(new URL(h.url).port);
    // A refund reports progress every 20 ms for a second or more: a stream with plenty to say.
    const key = freshKey('slow');
    const accepted = await h.call('refund_order', { order_id: 'A-1002', amount_cents: 100, reason: 'slow reader test' }, { key });
    expect(accepted.status).toBe(202);

    const baseline = heapUsed();
    const sockets = await Promise.all(Array.from({ length: READERS }, () => neverReading(port, `/v1/tool-calls/${key}/events`, token)));
    try {
      // Everyone else is served meanwhile: health, a fresh call, a long poll on the same call.
      const started = Date.now();
      const health = await fetch(`${h.url}/healthz`);
      expect(health.status).toBe(200);
      // The event loop is not held up by the readers (a loaded CI machine still answers this within a second).
      expect(Date.now() - started).toBeLessThan(1_000);
      // A fast tool still answers within its ack window: 200, not a 202.
      const lookup = await h.call('lookup_order', { order_id: 'A-1001' }, { token: await h.token({ user: 'bob' }) });
      expect(lookup.status).toBe(200);
      const final = await h.get(`/v1/tool-calls/${key}?wait=20000`);
      expect(final.body).toMatchObject({ status: 'ok' });

      const grown = heapUsed() - baseline;
      // Each stream holds a few kilobytes of events at most; 200 of them stay far below this.
      expect(grown).toBeLessThan(32 * 1024 * 1024);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
    // Once the readers are gone, the server holds nothing for them.
    await waitFor(async () => (await h.get('/healthz')).status === 200, 5_000, 'healthz');
  }, 60_000);

  it('serves a reader that reads, while the others do not', async () => {
    const token = await h.token();
    const port = Number(new URL(h.url).port);
    const key = freshKey('slow');
    await h.call('refund_order', { order_id: 'A-1003', amount_cents: 100, reason: 'mixed readers test' }, { key });
    const sockets = await Promise.all(Array.from({ length: 50 }, () => neverReading(port, `/v1/tool-calls/${key}/events`, token)));
    try {
      const response = await fetch(`${h.url}/v1/tool-calls/${key}/events`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(20_000) });
      const text = await response.text();
      expect(text).toContain('event: accepted');
      expect(text).toMatch(/event: (completed|failed)/);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  }, 60_000);
});
