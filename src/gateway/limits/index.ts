import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { GatewayMetrics } from '../metrics';
import { DEFAULT_DECISION_TIMEOUT_MS, FallbackGuard, FallbackSessionInFlightLimit, FallbackTenantRateLimit } from './fallback';
import { MemorySessionInFlightLimit, MemoryTenantRateLimit } from './memory';
import type { Limiters } from './limit';
import { RedisSessionInFlightLimit, RedisTenantRateLimit } from './redis';

export type { GiveBack, Limiters, SessionInFlightLimit, TenantRateLimit } from './limit';

export interface LimitSettings {
  tenantRatePerSec: number;
  tenantBurst: number;
  sessionMaxInFlight: number;
}

export interface SharedLimitsOptions {
  /** A connection that fails fast while Redis is down (see `openRedis`); the caller owns and closes it. */
  redis: Redis;
  metrics: GatewayMetrics;
  logger: Logger;
  /** How long one decision may wait for Redis before it is made in memory. Default 50 ms. */
  decisionTimeoutMs?: number;
}

/**
 * The gateway's limits: per process in memory, or cluster-wide in Redis when
 * one is given, each Redis decision falling back to this process's memory
 * while Redis does not answer.
 */
export function limitersOf(settings: LimitSettings, shared?: SharedLimitsOptions): Limiters {
  const memory: Limiters = {
    rate: new MemoryTenantRateLimit(settings.tenantRatePerSec, settings.tenantBurst),
    inFlight: new MemorySessionInFlightLimit(settings.sessionMaxInFlight),
  };
  if (!shared) return memory;
  const guard = (limit: 'tenant_rate' | 'session_in_flight') =>
    new FallbackGuard(limit, {
      timeoutMs: shared.decisionTimeoutMs ?? DEFAULT_DECISION_TIMEOUT_MS,
      logger: shared.logger,
      onFallback: () => shared.metrics.limiterFallbacks.inc({ limit }),
    });
  return {
    rate: new FallbackTenantRateLimit(new RedisTenantRateLimit(shared.redis, settings.tenantRatePerSec, settings.tenantBurst), memory.rate, guard('tenant_rate')),
    inFlight: new FallbackSessionInFlightLimit(new RedisSessionInFlightLimit(shared.redis, settings.sessionMaxInFlight), memory.inFlight, guard('session_in_flight')),
  };
}

export { MemorySessionInFlightLimit, MemoryTenantRateLimit } from './memory';
export { RedisSessionInFlightLimit, RedisTenantRateLimit, LIMIT_KEY_PREFIX } from './redis';
export { DEFAULT_DECISION_TIMEOUT_MS, FallbackGuard, FallbackSessionInFlightLimit, FallbackTenantRateLimit } from './fallback';
