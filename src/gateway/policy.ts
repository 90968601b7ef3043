import { GatewayRejection } from './rejection';

/**
 * Per-tenant token bucket. In memory, per server process: with N servers a
 * tenant gets up to N× the rate. `limits/` holds the cluster-wide one (Redis),
 * which falls back to this while Redis is unreachable.
 */
export class TenantRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; updatedAt: number }>();
  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {}

  take(tenantId: string): void {
    const now = this.now();
    const bucket = this.buckets.get(tenantId) ?? { tokens: this.burst, updatedAt: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.updatedAt) / 1000) * this.ratePerSec);
    bucket.updatedAt = now;
    this.buckets.set(tenantId, bucket);
    if (bucket.tokens < 1) {
      throw tenantRateLimited(Math.ceil(((1 - bucket.tokens) / this.ratePerSec) * 1000));
    }
    bucket.tokens -= 1;
  }

  /** Gives back a token taken for a call that turned out to be a duplicate: attaching costs nothing. */
  refund(tenantId: string): void {
    const bucket = this.buckets.get(tenantId);
    if (bucket) bucket.tokens = Math.min(this.burst, bucket.tokens + 1);
  }
}

/** Caps the calls one session has running at once, so one conversation cannot flood the tools. */
export class SessionInFlightLimiter {
  private readonly inFlight = new Map<string, number>();
  constructor(private readonly max: number) {}

  /** Reserves a slot; the returned function releases it (once). */
  acquire(sessionKey: string): () => void {
    const current = this.inFlight.get(sessionKey) ?? 0;
    if (current >= this.max) {
      throw sessionFull(current);
    }
    this.inFlight.set(sessionKey, current + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.inFlight.get(sessionKey) ?? 1) - 1;
      if (left <= 0) this.inFlight.delete(sessionKey);
      else this.inFlight.set(sessionKey, left);
    };
  }

  total(): number {
    let sum = 0;
    for (const n of this.inFlight.values()) sum += n;
    return sum;
  }
}

/** The refusal of a call over its tenant's rate, wherever the bucket lives. */
export function tenantRateLimited(retryAfterMs: number): GatewayRejection {
  return new GatewayRejection('RATE_LIMITED', `Too many calls for this tenant; retry in ${retryAfterMs} ms`, { retryAfterMs });
}

/** The refusal of a call over its session's in-flight cap, wherever the slots live. */
export function sessionFull(running: number): GatewayRejection {
  return new GatewayRejection('RATE_LIMITED', `This session already has ${running} tool calls running; wait for one to finish`);
}
