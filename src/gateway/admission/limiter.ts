/**
 * An AIMD concurrency limit, as Netflix's concurrency-limits `AIMDLimit`:
 * each sample within the latency target, taken while the limit is in use,
 * adds one; each sample over the target, or a call the backend did not
 * answer, multiplies the limit by `backoff`.
 *
 * Why AIMD and not a gradient limiter: a gradient limiter compares short-term
 * latency to a learned no-load baseline, which assumes every request costs
 * about the same; Holdline's calls do not (a lookup answers with its result,
 * a refund with an ack). So the baseline is kept per tool (`ToolBaselines`),
 * each sample becomes its excess over it, and AIMD acts on that excess
 * against the operator's explicit target (the ack p99 the SLO names) and on
 * explicit drops (an outage, throttling). It needs no global baseline that
 * drifts upward under a long overload, and is easy to predict and to test.
 */
export interface AimdOptions {
  initial: number;
  min: number;
  max: number;
  /** A sample slower than this is congestion. */
  targetMs: number;
  /** Multiplier on congestion. Default 0.9. */
  backoff?: number;
}

export type Sample = { kind: 'answered'; latencyMs: number } | { kind: 'dropped' };

export class AimdLimiter {
  private value: number;
  private readonly backoff: number;

  constructor(private readonly options: AimdOptions) {
    if (!(options.min >= 1 && options.max >= options.min)) throw new RangeError('the admission limit needs 1 ≤ min ≤ max');
    if (!(options.targetMs > 0)) throw new RangeError('the admission latency target must be positive');
    this.backoff = options.backoff ?? 0.9;
    if (!(this.backoff > 0 && this.backoff < 1)) throw new RangeError('the admission backoff must be between 0 and 1');
    this.value = clamp(options.initial, options.min, options.max);
  }

  /** Calls admitted at once: a whole number within [min, max]. */
  get limit(): number {
    return Math.floor(this.value);
  }

  /**
   * Adjusts the limit by one sample. `inFlight` is the number of admitted
   * calls when the sample was taken: a limit that is not in use (fewer than
   * half of it in flight) does not grow, or a quiet hour would leave it at
   * `max` for the next spike.
   */
  observe(sample: Sample, inFlight: number): void {
    const congested = sample.kind === 'dropped' || sample.latencyMs > this.options.targetMs;
    if (congested) this.value = Math.max(this.options.min, this.value * this.backoff);
    else if (inFlight * 2 >= this.limit) this.value = Math.min(this.options.max, this.value + 1);
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
