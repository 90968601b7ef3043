/**
 * An AIMD concurrency limit over windows of samples, as Netflix's
 * concurrency-limits `AIMDLimit` behind its `WindowedLimit`: samples are
 * gathered for a short window; a window whose latency percentile is over the
 * target multiplies the limit by `backoff`, or by target/latency when that is
 * lower (down to one half), so a limit far too high for a spike comes down
 * within a few windows rather than seconds; a call the backend did not answer
 * multiplies it by `backoff` at once; a window within the target, taken while
 * the limit was in use, adds one.
 *
 * Why windows and not one decision per sample: per sample, the limit settles
 * where one increase balances one tenth of a decrease, so about a third of
 * the samples sit over the target, and a target meant for the 99th percentile
 * is met by none. Judging a window's percentile holds that percentile to the
 * target, and one decision per window keeps a burst of late answers (all from
 * the same moment of congestion) from collapsing the limit at once.
 *
 * Why AIMD and not a gradient limiter: a gradient limiter compares short-term
 * latency to a learned no-load baseline, which assumes every request costs
 * about the same; Holdline's calls do not (a lookup answers with its result,
 * a refund works for a second). So the baseline is kept per tool
 * (`ToolBaselines`), each sample becomes its excess over it, and AIMD acts on
 * that excess against the operator's explicit target and on explicit drops
 * (an outage, throttling). It needs no global baseline that drifts upward
 * under a long overload, and is easy to predict and to test.
 */
export interface AimdOptions {
  initial: number;
  min: number;
  max: number;
  /** A window whose latency percentile is over this is congestion. */
  targetMs: number;
  /** Multiplier on congestion. Default 0.9. */
  backoff?: number;
  /** How samples are gathered before a decision. Default: at least 250 ms and 5 samples, at most 100 samples; the 90th percentile. */
  window?: Partial<WindowOptions>;
  now?: () => number;
}

export interface WindowOptions {
  minMs: number;
  minSamples: number;
  maxSamples: number;
  /** The percentile (0–1) of a window's latencies held to the target. */
  percentile: number;
}

export type Sample = { kind: 'answered'; latencyMs: number } | { kind: 'dropped' };

/** How long a congested window counts as "now". */
const CONGESTION_MEMORY_MS = 1_000;
/** The deepest cut one window makes. */
const MAX_CUT = 0.5;

const DEFAULT_WINDOW: WindowOptions = { minMs: 250, minSamples: 5, maxSamples: 100, percentile: 0.9 };

export class AimdLimiter {
  private value: number;
  private readonly backoff: number;
  private readonly window: WindowOptions;
  private readonly now: () => number;
  private latencies: number[] = [];
  /** When the last window over the target (or the last drop) ended; -Infinity before any. */
  private congestedAt = Number.NEGATIVE_INFINITY;
  private busiest = 0;
  private openedAt: number;

  constructor(private readonly options: AimdOptions) {
    if (!(options.min >= 1 && options.max >= options.min)) throw new RangeError('the admission limit needs 1 ≤ min ≤ max');
    if (!(options.targetMs > 0)) throw new RangeError('the admission latency target must be positive');
    this.backoff = options.backoff ?? 0.9;
    if (!(this.backoff > 0 && this.backoff < 1)) throw new RangeError('the admission backoff must be between 0 and 1');
    this.window = { ...DEFAULT_WINDOW, ...options.window };
    if (!(this.window.percentile > 0 && this.window.percentile <= 1)) throw new RangeError('the admission percentile must be within (0, 1]');
    this.now = options.now ?? (() => performance.now());
    this.openedAt = this.now();
    this.value = clamp(options.initial, options.min, options.max);
  }

  /**
   * Whether calls are queueing now: the last window was over the target (or
   * saw a drop), and ended within the last second. Without calls no window
   * closes, so an old verdict says nothing about now.
   */
  get congested(): boolean {
    return this.now() - this.congestedAt < CONGESTION_MEMORY_MS;
  }

  /** Calls admitted at once: a whole number within [min, max]. */
  get limit(): number {
    return Math.floor(this.value);
  }

  /**
   * Adds one sample to the window, and decides when the window is full.
   * `inFlight` is the number of admitted calls when the sample was taken: a
   * limit that was not in use (fewer than half of it in flight all window)
   * does not grow, or a quiet hour would leave it at `max` for the next spike.
   * A drop decides at once: the backend is failing, not slow.
   */
  observe(sample: Sample, inFlight: number): void {
    this.busiest = Math.max(this.busiest, inFlight);
    if (sample.kind === 'dropped') {
      this.decide(undefined);
      return;
    }
    this.latencies.push(sample.latencyMs);
    const count = this.latencies.length;
    const elapsed = this.now() - this.openedAt;
    if (count >= this.window.maxSamples || (count >= this.window.minSamples && elapsed >= this.window.minMs)) {
      this.decide(percentile(this.latencies, this.window.percentile));
    }
  }

  /** Ends the window: `latencyMs` is its percentile, or undefined for a drop. */
  private decide(latencyMs: number | undefined): void {
    // Calls that never overlapped were not queueing behind each other (slow ones are a cold start or a
    // slow tool): only a drop, or slowness while calls overlapped, is congestion.
    const inUse = this.busiest * 2 >= this.limit;
    const congested = latencyMs === undefined || (latencyMs > this.options.targetMs && this.busiest >= 2);
    this.congestedAt = congested ? this.now() : Number.NEGATIVE_INFINITY;
    if (congested) {
      const factor = latencyMs === undefined ? this.backoff : Math.max(MAX_CUT, Math.min(this.backoff, this.options.targetMs / latencyMs));
      this.value = Math.max(this.options.min, this.value * factor);
    }
    else if (inUse && latencyMs !== undefined && latencyMs <= this.options.targetMs) this.value = Math.min(this.options.max, this.value + 1);
    this.latencies = [];
    this.busiest = 0;
    this.openedAt = this.now();
  }
}

/** The nearest-rank percentile of a non-empty list. */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
