import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { AUTH_FAILURE_REASONS } from './auth';
import type { BreakerState } from './breaker';

const LATENCY_BUCKETS = [0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, recovering: 1, half_open: 2, open: 3 };

/** The gateway's Prometheus metrics, on a registry of their own (served at GET /metrics). */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly calls = new Counter({
    name: 'holdline_tool_calls_total',
    help: 'Tool calls by tool and outcome (ok, error, timeout, cancelled, rejected) and error code',
    labelNames: ['tool', 'outcome', 'error_code'] as const,
    registers: [this.registry],
  });
  readonly ackLatency = new Histogram({
    name: 'holdline_ack_latency_seconds',
    help: 'From request to the answer the caller got first (a result within the ack window, else the ack)',
    labelNames: ['tool', 'kind'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly completionLatency = new Histogram({
    name: 'holdline_completion_latency_seconds',
    help: 'From request to the final envelope',
    labelNames: ['tool', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly inFlight = new Gauge({ name: 'holdline_in_flight_calls', help: 'Calls started here whose result has not come back', registers: [this.registry] });
  readonly limiterFallbacks = new Counter({
    name: 'holdline_limiter_fallbacks_total',
    help: 'Limit decisions made in this process because Redis did not answer in time (the limit then holds per server, not cluster-wide)',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });
  readonly authFailures = new Counter({
    name: 'holdline_auth_failures_total',
    help: 'Tokens refused, by reason (expired, unknown_kid, issuer, audience, signature, jwks_unavailable, ...): a burst is a key rotation or identity provider gone wrong',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly breakerState = new Gauge({
    name: 'holdline_breaker_state',
    help: 'Temporal circuit breaker: 0 closed, 1 recovering (admitting gradually), 2 half-open, 3 open',
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'holdline_' });
    // Every reason starts at 0, so a rate() alert sees the first failure of each.
    for (const reason of AUTH_FAILURE_REASONS) this.authFailures.inc({ reason }, 0);
  }

  setBreaker(state: BreakerState): void {
    this.breakerState.set(BREAKER_VALUE[state]);
  }
}
