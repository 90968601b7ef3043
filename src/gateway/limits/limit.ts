/** Gives back what a limit granted. Safe to call more than once; never throws, never waits. */
export type GiveBack = () => void;

/** Per-tenant rate: a token per call that starts. */
export interface TenantRateLimit {
  /** Takes a token; resolves with its refund (a duplicate costs nothing), or rejects with RATE_LIMITED and a retry-after. */
  take(tenantId: string): Promise<GiveBack>;
}

/** Per-session cap on calls running at once. */
export interface SessionInFlightLimit {
  /**
   * Reserves a slot; resolves with its release, or rejects with RATE_LIMITED.
   * `leaseMs` bounds how long a slot outlives a server that dies without
   * releasing it (where slots are shared); in one process it is not needed.
   */
  acquire(sessionKey: string, leaseMs: number): Promise<GiveBack>;
}

export interface Limiters {
  rate: TenantRateLimit;
  inFlight: SessionInFlightLimit;
}
