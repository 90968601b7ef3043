import { GatewayRejection } from './rejection';

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerOptions {
  /** Consecutive backend failures that open the breaker. */
  failureThreshold: number;
  /** How long it stays open before one probe may try. */
  cooldownMs: number;
  /** Checks the backend without risking a caller's call; resolves when it answers. */
  probe: () => Promise<void>;
  onStateChange?: (state: BreakerState) => void;
  now?: () => number;
}

/**
 * Stops sending calls to a Temporal that is not answering, so callers get
 * BACKEND_UNAVAILABLE at once instead of each waiting out a deadline. After
 * the cooldown one probe checks the backend; when it answers, calls flow again.
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private probing: Promise<boolean> | undefined;
  private current: BreakerState = 'closed';

  constructor(private readonly options: BreakerOptions) {}

  get state(): BreakerState {
    return this.current;
  }

  /** Throws BACKEND_UNAVAILABLE while the backend is known to be down. */
  async admit(): Promise<void> {
    if (this.current === 'closed') return;
    const now = (this.options.now ?? Date.now)();
    if (now - this.openedAt < this.options.cooldownMs) throw unavailable();
    this.probing ??= this.runProbe();
    if (!(await this.probing)) throw unavailable();
  }

  recordSuccess(): void {
    this.failures = 0;
    this.setState('closed');
  }

  recordFailure(): void {
    this.failures += 1;
    if (this.failures >= this.options.failureThreshold) this.open();
  }

  private open(): void {
    this.openedAt = (this.options.now ?? Date.now)();
    this.setState('open');
  }

  private async runProbe(): Promise<boolean> {
    this.setState('half_open');
    try {
      await this.options.probe();
      this.recordSuccess();
      return true;
    } catch {
      this.open();
      return false;
    } finally {
      this.probing = undefined;
    }
  }

  private setState(state: BreakerState): void {
    if (state === this.current) return;
    this.current = state;
    this.options.onStateChange?.(state);
  }
}

function unavailable(): GatewayRejection {
  return new GatewayRejection('BACKEND_UNAVAILABLE', 'The tool service is temporarily unavailable; try again shortly');
}
