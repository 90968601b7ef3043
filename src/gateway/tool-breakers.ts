import { BrokenCircuitError, CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhenResult, type CircuitBreakerPolicy } from 'cockatiel';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import { errorEnvelope } from '../contracts/envelope-builders';
import type { ErrorEnvelope, ResultEnvelope } from '../contracts/envelope';
import { GatewayRejection } from './rejection';

/** Settings of the per-tool breakers; every field has a default. */
export interface ToolBreakerSettings {
  /** Consecutive calls of one tool whose downstream failed that open its breaker. Default 5. */
  threshold?: number;
  /** How long an open breaker answers every new call at once before it lets one probe call through. Default 5,000 ms. */
  cooldownMs?: number;
  /**
   * Calls of one tool this server may have outstanding (started, no final
   * envelope yet). A slow downstream otherwise fills the worker's activity
   * slots (100 per worker by default) with calls waiting on it, and every
   * other tool waits for a slot. Keep servers × this below the workers' slots.
   * Default 50.
   */
  maxInFlight?: number;
}

export interface ToolBreakersOptions extends ToolBreakerSettings {
  /** Where the breakers' metrics are registered (the gateway's registry). */
  registry: Registry;
  /** Tools whose state gauge reads 0 from the start, so an alert sees each before its first call. Default: none. */
  tools?: readonly string[];
  logger: Logger;
}

/** What a refused call is answered with: the tool's fallback, or a fast retryable TOOL_FAILED. */
export type RefusalAnswer = 'fallback' | 'failed';

export const TOOL_BREAKER_DEFAULTS = { threshold: 5, cooldownMs: 5_000, maxInFlight: 50 } as const satisfies Required<ToolBreakerSettings>;

/**
 * Whether a call's final envelope says its downstream is failing: it timed
 * out, or failed in a way worth retrying (a 5xx, a dropped connection, an
 * attempt that hung). Not a failure: an ok result, the tool's own refusal
 * (a non-retryable TOOL_FAILED such as "order not found" or an HTTP 4xx:
 * the downstream answered), and what says nothing about the downstream
 * (invalid arguments, a cancellation, a denied approval, Temporal being
 * unreachable, which the Temporal breaker handles).
 */
export function downstreamFailed(envelope: ResultEnvelope): boolean {
  if (envelope.status !== 'error') return false;
  if (envelope.error_code === 'TIMEOUT') return true;
  return envelope.error_code === 'TOOL_FAILED' && envelope.retryable;
}

/** A new call refused by its tool's breaker (or its in-flight bound) before anything started. */
export class ToolRefusal extends GatewayRejection {
  constructor(
    readonly tool: string,
    readonly reason: 'open' | 'probing' | 'saturated',
    retryAfterMs: number,
  ) {
    super('TOOL_FAILED', messageOf(tool, reason), { httpStatus: 503, retryAfterMs: Math.max(1, Math.ceil(retryAfterMs)), details: { breaker: reason } });
  }

  /** What the caller hears: retryable, and when (HTTP adds `Retry-After`). */
  envelope(traceId: string, callId: string | undefined): ErrorEnvelope & { retry_after_ms: number } {
    const retryAfterMs = this.retryAfterMs ?? 1_000;
    return {
      ...errorEnvelope('TOOL_FAILED', this.message, traceId, { tool: this.tool, ...(callId ? { call_id: callId } : {}), retryable: true, details: this.details }),
      retry_after_ms: retryAfterMs,
    };
  }
}

function messageOf(tool: string, reason: ToolRefusal['reason']): string {
  if (reason === 'saturated') return `${tool} is busy: too many of its calls are still waiting on its service; try again shortly`;
  return `${tool} is unavailable: its service is failing; try again shortly`;
}

/** Resolves the call's breaker execution with what the call showed. */
type Settle = (failed: boolean | undefined) => void;

/** The verdict a call's execution resolves with; only FAILED counts against the breaker. */
const FAILED = Symbol('failed');
/** A call that showed nothing about the downstream: cockatiel counts an unhandled rejection neither way while closed. */
class NoEvidence extends Error {}

const STATE_VALUE: Record<'closed' | 'half_open' | 'open', number> = { closed: 0, half_open: 1, open: 2 };

interface ToolBreaker {
  policy: CircuitBreakerPolicy;
  /** Calls of the tool started here whose final envelope has not come. */
  inFlight: number;
}

/**
 * One circuit breaker per tool (cockatiel's, on a consecutive-failure count),
 * fed by the final envelope of every call this gateway starts. Closed, calls
 * flow. After `threshold` consecutive calls whose downstream failed it opens:
 * new calls of that tool are answered at once, from the tool's fallback when
 * it has one, else with a retryable TOOL_FAILED, and no workflow starts.
 * After `cooldownMs` the next call is let through as the probe while the
 * others are still answered at once; the probe's outcome closes the breaker
 * or opens it for another cooldown. Other tools never notice.
 *
 * Each breaker is per server process: a failing downstream trips it on each
 * server after `threshold` failures there.
 */
export class ToolBreakers {
  private readonly breakers = new Map<string, ToolBreaker>();
  /** Settles the breaker execution of each call admitted and not yet settled, by workflow id. */
  private readonly open = new Map<string, Settle>();
  private readonly settings: Required<ToolBreakerSettings>;
  private readonly state: Gauge<'tool'>;
  private readonly rejections: Counter<'tool' | 'answer'>;

  constructor(private readonly options: ToolBreakersOptions) {
    this.settings = {
      threshold: options.threshold ?? TOOL_BREAKER_DEFAULTS.threshold,
      cooldownMs: options.cooldownMs ?? TOOL_BREAKER_DEFAULTS.cooldownMs,
      maxInFlight: options.maxInFlight ?? TOOL_BREAKER_DEFAULTS.maxInFlight,
    };
    this.state = new Gauge({
      name: 'holdline_tool_breaker_state',
      help: "Per-tool circuit breaker, set once a tool's calls are seen: 0 closed, 1 half-open (one probe call through), 2 open (calls answered at once)",
      labelNames: ['tool'] as const,
      registers: [options.registry],
    });
    this.rejections = new Counter({
      name: 'holdline_tool_breaker_rejections_total',
      help: "New calls refused by their tool's breaker or in-flight bound, by what answered them: the tool's fallback, or a fast TOOL_FAILED",
      labelNames: ['tool', 'answer'] as const,
      registers: [options.registry],
    });
    for (const tool of options.tools ?? []) this.breakerOf(tool);
  }

  /**
   * Lets a new call of `tool` start, or throws a `ToolRefusal`. A call let
   * through must be settled (`settle`), or given up (`abandon`) if it did not
   * start, exactly once, under its workflow id.
   */
  admit(tool: string, workflowId: string): void {
    const breaker = this.breakerOf(tool);
    const { policy } = breaker;
    if (policy.state === CircuitState.HalfOpen) throw new ToolRefusal(tool, 'probing', this.settings.cooldownMs);
    if (policy.state === CircuitState.Closed && breaker.inFlight >= this.settings.maxInFlight) throw new ToolRefusal(tool, 'saturated', 1_000);
    let settle: Settle = () => undefined;
    const verdict = new Promise<typeof FAILED | true>((resolve, reject) => {
      settle = (failed) => (failed === undefined ? reject(new NoEvidence()) : resolve(failed ? FAILED : true));
    });
    const wasOpen = policy.state === CircuitState.Open;
    // Runs synchronously up to the call of `verdict`: when open and cooled down, this call became the probe (half-open).
    const execution = policy.execute(() => verdict);
    const now = policy.state as CircuitState;
    if (wasOpen && now !== CircuitState.HalfOpen) {
      execution.catch(() => undefined);
      // cockatiel keeps the moment it opened to itself: the whole cooldown bounds the wait.
      throw new ToolRefusal(tool, 'open', this.settings.cooldownMs);
    }
    const probe = wasOpen;
    execution.catch((error: unknown) => {
      if (!(error instanceof NoEvidence) && !(error instanceof BrokenCircuitError)) this.options.logger.error({ tool, err: error }, 'tool breaker failed');
    });
    breaker.inFlight += 1;
    this.open.set(workflowId, (failed) => {
      breaker.inFlight -= 1;
      // A probe that showed nothing proves no recovery: it counts as a failure, and the breaker waits another cooldown.
      settle(probe && failed === undefined ? true : failed);
    });
  }

  /** The call's final envelope: counts towards its tool's breaker. */
  settle(workflowId: string, envelope: ResultEnvelope): void {
    this.take(workflowId)?.(downstreamFailed(envelope));
  }

  /** The call did not start here (a duplicate, a refusal, Temporal not answering), or its result was not seen: no evidence either way. */
  abandon(workflowId: string): void {
    this.take(workflowId)?.(undefined);
  }

  /** Counts a refused call by what answered it. */
  refused(tool: string, answer: RefusalAnswer): void {
    this.rejections.inc({ tool, answer });
  }

  /** The breaker's state, for tests and readiness detail. */
  stateOf(tool: string): 'closed' | 'half_open' | 'open' {
    const state = this.breakers.get(tool)?.policy.state ?? CircuitState.Closed;
    return state === CircuitState.Closed ? 'closed' : state === CircuitState.HalfOpen ? 'half_open' : 'open';
  }

  private take(workflowId: string): Settle | undefined {
    const settle = this.open.get(workflowId);
    this.open.delete(workflowId);
    return settle;
  }

  private breakerOf(tool: string): ToolBreaker {
    let breaker = this.breakers.get(tool);
    if (breaker) return breaker;
    const policy = circuitBreaker(
      handleWhenResult((verdict) => verdict === FAILED),
      { halfOpenAfter: this.settings.cooldownMs, breaker: new ConsecutiveBreaker(this.settings.threshold) },
    );
    breaker = { policy, inFlight: 0 };
    this.breakers.set(tool, breaker);
    this.state.set({ tool }, STATE_VALUE.closed);
    policy.onStateChange(() => {
      const state = this.stateOf(tool);
      this.state.set({ tool }, STATE_VALUE[state]);
      const fields = { tool, tool_breaker: state, threshold: this.settings.threshold, cooldown_ms: this.settings.cooldownMs };
      if (state === 'open') this.options.logger.warn(fields, `${tool}'s service is failing: its calls are answered at once for ${this.settings.cooldownMs} ms`);
      else if (state === 'half_open') this.options.logger.info(fields, `probing ${tool}'s service with one call`);
      else this.options.logger.info(fields, `${tool}'s service answers again; its calls flow`);
    });
    return breaker;
  }
}
