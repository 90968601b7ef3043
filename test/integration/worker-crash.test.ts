import { startHarness, freshKey, type Harness } from '../support/harness';
import { readEvents } from '../support/sse';
import { waitFor } from '../support/wait';
import { startWorkerProcess, stopWorkerProcess } from '../support/worker-control';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ withoutWorker: true });
});
afterAll(() => h.stop());

const startWorker = () => startWorkerProcess({ taskQueue: h.taskQueue, storePath: h.storePath, refundStageMs: 400 });

describe('a worker killed during a refund', () => {
  it('gives one refund and one envelope once a worker runs again', async () => {
    const first = await startWorker();
    const key = freshKey('crash');
    const workflowKey = `acme/alice/${key}`;
    const before = h.store.findOrder('acme', 'A-1003')!.refunded_cents;
    const answer = await h.call('refund_order', { order_id: 'A-1003', amount_cents: 700, reason: 'worker crash test' }, { key });
    expect(answer.status).toBe(202);
    const events = readEvents(`${h.url}/v1/tool-calls/${key}/events`, await h.token(), 50_000);

    // Kill it after the provider moved the money but before the refund is recorded.
    await waitFor(() => h.store.countProviderRefunds({ idempotencyKey: workflowKey }) === 1, 15_000, 'provider refund');
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    expect(h.store.findRefund('acme', workflowKey)).toBeUndefined();

    const second = await startWorker();
    try {
      const final = await h.get(`/v1/tool-calls/${key}?wait=30000`);
      expect(final.body).toMatchObject({ status: 'ok', data: { amount_cents: 700 } });
      expect(final.body.attempts).toBeGreaterThanOrEqual(2);
      expect(h.store.countProviderRefunds({ idempotencyKey: workflowKey })).toBe(1);
      expect(h.store.findOrder('acme', 'A-1003')!.refunded_cents).toBe(before + 700);

      const received = await events;
      const terminal = received.filter((e) => ['completed', 'failed', 'cancelled'].includes(e.event));
      expect(terminal.map((e) => e.event)).toEqual(['completed']);
    } finally {
      await stopWorkerProcess(second);
    }
  }, 90_000);
});
