import { SessionInFlightLimiter, TenantRateLimiter } from '../policy';
import type { GiveBack, SessionInFlightLimit, TenantRateLimit } from './limit';

/** The tenant bucket of this process alone: with N servers a tenant gets up to N× its rate. */
export class MemoryTenantRateLimit implements TenantRateLimit {
  private readonly limiter: TenantRateLimiter;
  constructor(ratePerSec: number, burst: number, now?: () => number) {
    this.limiter = new TenantRateLimiter(ratePerSec, burst, now);
  }

  async take(tenantId: string): Promise<GiveBack> {
    this.limiter.take(tenantId);
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.limiter.refund(tenantId);
    };
  }
}

/** Session slots of this process alone: a session spread over N servers may run up to N× its cap. */
export class MemorySessionInFlightLimit implements SessionInFlightLimit {
  private readonly limiter: SessionInFlightLimiter;
  constructor(max: number) {
    this.limiter = new SessionInFlightLimiter(max);
  }

  /** The lease is not needed here: the process that holds a slot is the one that would forget it. */
  async acquire(sessionKey: string, _leaseMs: number): Promise<GiveBack> {
    return this.limiter.acquire(sessionKey);
  }

  total(): number {
    return this.limiter.total();
  }
}
