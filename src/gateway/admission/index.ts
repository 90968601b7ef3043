import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ToolPriority } from '../../contracts/tool-spec';
import { ClusterAdmission } from './cluster';
import { AdmissionShed, ConcurrencyGate, type Permit, type ShedReason } from './gate';
import { AimdLimiter, type Sample } from './limiter';
import { AdmissionMetrics } from './metrics';
import { DegradationModes, MODE_LEVEL, type DegradationMode, type ModeOptions } from './modes';

export { AdmissionShed, ConcurrencyGate, type Permit, type ShedReason } from './gate';
export { AimdLimiter, type Sample } from './limiter';
export { DegradationModes, DEGRADATION_MODES, type DegradationMode } from './modes';
export { ClusterAdmission, ADMISSION_KEY, type AdmissionReport } from './cluster';

/** How new calls are admitted. Defaults are those of the configuration (HOLDLINE_ADMISSION_*). */
export interface AdmissionSettings {
  /** `off` admits every call at once, as before admission existed (for comparison). Default `adaptive`. */
  mode?: 'adaptive' | 'off';
  /** Default 32. */
  initialLimit?: number;
  /** Default 4. */
  minLimit?: number;
  /** Default 512. */
  maxLimit?: number;
  /** A window of calls whose 90th-percentile latency excess (see `ToolBaselines`) is over this lowers the limit. Default 100 ms. */
  latencyTargetMs?: number;
  /** Longest an acked call keeps its permit while it works. Default 1000 ms. */
  holdMs?: number;
  /** While pressed, the longest a new call waits for its result before it is acked. Default 0: acked as soon as Temporal has it. */
  pressedAckMs?: number;
  /** Calls that may wait for admission at once. Default 64. */
  queueLength?: number;
  /** Longest wait before a call is shed; with the pipeline before it, a shed call is answered within 50 ms. Default 10 ms: under sustained overload every admitted call has waited for a permit, so this wait is part of its ack. */
  queueMs?: number;
  /** Hysteresis of the degradation mode. */
  modes?: ModeOptions;
  /** How often the mode is re-evaluated. Default 250 ms. */
  tickMs?: number;
}

export interface AdmissionOptions extends AdmissionSettings {
  registry: Registry;
  logger: Logger;
  /** Shared by the servers: each sees whether the others shed (see `ClusterAdmission`). Default: none. */
  redis?: Redis;
}

/** An admitted call's permit. */
export interface Ticket {
  /** Gives the permit back, with the call's latency when it was answered; only the first call counts. */
  release(sample?: Sample): void;
  /**
   * Keeps the permit while the acked call works: until `done` settles, or for
   * the hold at most, whichever comes first. The time held is the sample when
   * the hold ran out or `done` resolved true: a call that ended early (it was
   * cancelled, or failed) says nothing about how long work takes.
   */
  holdUntil(done: Promise<boolean>): void;
}

/** What `/readyz` shows. `limit` is null when admission is off. */
export interface AdmissionSnapshot {
  mode: DegradationMode;
  limit: number | null;
  in_flight: number;
  queue: number;
}

/**
 * Admission of new calls: a concurrency limit adapted by AIMD (see
 * `AimdLimiter`), a bounded priority queue in front of it (`ConcurrencyGate`),
 * and the degradation mode (`DegradationModes`) that sheds low-priority calls
 * first. Only a new call passes here; everything about a call already admitted
 * (results, progress, approvals, cancels, reads, streams) and every duplicate
 * this server knows bypass it.
 *
 * A call holds its permit while Holdline works on it: until its result,
 * or, when it is acked first, until its result or the hold (`holdMs`) runs
 * out, whichever comes first; a call that waits for approval gives it back
 * at its ack (a person, not Holdline, is what it waits for). So the limit
 * bounds the work admitted calls put on Temporal and the workers, not only
 * their starts: a refund acked at once still runs its steps. Its sample for
 * the limiter is that time, as its excess over the tool's own fastest
 * (`ToolBaselines`): queueing, wherever it happens on the way.
 */
export class Admission {
  private readonly adaptive: boolean;
  private readonly limiter: AimdLimiter;
  private readonly gate: ConcurrencyGate;
  private readonly modes: DegradationModes;
  private readonly metrics: AdmissionMetrics;
  private readonly cluster: ClusterAdmission | undefined;
  private readonly queueLength: number;
  private readonly holdMs: number;
  private readonly targetMs: number;
  /** Admitted calls not answered yet (neither their result nor their ack). */
  private readonly unanswered = new Set<{ tool: string; grantedAt: number }>();
  private readonly timer: NodeJS.Timeout | undefined;
  private overflowSheds = 0;
  private effective: DegradationMode = 'normal';

  constructor(private readonly options: AdmissionOptions) {
    this.adaptive = (options.mode ?? 'adaptive') === 'adaptive';
    this.targetMs = options.latencyTargetMs ?? 100;
    this.limiter = new AimdLimiter({
      initial: options.initialLimit ?? 32,
      min: options.minLimit ?? 4,
      max: options.maxLimit ?? 512,
      targetMs: this.targetMs,
    });
    this.holdMs = options.holdMs ?? 1_000;
    this.queueLength = this.adaptive ? (options.queueLength ?? 64) : 0;
    this.gate = new ConcurrencyGate({
      limit: this.adaptive ? () => this.limiter.limit : () => Number.POSITIVE_INFINITY,
      queueLength: this.queueLength,
      queueMs: options.queueMs ?? 10,
    });
    this.modes = new DegradationModes(options.modes);
    this.metrics = new AdmissionMetrics(options.registry, () => ({
      limit: this.adaptive ? this.limiter.limit : Number.POSITIVE_INFINITY,
      inFlight: this.gate.inFlight,
      queued: this.gate.queued,
      mode: this.effective,
    }));
    if (this.adaptive) {
      this.timer = setInterval(() => this.evaluate(), options.tickMs ?? 250);
      this.timer.unref();
    }
    if (options.redis) {
      this.cluster = new ClusterAdmission(options.redis, { report: () => this.report(), logger: options.logger });
      this.cluster.start();
    }
  }

  get mode(): DegradationMode {
    return this.effective;
  }

  /**
   * The longest a new call with ack window `ackAfterMs` waits for its result
   * before it is acked. Under pressure results come late, so a caller hears
   * "working on it" promptly instead of waiting out the window in silence;
   * the result follows as it would have.
   */
  ackWindowMs(ackAfterMs: number): number {
    return this.pressed() ? Math.min(ackAfterMs, this.options.pressedAckMs ?? 0) : ackAfterMs;
  }

  /**
   * Calls are queueing now: a mode above normal, the limit's last window over
   * its target within the last second, or, sooner than either at the start of
   * a spike, several admitted calls still unanswered for longer than their
   * tool's fastest time plus the target (the window that would show it has
   * not closed yet). One slow call is a slow call, not a queue.
   */
  private pressed(): boolean {
    if (!this.adaptive) return false;
    if (this.effective !== 'normal' || this.limiter.congested) return true;
    if (this.unanswered.size < OVERDUE_CALLS_FOR_PRESSURE) return false;
    const now = performance.now();
    let overdue = 0;
    for (const call of this.unanswered) {
      const floor = this.baselines.floorOf(call.tool);
      if (floor !== undefined && now - call.grantedAt - floor > this.targetMs && ++overdue >= OVERDUE_CALLS_FOR_PRESSURE) return true;
    }
    return false;
  }

  snapshot(): AdmissionSnapshot {
    return { mode: this.effective, limit: this.adaptive ? this.limiter.limit : null, in_flight: this.gate.inFlight, queue: this.gate.queued };
  }

  /** A permit for a new call of `tool`, or `AdmissionShed` (counted) when the call is to be shed. */
  async admit(tool: string, priority: ToolPriority): Promise<Ticket> {
    let permit: Permit;
    if (this.shedsForPriority(priority)) {
      // While shedding, a normal call gives way by not waiting: a permit free at once with nobody
      // queued takes nothing from a critical call, and refusing it too would stop all normal work
      // until the mode eases (seen as seconds of nothing served in a spike). A low call is shed
      // outright: in degraded mode its share is kept for the others.
      const free = priority === 'normal' ? this.gate.tryAcquire() : undefined;
      if (!free) throw this.shed(tool, 'priority');
      permit = free;
    } else {
      try {
        permit = await this.gate.acquire(priority);
      } catch (error) {
        if (error instanceof AdmissionShed) {
          this.overflowSheds++;
          throw this.shed(tool, error.reason);
        }
        throw error;
      }
    }
    this.metrics.wait.observe(permit.waitedMs / 1000);
    const call = { tool, grantedAt: permit.grantedAt };
    this.unanswered.add(call);
    let sampled = false;
    const release = (sample?: Sample) => {
      this.unanswered.delete(call);
      if (sample && !sampled && this.adaptive) this.limiter.observe(this.baselines.excess(tool, sample), this.gate.inFlight);
      sampled = true;
      permit.release();
    };
    return {
      release,
      holdUntil: (done) => {
        this.unanswered.delete(call);
        const end = (telling: boolean) => {
          clearTimeout(timer);
          release(telling ? { kind: 'answered', latencyMs: Math.min(performance.now() - permit.grantedAt, this.holdMs) } : undefined);
        };
        const timer = setTimeout(() => end(true), Math.max(0, permit.grantedAt + this.holdMs - performance.now()));
        timer.unref();
        done.then(end, () => end(false));
      },
    };
  }

  close(): void {
    clearInterval(this.timer);
    this.cluster?.close();
    this.gate.close();
  }

  private readonly baselines = new ToolBaselines();

  private shedsForPriority(priority: ToolPriority): boolean {
    if (!this.adaptive || priority === 'critical') return false;
    return this.effective === 'shedding' || (this.effective === 'degraded' && priority === 'low');
  }

  private shed(tool: string, reason: ShedReason): AdmissionShed {
    this.metrics.shed.inc({ tool, reason });
    return new AdmissionShed(reason);
  }

  private report() {
    return { limit: this.adaptive ? this.limiter.limit : 0, in_flight: this.gate.inFlight, queue: this.gate.queued, mode: this.effective };
  }

  /** One look at the pressure: the local mode, raised to the cluster's floor. */
  private evaluate(): void {
    const occupancy = this.queueLength > 0 ? this.gate.queued / this.queueLength : 0;
    const local = this.modes.observe({ occupancy, overflowSheds: this.overflowSheds }, performance.now());
    this.overflowSheds = 0;
    const floor = this.cluster?.floor() ?? 'normal';
    const next = MODE_LEVEL[floor] > MODE_LEVEL[local] ? floor : local;
    if (next === this.effective) return;
    const previous = this.effective;
    this.effective = next;
    const fields = { mode: next, previous, limit: this.limiter.limit, in_flight: this.gate.inFlight, queue: this.gate.queued, ...(floor !== 'normal' ? { cluster: floor } : {}) };
    if (MODE_LEVEL[next] > MODE_LEVEL[previous]) {
      this.options.logger.warn(fields, next === 'shedding' ? 'shedding new calls below critical priority' : 'degraded: shedding low-priority new calls');
    } else {
      this.options.logger.info(fields, next === 'normal' ? 'admission back to normal' : 'shedding eased: only low-priority new calls are shed');
    }
  }
}

/** Overdue unanswered calls that count as a queue forming. */
const OVERDUE_CALLS_FOR_PRESSURE = 3;

/**
 * What the time a call held its permit says about congestion depends on the
 * tool: a lookup is done in tens of milliseconds, a refund works for a second,
 * a long tool always runs into the hold. So each sample is judged against the tool's own no-load time, the
 * fastest of its recent samples: the excess over it is queueing somewhere on
 * the way (Temporal, the task queue, the worker), which is what the limit is
 * for. The window keeps the baseline honest when a tool becomes slower for good.
 */
export class ToolBaselines {
  private readonly recent = new Map<string, number[]>();
  /** Each tool's fastest recent sample, kept as samples come: read for every unanswered call on each new call. */
  private readonly floors = new Map<string, number>();

  constructor(private readonly window = 100) {}

  /** The tool's fastest recent sample; undefined before its first. */
  floorOf(tool: string): number | undefined {
    return this.floors.get(tool);
  }

  excess(tool: string, sample: Sample): Sample {
    if (sample.kind === 'dropped') return sample;
    let samples = this.recent.get(tool);
    if (!samples) this.recent.set(tool, (samples = []));
    samples.push(sample.latencyMs);
    if (samples.length > this.window) samples.shift();
    const floor = Math.min(...samples);
    this.floors.set(tool, floor);
    return { kind: 'answered', latencyMs: sample.latencyMs - floor };
  }
}
