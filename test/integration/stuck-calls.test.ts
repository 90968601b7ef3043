import { startHarness, freshKey, type Harness } from '../support/harness';

/** No worker polls this harness's task queue: every call it starts is stuck. */
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ withoutWorker: true, executionMarginMs: 1_000, limits: { sessionMaxInFlight: 1 } });
});
afterAll(() => h.stop());

describe('a call that no worker ever runs', () => {
  it('still ends in TIMEOUT once its budget and margin pass, and frees its in-flight slot', async () => {
    const session = 'stuck-session';
    const key = freshKey('stuck');
    const started = Date.now();
    // sleepy_tool: 1.5 s budget, 1.5 s attempt, so its workflow times out after 1.5 + 1.5 + 1 s.
    const accepted = await h.call('sleepy_tool', { label: 'stuck', ms: 100 }, { key, session });
    expect(accepted.status).toBe(202);
    expect((await h.call('sleepy_tool', { label: 'blocked', ms: 100 }, { key: freshKey('stuck'), session })).status).toBe(429);

    const final = await h.get(`/v1/tool-calls/${key}?wait=20000`);
    expect(final.body).toMatchObject({ status: 'error', error_code: 'TIMEOUT', retryable: true, call_id: key });
    expect(Date.now() - started).toBeGreaterThanOrEqual(3_500);
    expect(Date.now() - started).toBeLessThan(15_000);

    // The slot is free again: the session can place a new call.
    const next = await h.call('sleepy_tool', { label: 'after', ms: 100 }, { key: freshKey('stuck'), session });
    expect(next.status).toBe(202);
  }, 40_000);
});
