import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { sessionFull, tenantRateLimited } from '../policy';
import type { GiveBack, SessionInFlightLimit, TenantRateLimit } from './limit';

/** Every key the limits write starts with this, so they never collide with progress or anything else in the same Redis. */
export const LIMIT_KEY_PREFIX = 'holdline:limit:';

/**
 * The same token bucket as the in-memory one (continuous refill, retry-after
 * from the deficit), made atomic by running in Redis. Redis's own clock keeps
 * servers with skewed clocks on one bucket. A full bucket is the same as no
 * bucket, so the key expires once it would have refilled.
 * KEYS[1] bucket; ARGV rate per second, burst, cost (1 to take, -1 to refund).
 * Returns 0 when taken (or refunded), else the milliseconds until a token.
 */
const TOKEN_BUCKET = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local wait = 0
if cost > 0 and tokens < cost then
  wait = math.ceil((cost - tokens) * 1000 / rate)
else
  tokens = math.min(burst, tokens - cost)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return wait
`;

/**
 * A session's running calls as a sorted set of slot ids scored by when their
 * lease ends. Slots whose lease ended are dropped before counting, so the slots
 * of a server killed before it could release them free themselves.
 * KEYS[1] slots; ARGV max, slot id, lease ms. Returns {1, running} when the
 * slot was added, {0, running} when the session is full.
 */
const SLOTS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local running = redis.call('ZCARD', KEYS[1])
if running >= tonumber(ARGV[1]) then
  return {0, running}
end
local lease = tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], now + lease, ARGV[2])
if redis.call('PTTL', KEYS[1]) < lease then
  redis.call('PEXPIRE', KEYS[1], lease)
end
return {1, running + 1}
`;

/** A Lua script run by its hash, loaded on first use (and again after Redis restarts empty). */
class LuaScript {
  private readonly sha: string;
  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith('NOSCRIPT'))) throw error;
      return redis.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

const tokenBucket = new LuaScript(TOKEN_BUCKET);
const slots = new LuaScript(SLOTS);

/** Runs `give` once, however often the returned function is called. */
function once(give: () => void): GiveBack {
  let given = false;
  return () => {
    if (given) return;
    given = true;
    give();
  };
}

/**
 * A tenant's token bucket shared by every server. Redis errors reject as they
 * come (the caller decides what an unreachable Redis means); a refund that
 * cannot reach Redis is dropped: the bucket refills anyway.
 */
export class RedisTenantRateLimit implements TenantRateLimit {
  constructor(
    private readonly redis: Redis,
    private readonly ratePerSec: number,
    private readonly burst: number,
  ) {
    if (!(ratePerSec > 0 && burst >= 1)) throw new Error('a tenant rate needs a positive rate and a burst of at least 1');
  }

  async take(tenantId: string): Promise<GiveBack> {
    const key = `${LIMIT_KEY_PREFIX}tenant:${tenantId}`;
    const wait = Number(await tokenBucket.run(this.redis, [key], [this.ratePerSec, this.burst, 1]));
    if (wait > 0) throw tenantRateLimited(wait);
    return once(() => {
      tokenBucket.run(this.redis, [key], [this.ratePerSec, this.burst, -1]).catch(() => undefined);
    });
  }
}

/**
 * A session's in-flight cap shared by every server. A release that cannot
 * reach Redis leaves the slot to its lease.
 */
export class RedisSessionInFlightLimit implements SessionInFlightLimit {
  constructor(
    private readonly redis: Redis,
    private readonly max: number,
  ) {
    if (!(max >= 1)) throw new Error('a session in-flight cap must be at least 1');
  }

  async acquire(sessionKey: string, leaseMs: number): Promise<GiveBack> {
    const key = `${LIMIT_KEY_PREFIX}session:${sessionKey}`;
    const slot = randomUUID();
    const [added, running] = (await slots.run(this.redis, [key], [this.max, slot, Math.max(1, Math.ceil(leaseMs))])) as [number, number];
    if (added !== 1) throw sessionFull(running);
    return once(() => {
      this.redis.zrem(key, slot).catch(() => undefined);
    });
  }
}
