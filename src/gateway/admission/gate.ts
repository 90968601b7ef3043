import type { ToolPriority } from '../../contracts/tool-spec';

/** Why a call was not admitted. */
export type ShedReason = 'queue_full' | 'queue_timeout' | 'priority';

/** A call that was not admitted; the gateway answers it with RATE_LIMITED (or the tool's fallback). */
export class AdmissionShed extends Error {
  constructor(readonly reason: ShedReason) {
    super(`not admitted: ${reason}`);
    this.name = new.target.name;
  }
}

/** An admitted call's slot. `release` gives it back; a second call does nothing. */
export interface Permit {
  /** When the permit was granted (the gate's clock). */
  readonly grantedAt: number;
  readonly waitedMs: number;
  release(): void;
}

export interface GateOptions {
  /** The limit now; read at every decision, so it may change between them. */
  limit: () => number;
  /** Calls that may wait for a permit at once; 0 sheds at once when the limit is reached. */
  queueLength: number;
  /** Longest a call waits before it is shed. */
  queueMs: number;
  now?: () => number;
}

interface Waiter {
  priority: ToolPriority;
  enqueuedAt: number;
  grant: (permit: Permit) => void;
  shed: (reason: ShedReason) => void;
  timer: NodeJS.Timeout;
}

/** Highest first: the order waiters are admitted in. */
const ORDER: readonly ToolPriority[] = ['critical', 'normal', 'low'];
const RANK: Readonly<Record<ToolPriority, number>> = { critical: 2, normal: 1, low: 0 };

/**
 * A concurrency limit with a bounded waiting line. Waiters are admitted by
 * priority, first come first served within one. A full line makes room for a
 * higher-priority arrival by shedding its newest lowest-priority waiter;
 * otherwise the arrival is shed. Nobody waits longer than `queueMs`.
 */
export class ConcurrencyGate {
  private active = 0;
  private readonly waiting: Record<ToolPriority, Waiter[]> = { critical: [], normal: [], low: [] };
  private readonly now: () => number;

  constructor(private readonly options: GateOptions) {
    this.now = options.now ?? (() => performance.now());
  }

  get inFlight(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.critical.length + this.waiting.normal.length + this.waiting.low.length;
  }

  /** A permit, at once or after waiting; rejects with `AdmissionShed`. */
  acquire(priority: ToolPriority): Promise<Permit> {
    const arrivedAt = this.now();
    if (this.queued === 0 && this.active < this.options.limit()) return Promise.resolve(this.grant(arrivedAt));
    if (this.queued >= this.options.queueLength && !this.evictBelow(priority)) return Promise.reject(new AdmissionShed('queue_full'));
    return new Promise<Permit>((resolve, reject) => {
      const waiter: Waiter = {
        priority,
        enqueuedAt: arrivedAt,
        grant: resolve,
        shed: (reason) => reject(new AdmissionShed(reason)),
        timer: setTimeout(() => {
          if (this.remove(waiter)) waiter.shed('queue_timeout');
        }, this.options.queueMs),
      };
      this.waiting[priority].push(waiter);
    });
  }

  /** A permit only if one is free now and nobody is waiting for it; never queues. */
  tryAcquire(): Permit | undefined {
    return this.queued === 0 && this.active < this.options.limit() ? this.grant(this.now()) : undefined;
  }

  /** Admits waiters while the limit allows; call when the limit may have grown. */
  drain(): void {
    while (this.active < this.options.limit()) {
      const waiter = this.next();
      if (!waiter) return;
      clearTimeout(waiter.timer);
      waiter.grant(this.grant(waiter.enqueuedAt));
    }
  }

  /** Sheds every waiter (the server is closing). */
  close(): void {
    for (const priority of ORDER) {
      for (const waiter of this.waiting[priority].splice(0)) {
        clearTimeout(waiter.timer);
        waiter.shed('queue_timeout');
      }
    }
  }

  private grant(arrivedAt: number): Permit {
    this.active++;
    const grantedAt = this.now();
    let released = false;
    return {
      grantedAt,
      waitedMs: grantedAt - arrivedAt,
      release: () => {
        if (released) return;
        released = true;
        this.active--;
        this.drain();
      },
    };
  }

  private next(): Waiter | undefined {
    for (const priority of ORDER) {
      const waiter = this.waiting[priority].shift();
      if (waiter) return waiter;
    }
    return undefined;
  }

  /** Sheds the newest waiter of the lowest priority below `priority`, if there is one. */
  private evictBelow(priority: ToolPriority): boolean {
    for (const lower of [...ORDER].reverse()) {
      if (RANK[lower] >= RANK[priority]) return false;
      const victim = this.waiting[lower].pop();
      if (victim) {
        clearTimeout(victim.timer);
        victim.shed('queue_full');
        return true;
      }
    }
    return false;
  }

  private remove(waiter: Waiter): boolean {
    const line = this.waiting[waiter.priority];
    const index = line.indexOf(waiter);
    if (index < 0) return false;
    line.splice(index, 1);
    return true;
  }
}
