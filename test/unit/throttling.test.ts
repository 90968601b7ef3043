import pino from 'pino';
import type { Client } from '@temporalio/client';
import { Gateway, GatewayMetrics, TemporalCalls, TokenVerifier, ToolRegistry, isBackendFailure, isThrottled } from '../../src/gateway';
import { lookupOrder } from '../../examples/support-desk';

// gRPC status codes.
const status = { DEADLINE_EXCEEDED: 4, RESOURCE_EXHAUSTED: 8, INVALID_ARGUMENT: 3, UNAVAILABLE: 14 } as const;

/** A gRPC error as @grpc/grpc-js raises it. */
function grpcError(code: number): Error {
  return Object.assign(new Error(`grpc ${code}`), { code, details: 'x', metadata: {} });
}

describe('classifying what Temporal answered', () => {
  it('treats RESOURCE_EXHAUSTED as throttling, not as Temporal being down', () => {
    expect(isThrottled(grpcError(status.RESOURCE_EXHAUSTED))).toBe(true);
    expect(isBackendFailure(grpcError(status.RESOURCE_EXHAUSTED))).toBe(false);
  });

  it('treats UNAVAILABLE and DEADLINE_EXCEEDED as Temporal being down', () => {
    for (const code of [status.UNAVAILABLE, status.DEADLINE_EXCEEDED]) {
      expect(isBackendFailure(grpcError(code))).toBe(true);
      expect(isThrottled(grpcError(code))).toBe(false);
    }
    expect(isBackendFailure(new Error('wrapped', { cause: grpcError(status.UNAVAILABLE) }))).toBe(true);
  });

  it('treats a refusal such as INVALID_ARGUMENT as neither', () => {
    expect(isBackendFailure(grpcError(status.INVALID_ARGUMENT))).toBe(false);
    expect(isThrottled(grpcError(status.INVALID_ARGUMENT))).toBe(false);
  });
});

describe('a gateway whose Temporal throttles every start', () => {
  // The one place a unit test answers for Temporal: to make it throttle on demand.
  const throttling = {
    connection: { withDeadline: <T>(_deadline: number, request: () => Promise<T>) => request() },
    workflow: {
      start: async () => {
        throw grpcError(status.RESOURCE_EXHAUSTED);
      },
    },
  } as unknown as Client;

  it('answers RATE_LIMITED with a retry hint and never opens the breaker', async () => {
    const verifier = new TokenVerifier('unit-secret-unit-secret-unit-secret-0123');
    const gateway = new Gateway({
      registry: new ToolRegistry([lookupOrder]),
      calls: new TemporalCalls(throttling, { taskQueue: 'q', requestTimeoutMs: 1_000 }),
      verifier,
      logger: pino({ level: 'silent' }),
      limits: { maxArgumentBytes: 4_096, sessionMaxInFlight: 100, tenantRatePerSec: 1_000, tenantBurst: 1_000 },
      metrics: new GatewayMetrics({ processMetrics: false }),
      breakerCooldownMs: 1_000,
      breakerThreshold: 2,
    });
    const token = await verifier.issue({ tenantId: 'acme', userId: 'alice', scopes: ['orders:read'] });
    for (let i = 0; i < 5; i++) {
      const outcome = await gateway.submit({ tool: 'lookup_order', arguments: { order_id: 'A-1001' }, caller: { token }, key: { kind: 'none' } });
      expect(outcome).toMatchObject({ kind: 'rejected', httpStatus: 429, retryAfterMs: 1_000, envelope: { error_code: 'RATE_LIMITED', retryable: true } });
    }
    expect(gateway.breaker.state).toBe('closed');
  });
});

describe('telling a start that never left from one whose answer was lost', () => {
  it('knows a refused connection or a deadline passed before the wire never reached Temporal, and a deadline on the wire may have', async () => {
    const { neverReachedTemporal } = await import('../../src/gateway/temporal-calls');
    const refused = Object.assign(grpcError(status.UNAVAILABLE), { details: 'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:7233' });
    expect(neverReachedTemporal(new Error('wrapped', { cause: refused }))).toBe(true);
    const beforeTheWire = Object.assign(grpcError(status.DEADLINE_EXCEEDED), { details: 'Deadline exceeded after 0.001s,name resolution: 0.001s,waiting for metadata filters' });
    expect(neverReachedTemporal(beforeTheWire)).toBe(true);
    const onTheWire = Object.assign(grpcError(status.DEADLINE_EXCEEDED), { details: 'Deadline exceeded after 1.002s,LB pick: 0.001s,remote_addr=127.0.0.1:7233' });
    expect(neverReachedTemporal(onTheWire)).toBe(false);
    expect(neverReachedTemporal(Object.assign(grpcError(status.UNAVAILABLE), { details: 'Connection dropped' }))).toBe(false);
  });
});

describe('waiting for a result through an outage', () => {
  it('gives each attempt a signal of its own, so the listeners the client leaves behind do not pile up', async () => {
    const signals: AbortSignal[] = [];
    let failuresLeft = 2;
    const flaky = {
      connection: {
        withAbortSignal: <T>(signal: AbortSignal, request: () => Promise<T>) => {
          // As the real client does: a listener it never removes.
          signal.addEventListener('abort', () => undefined);
          signals.push(signal);
          return request();
        },
      },
      workflow: {
        getHandle: () => ({
          result: async () => {
            if (failuresLeft-- > 0) throw grpcError(status.UNAVAILABLE);
            return { status: 'ok', tool: 'lookup_order', data: {} };
          },
        }),
      },
    } as unknown as Client;
    const calls = new TemporalCalls(flaky, { taskQueue: 'q', requestTimeoutMs: 1_000 });
    await expect(calls.result('acme/alice/k-1')).resolves.toMatchObject({ status: 'ok' });
    expect(signals).toHaveLength(3);
    expect(new Set(signals).size).toBe(3);
  });
});
