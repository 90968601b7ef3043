import type { Logger } from 'pino';
import { GatewayRejection } from '../rejection';
import type { GiveBack, SessionInFlightLimit, TenantRateLimit } from './limit';

/**
 * How long one limit decision waits for Redis. A call must never hang or be
 * refused because Redis is unreachable: past this bound the decision is made
 * in this process's memory instead. A Redis round trip on a LAN is well under
 * a millisecond, so 50 ms only trips on a Redis that is down, stalled or cut
 * off, and adds at most that to a call while it is. (A refused connection
 * fails at once: `openRedis` queues nothing while disconnected.)
 */
export const DEFAULT_DECISION_TIMEOUT_MS = 50;

type Answer = { kind: 'granted'; giveBack: GiveBack } | { kind: 'refused'; rejection: GatewayRejection } | { kind: 'failed'; error: unknown };

export interface FallbackGuardOptions {
  timeoutMs: number;
  logger: Logger;
  /** Counted once per decision made in memory. */
  onFallback: () => void;
}

/**
 * Decides one limit in Redis within a bound, else in memory, and says so:
 * a warning once per outage, an info line when Redis decides again.
 */
export class FallbackGuard {
  private down = false;

  constructor(
    readonly limit: string,
    private readonly options: FallbackGuardOptions,
  ) {}

  async decide(shared: () => Promise<GiveBack>, local: () => Promise<GiveBack>): Promise<GiveBack> {
    const answer = await this.within(shared());
    if (answer.kind === 'failed') {
      this.fellBack(answer.error);
      return local();
    }
    this.answered();
    if (answer.kind === 'refused') throw answer.rejection;
    return answer.giveBack;
  }

  /**
   * Redis's answer, or `failed` after the bound. When the bound passes, one
   * turn of I/O is let through first: a reply that arrived while the event
   * loop was busy elsewhere is an answer, not an outage. A grant that comes
   * after the bound is given back at once, since memory decided instead.
   */
  private within(pending: Promise<GiveBack>): Promise<Answer> {
    return new Promise((resolve) => {
      let settled = false;
      const settle = (answer: Answer) => {
        settled = true;
        clearTimeout(timer);
        resolve(answer);
      };
      const timer = setTimeout(
        () =>
          setImmediate(() => {
            if (!settled) settle({ kind: 'failed', error: new Error(`Redis gave no answer within ${this.options.timeoutMs} ms`) });
          }),
        this.options.timeoutMs,
      );
      pending.then(
        (giveBack) => (settled ? giveBack() : settle({ kind: 'granted', giveBack })),
        (error: unknown) => {
          if (settled) return;
          settle(error instanceof GatewayRejection ? { kind: 'refused', rejection: error } : { kind: 'failed', error });
        },
      );
    });
  }

  private fellBack(error: unknown): void {
    this.options.onFallback();
    if (this.down) return;
    this.down = true;
    this.options.logger.warn(
      { limit: this.limit, err: error },
      'Redis does not answer: this limit is enforced per server process until it does (calls are still served)',
    );
  }

  private answered(): void {
    if (!this.down) return;
    this.down = false;
    this.options.logger.info({ limit: this.limit }, 'Redis answers again: this limit holds across servers again');
  }
}

/** A tenant's rate decided in Redis, or in memory while Redis does not answer. */
export class FallbackTenantRateLimit implements TenantRateLimit {
  constructor(
    private readonly shared: TenantRateLimit,
    private readonly local: TenantRateLimit,
    private readonly guard: FallbackGuard,
  ) {}

  take(tenantId: string): Promise<GiveBack> {
    return this.guard.decide(
      () => this.shared.take(tenantId),
      () => this.local.take(tenantId),
    );
  }
}

/** A session's in-flight cap decided in Redis, or in memory while Redis does not answer. */
export class FallbackSessionInFlightLimit implements SessionInFlightLimit {
  constructor(
    private readonly shared: SessionInFlightLimit,
    private readonly local: SessionInFlightLimit,
    private readonly guard: FallbackGuard,
  ) {}

  acquire(sessionKey: string, leaseMs: number): Promise<GiveBack> {
    return this.guard.decide(
      () => this.shared.acquire(sessionKey, leaseMs),
      () => this.local.acquire(sessionKey, leaseMs),
    );
  }
}
