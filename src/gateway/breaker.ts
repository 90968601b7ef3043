import { GatewayRejection } from './rejection';

/** `recovering`: the probe succeeded and traffic is being let back in gradually. */
export type BreakerState = 'closed' | 'open' | 'half_open' | 'recovering';

export interface BreakerOptions {
  /** Consecutive backend failures that open the breaker. */
  failureThreshold: number;
  /** How long it stays open before one probe may try. */
  cooldownMs: number;
  /**
   * After a successful probe, how long admission ramps from `minRecoveryShare`
   * of new calls to all of them. Default: 5 × `cooldownMs`.
   */
  recoveryRampMs?: number;
  /** The share of new calls admitted the moment recovery begins. Default 0.1. */
  minRecoveryShare?: number;
  /** Checks the backend without risking a caller's call; resolves when it answers. */
  probe: () => Promise<void>;
  onStateChange?: (state: BreakerState) => void;
  now?: () => number;
  /** Uniform in [0, 1); injectable so tests are deterministic. */
  random?: () => number;
}

/**
 * Stops sending calls to a Temporal that is not answering, so callers get
 * BACKEND_UNAVAILABLE at once instead of each waiting out a deadline. After
 * the cooldown one probe checks the backend; when it answers, new calls are
 * admitted gradually over the recovery ramp, so a backlog of retrying callers
 * does not arrive all at once at a server that just came back.
 *
 * Only failures that mean "Temporal did not answer" count: throttling is
 * backpressure, not an outage, and never trips the breaker.
 *
 * Not on cockatiel, as the per-tool breakers are (tool-breakers.ts): its
 * half-open state lets one caller's call through as the probe and closes at
 * once, while this one probes with a ping that risks no call and then ramps
 * admission up gradually, which cockatiel's breaker has no place for.
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private recoveringSince = 0;
  private probing: Promise<boolean> | undefined;
  private current: BreakerState = 'closed';

  constructor(private readonly options: BreakerOptions) {}

  get state(): BreakerState {
    if (this.current === 'recovering' && this.recoveryShare() >= 1) this.setState('closed');
    return this.current;
  }

  /** Throws BACKEND_UNAVAILABLE while the backend is known to be down, and for the calls the recovery ramp holds back. */
  async admit(): Promise<void> {
    const state = this.state;
    if (state === 'closed') return;
    if (state === 'open') {
      const waited = this.now() - this.openedAt;
      if (waited < this.options.cooldownMs) throw unavailable(this.options.cooldownMs - waited);
    }
    if (state !== 'recovering') {
      this.probing ??= this.runProbe();
      if (!(await this.probing)) throw unavailable(this.options.cooldownMs);
    }
    const share = this.recoveryShare();
    if (share < 1 && (this.options.random ?? Math.random)() >= share) throw unavailable(1_000, 'Holdline is letting calls back in gradually after an outage; try again shortly');
  }

  recordSuccess(): void {
    this.failures = 0;
  }

  recordFailure(): void {
    this.failures += 1;
    if (this.failures >= this.options.failureThreshold) this.open();
  }

  private open(): void {
    this.openedAt = this.now();
    this.setState('open');
  }

  private async runProbe(): Promise<boolean> {
    this.setState('half_open');
    try {
      await this.options.probe();
      this.failures = 0;
      this.recoveringSince = this.now();
      this.setState('recovering');
      return true;
    } catch {
      this.open();
      return false;
    } finally {
      this.probing = undefined;
    }
  }

  /** The share of new calls admitted now: 1 unless recovering. */
  private recoveryShare(): number {
    if (this.current !== 'recovering') return 1;
    const rampMs = this.options.recoveryRampMs ?? 5 * this.options.cooldownMs;
    const min = this.options.minRecoveryShare ?? 0.1;
    const elapsed = this.now() - this.recoveringSince;
    return elapsed >= rampMs ? 1 : min + ((1 - min) * elapsed) / rampMs;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private setState(state: BreakerState): void {
    if (state === this.current) return;
    this.current = state;
    this.options.onStateChange?.(state);
  }
}

function unavailable(retryAfterMs: number, message = 'The tool service is temporarily unavailable; try again shortly'): GatewayRejection {
  return new GatewayRejection('BACKEND_UNAVAILABLE', message, { retryAfterMs: Math.max(1, Math.ceil(retryAfterMs)) });
}
