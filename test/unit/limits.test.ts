import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import pino from 'pino';
import { startLocalRedis, type LocalRedis } from '../../src/cluster/redis-server';
import { limitersOf, LIMIT_KEY_PREFIX, RedisSessionInFlightLimit, RedisTenantRateLimit, type GiveBack, type Limiters } from '../../src/gateway/limits';
import { GatewayMetrics } from '../../src/gateway/metrics';
import { GatewayRejection } from '../../src/gateway/rejection';
import { openRedis, redisReady } from '../../src/runtime/redis';
import { freePort } from '../support/ports';
import { waitFor } from '../support/wait';

let redis: LocalRedis;
let dir: string;
const connections: Redis[] = [];
let run = 0;

/** A connection as the server opens it: failing fast while Redis is down. */
function connect(url = redis.url): Redis {
  const connection = openRedis(url, 'limits-test', pino({ level: 'silent' }));
  connections.push(connection);
  return connection;
}

/** A connection that is up: until then, commands fail (and a limit would decide in memory). */
async function connected(): Promise<Redis> {
  const connection = connect();
  await redisReady(connection);
  return connection;
}

/** A name no other test uses, so tests share one Redis without sharing buckets. */
function fresh(prefix: string): string {
  return `${prefix}-${++run}-${Date.now()}`;
}

async function refusal(pending: Promise<unknown>): Promise<GatewayRejection> {
  try {
    await pending;
  } catch (error) {
    if (error instanceof GatewayRejection) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

async function outcomes(attempts: Promise<GiveBack>[]): Promise<{ granted: number; refused: GatewayRejection[] }> {
  const settled = await Promise.allSettled(attempts);
  const refused = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as GatewayRejection] : []));
  for (const reason of refused) expect(reason).toBeInstanceOf(GatewayRejection);
  return { granted: settled.filter((s) => s.status === 'fulfilled').length, refused };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'holdline-limits-'));
  redis = await startLocalRedis({ port: await freePort(), dir });
}, 20_000);

afterAll(async () => {
  for (const connection of connections) connection.disconnect();
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('tenant rate in Redis', () => {
  it('grants exactly the burst to parallel takes from two servers, and says when to retry', async () => {
    const tenant = fresh('burst');
    const a = new RedisTenantRateLimit(await connected(), 1, 5);
    const b = new RedisTenantRateLimit(await connected(), 1, 5);
    const { granted, refused } = await outcomes(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).take(tenant)));
    expect(granted).toBe(5);
    expect(refused).toHaveLength(35);
    for (const r of refused) {
      expect(r.code).toBe('RATE_LIMITED');
      expect(r.retryAfterMs).toBeGreaterThan(0);
      expect(r.retryAfterMs).toBeLessThanOrEqual(1_000);
    }
  }, 10_000);

  it('refills at its rate', async () => {
    const tenant = fresh('refill');
    const limit = new RedisTenantRateLimit(await connected(), 10, 2);
    await limit.take(tenant);
    await limit.take(tenant);
    const refused = await refusal(limit.take(tenant));
    expect(refused.retryAfterMs).toBeLessThanOrEqual(100);
    const before = Date.now();
    await waitFor(
      () => limit.take(tenant).then(() => true, () => false),
      2_000,
      'a refilled token',
    );
    // One token every 100 ms: not much sooner than the retry-after said.
    expect(Date.now() - before).toBeGreaterThanOrEqual(refused.retryAfterMs! - 30);
  }, 10_000);

  it('takes a refunded token back once, however often the refund is called', async () => {
    const tenant = fresh('refund');
    const limit = new RedisTenantRateLimit(await connected(), 0.001, 2);
    const first = await limit.take(tenant);
    await limit.take(tenant);
    await refusal(limit.take(tenant));
    first();
    first();
    await waitFor(
      () => limit.take(tenant).then(() => true, () => false),
      2_000,
      'the refunded token',
    );
    await refusal(limit.take(tenant));
  }, 10_000);

  it('keeps its keys under holdline:limit: and lets a full bucket expire', async () => {
    const tenant = fresh('keys');
    const connection = await connected();
    await new RedisTenantRateLimit(connection, 1_000, 2).take(tenant);
    const key = `${LIMIT_KEY_PREFIX}tenant:${tenant}`;
    expect(await connection.exists(key)).toBe(1);
    const ttl = await connection.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1_002);
  });
});

describe('session in-flight cap in Redis', () => {
  it('holds the cap across two servers and frees a slot on release', async () => {
    const session = fresh('acme/s');
    const a = new RedisSessionInFlightLimit(await connected(), 2);
    const b = new RedisSessionInFlightLimit(await connected(), 2);
    const { granted, refused } = await outcomes(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).acquire(session, 60_000)));
    expect(granted).toBe(2);
    expect(refused[0]!.message).toContain('already has 2 tool calls running');

    const other = fresh('acme/other');
    const release = await a.acquire(other, 60_000);
    await b.acquire(other, 60_000);
    await refusal(b.acquire(other, 60_000));
    release();
    await waitFor(
      () => b.acquire(other, 60_000).then(() => true, () => false),
      2_000,
      'the released slot',
    );
  }, 10_000);

  it('frees the slot of a server that never released it once its lease ends', async () => {
    const session = fresh('acme/killed');
    const dead = new RedisSessionInFlightLimit(await connected(), 1);
    const alive = new RedisSessionInFlightLimit(await connected(), 1);
    const leasedAt = Date.now();
    await dead.acquire(session, 300);
    await refusal(alive.acquire(session, 60_000));
    await waitFor(
      () => alive.acquire(session, 60_000).then(() => true, () => false),
      3_000,
      'the expired slot',
    );
    expect(Date.now() - leasedAt).toBeGreaterThanOrEqual(290);
  }, 10_000);

  it('releases a slot once however often release is called', async () => {
    const session = fresh('acme/twice');
    const limit = new RedisSessionInFlightLimit(await connected(), 2);
    const first = await limit.acquire(session, 60_000);
    await limit.acquire(session, 60_000);
    first();
    first();
    await waitFor(
      () => limit.acquire(session, 60_000).then(() => true, () => false),
      2_000,
      'the released slot',
    );
    // Two slots held again: the second release freed nothing more.
    await refusal(limit.acquire(session, 60_000));
  }, 10_000);
});

describe('while Redis does not answer', () => {
  function observed(url: string) {
    const lines: Record<string, unknown>[] = [];
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
          done();
        },
      }),
    );
    const metrics = new GatewayMetrics({ processMetrics: false });
    const connection = connect(url);
    const limiters: Limiters = limitersOf({ tenantRatePerSec: 0.001, tenantBurst: 1, sessionMaxInFlight: 1 }, { redis: connection, metrics, logger });
    const fallbacks = async (limit: string) => (await metrics.limiterFallbacks.get()).values.find((v) => v.labels.limit === limit)?.value ?? 0;
    return { connection, lines, limiters, fallbacks };
  }

  it('decides in memory at once when Redis refuses connections, warns once and counts each decision', async () => {
    const { lines, limiters, fallbacks } = observed(`redis://127.0.0.1:${await freePort()}`);
    const started = Date.now();
    await limiters.rate.take('t');
    await refusal(limiters.rate.take('t'));
    await limiters.inFlight.acquire('t/s', 60_000);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(await fallbacks('tenant_rate')).toBe(2);
    expect(await fallbacks('session_in_flight')).toBe(1);
    const warnings = lines.filter((l) => String(l.msg).includes('enforced per server process'));
    expect(warnings.map((l) => l.limit)).toEqual(['tenant_rate', 'session_in_flight']);
  }, 10_000);

  it('bounds a decision while Redis hangs, gives back a grant that comes late, and says when Redis answers again', async () => {
    const { connection, lines, limiters, fallbacks } = observed(redis.url);
    const tenant = fresh('hang');
    await redisReady(connection);
    await limiters.rate.take(fresh('shared'));
    expect(await fallbacks('tenant_rate')).toBe(0);

    process.kill(redis.pid, 'SIGSTOP');
    let resumed = false;
    try {
      const started = Date.now();
      await limiters.rate.take(tenant); // in memory: Redis is stopped
      expect(Date.now() - started).toBeLessThan(500);
      expect(await fallbacks('tenant_rate')).toBe(1);
      process.kill(redis.pid, 'SIGCONT');
      resumed = true;
    } finally {
      if (!resumed) process.kill(redis.pid, 'SIGCONT');
    }
    // Redis ran the take late; it was given back, so the tenant's one token is still there.
    await waitFor(() => lines.some((l) => String(l.msg).includes('per server process')), 1_000, 'the outage warning');
    await waitFor(
      () => limiters.rate.take(tenant).then(() => true, () => false),
      3_000,
      'the late token given back',
    );
    expect(lines.filter((l) => String(l.msg).includes('holds across servers again')).map((l) => l.limit)).toEqual(['tenant_rate']);
    // The bucket is Redis's again: one token, now taken.
    await refusal(limiters.rate.take(tenant));
  }, 15_000);
});
