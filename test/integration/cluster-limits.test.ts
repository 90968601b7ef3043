import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startLocalRedis, type LocalRedis } from '../../src/cluster/redis-server';
import { freshKey, startHarness, type Harness, type HttpAnswer } from '../support/harness';
import { freePort } from '../support/ports';
import { waitFor } from '../support/wait';

// Two servers on one task queue (one worker), sharing one Redis. The rate is so slow that no token refills during a test.
const LIMITS = { sessionMaxInFlight: 2, tenantRatePerSec: 0.05, tenantBurst: 6 };

let dir: string;
let redis: LocalRedis;
let a: Harness;
let b: Harness;

const accepted = (answer: HttpAnswer) => answer.status === 200 || answer.status === 202;

async function call(h: Harness, tenant: string, session: string, ms = 50): Promise<HttpAnswer> {
  return h.call('sleepy_tool', { label: session, ms }, { key: freshKey('lim'), session, token: await h.token({ tenant }) });
}

function logged(h: Harness, words: string): boolean {
  return h.logs.some((line) => String(line.msg).includes(words));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'holdline-cluster-limits-'));
  redis = await startLocalRedis({ port: await freePort(), dir });
  a = await startHarness({ redisUrl: redis.url, limits: LIMITS });
  b = await startHarness({ redisUrl: redis.url, limits: LIMITS, taskQueue: a.taskQueue, withoutWorker: true });
  // Both servers' limit connections are up: until then a decision is made in memory.
  const watcher = new Redis(redis.url);
  try {
    await waitFor(async () => ((await watcher.client('LIST')) as string).split('\n').filter((l) => l.includes('name=holdline-limits')).length === 2, 10_000, 'both limit connections');
  } finally {
    watcher.disconnect();
  }
}, 60_000);

afterAll(async () => {
  await b?.stop();
  await a?.stop();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('limits across two servers sharing Redis', () => {
  it('grants a tenant its burst once in total, not once per server, and refuses the rest with Retry-After', async () => {
    const tenant = 'rate-co';
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => call(i % 2 ? a : b, tenant, `rate-${i}`)));
    expect(answers.filter(accepted)).toHaveLength(LIMITS.tenantBurst);
    const refused = answers.filter((answer) => !accepted(answer));
    expect(refused).toHaveLength(10 - LIMITS.tenantBurst);
    for (const answer of refused) {
      expect(answer.status).toBe(429);
      expect(answer.body).toMatchObject({ status: 'error', error_code: 'RATE_LIMITED' });
      expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    // Both servers took part in granting and refusing.
    expect(answers.filter((answer, i) => i % 2 === 1 && accepted(answer)).length).toBeGreaterThan(0);
    expect(answers.filter((answer, i) => i % 2 === 0 && accepted(answer)).length).toBeGreaterThan(0);
  }, 30_000);

  it("holds a session's in-flight cap across servers and admits again once a call finishes", async () => {
    const tenant = 'slots-co';
    const session = `conv-${freshKey()}`.slice(0, 60);
    const first = await call(a, tenant, session, 1_200);
    const second = await call(b, tenant, session, 1_200);
    expect([first.status, second.status]).toEqual([202, 202]);
    for (const h of [a, b]) {
      const full = await call(h, tenant, session);
      expect(full.status).toBe(429);
      expect(full.body).toMatchObject({ error_code: 'RATE_LIMITED' });
      expect(full.body.message).toContain('already has 2 tool calls running');
    }
    let later: HttpAnswer | undefined;
    await waitFor(
      async () => {
        later = await call(b, tenant, session);
        return accepted(later);
      },
      10_000,
      'a free slot after a call finished',
    );
    const done = await a.get(`/v1/tool-calls/${first.body.call_id}?wait=10000`, await a.token({ tenant }));
    expect(done.body).toMatchObject({ status: 'ok' });
  }, 30_000);

  it('serves calls on both servers while Redis is down, says so, and counts the fallbacks', async () => {
    await redis.stop();
    const tenant = 'down-co';
    const started = Date.now();
    const answers = await Promise.all([call(a, tenant, 'down-1'), call(b, tenant, 'down-2'), call(a, tenant, 'down-3')]);
    expect(answers.map((answer) => answer.status)).toEqual([202, 202, 202]);
    expect(Date.now() - started).toBeLessThan(5_000);
    for (const h of [a, b]) {
      await waitFor(() => logged(h, 'enforced per server process'), 2_000, 'the fallback warning');
      const metrics = await h.get('/metrics');
      expect(String(metrics.body)).toMatch(/holdline_limiter_fallbacks_total\{limit="tenant_rate"\} [1-9]/);
      expect(String(metrics.body)).toMatch(/holdline_limiter_fallbacks_total\{limit="session_in_flight"\} [1-9]/);
    }
    // Warned once per outage and limit, however many calls fell back.
    expect(a.logs.filter((line) => String(line.msg).includes('enforced per server process')).map((line) => line.limit).sort()).toEqual(['session_in_flight', 'tenant_rate']);
  }, 30_000);
});
