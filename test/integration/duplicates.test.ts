import { startHarness, freshKey, type Harness } from '../support/harness';

// Holdline's default limits, not the raised ones other tests use: a duplicate must attach whatever they are.
const DEFAULT_LIMITS = { sessionMaxInFlight: 8, tenantRatePerSec: 50, tenantBurst: 100 };

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ limits: DEFAULT_LIMITS, refundTimings: { stageMs: 300, progressEveryMs: 100 } });
});
afterAll(() => h.stop());

const refund = { order_id: 'A-1005', amount_cents: 10, reason: 'duplicate storm' };

async function storm(count: number) {
  const key = freshKey(`storm-${count}`);
  const answers = await Promise.all(Array.from({ length: count }, () => h.call('refund_order', refund, { key })));
  return { key, answers };
}

describe('duplicates under the default limits', () => {
  it.each([20, 1_000])('gives all %i concurrent duplicates the one call, and runs it once', async (count) => {
    const { key, answers } = await storm(count);
    const statuses = new Set(answers.map((a) => a.status));
    expect([...statuses].every((s) => s === 200 || s === 202)).toBe(true);
    expect(new Set(answers.map((a) => a.body.workflow_id))).toEqual(new Set([`acme/alice/${key}`]));
    expect(new Set(answers.map((a) => a.body.trace_id)).size).toBe(1);
    const final = await h.get(`/v1/tool-calls/${key}?wait=20000`);
    expect(final.body).toMatchObject({ status: 'ok', data: { amount_cents: 10 } });
    expect(h.store.countProviderRefunds({ idempotencyKey: `acme/alice/${key}` })).toBe(1);
  }, 60_000);

  it('attaches a duplicate while its session has no free slot, and refuses a new call there', async () => {
    const session = `full-${freshKey()}`.slice(0, 60);
    const keys = Array.from({ length: 8 }, () => freshKey('slot'));
    const running = await Promise.all(keys.map((key, i) => h.call('sleepy_tool', { label: `slot-${i}`, ms: 1_200 }, { key, session })));
    expect(running.map((a) => a.status)).toEqual(Array(8).fill(202));

    const duplicate = await h.call('sleepy_tool', { label: 'slot-0', ms: 1_200 }, { key: keys[0]!, session });
    expect(duplicate.status).toBe(202);
    expect(duplicate.body.trace_id).toBe(running[0]!.body.trace_id);

    const fresh = await h.call('sleepy_tool', { label: 'one-too-many', ms: 1_200 }, { key: freshKey('slot'), session });
    expect(fresh.status).toBe(429);
    expect(fresh.body).toMatchObject({ error_code: 'RATE_LIMITED', retryable: true });
    await Promise.all(keys.map((key) => h.get(`/v1/tool-calls/${key}?wait=20000`)));
  }, 60_000);

  it('does not charge a duplicate of a finished call against the tenant rate', async () => {
    const key = freshKey('rate');
    expect((await h.call('lookup_order', { order_id: 'A-1001' }, { key })).status).toBe(200);
    // Drain the tenant's bucket with new calls (no key: each one is new).
    const drained = await Promise.all(Array.from({ length: 150 }, () => h.call('lookup_order', { order_id: 'A-1002' }, { token: undefined })));
    expect(drained.some((a) => a.status === 429)).toBe(true);
    const again = await h.call('lookup_order', { order_id: 'A-1001' }, { key });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ status: 'ok', data: { order_id: 'A-1001' } });
  }, 60_000);
});
