import { CircuitBreaker, type BreakerState } from '../../src/gateway/breaker';
import { canonicalJson, fingerprintOf, idempotencyKeyOf, parseWorkflowId, workflowIdOf } from '../../src/gateway/idempotency';
import { SessionInFlightLimiter, TenantRateLimiter } from '../../src/gateway/policy';
import { checkArguments } from '../../src/gateway/arguments';
import { GatewayRejection } from '../../src/gateway/rejection';
import { redactArguments } from '../../src/gateway/redact';
import { lookupOrder, refundOrder } from '../../examples/support-desk';

function rejectionOf(fn: () => unknown): GatewayRejection {
  try {
    fn();
  } catch (error) {
    if (error instanceof GatewayRejection) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

describe('idempotency', () => {
  it('hashes equal arguments equally whatever their key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } })).toBe('{"a":{"c":null,"d":[1,{"x":1,"y":2}]},"b":1}');
    expect(fingerprintOf(refundOrder, { order_id: 'A-1', reason: 'abc', amount_cents: 5 })).toBe(
      fingerprintOf(refundOrder, { amount_cents: 5, reason: 'abc', order_id: 'A-1' }),
    );
    expect(fingerprintOf(refundOrder, { order_id: 'A-1', reason: 'abc', amount_cents: 5 })).not.toBe(
      fingerprintOf(refundOrder, { order_id: 'A-1', reason: 'abc', amount_cents: 6 }),
    );
  });

  it('derives realtime keys from the session and the model call id, and namespaces workflow ids by tenant', () => {
    expect(idempotencyKeyOf({ kind: 'realtime', sessionId: 's1', modelCallId: 'call_9' })).toBe('rt-s1-call_9');
    expect(idempotencyKeyOf({ kind: 'none' })).toMatch(/^call-[0-9a-f-]{36}$/);
    expect(workflowIdOf({ tenantId: 'acme', userId: 'a/b' }, 'k/1')).toBe('acme/a%2Fb/k/1');
    expect(parseWorkflowId('acme/a%2Fb/k/1')).toMatchObject({ tenantId: 'acme', userId: 'a/b', callId: 'k/1' });
    expect(parseWorkflowId('acme/k1')).toBeUndefined();
  });

  it('rejects an explicit key with spaces or too long', () => {
    expect(rejectionOf(() => idempotencyKeyOf({ kind: 'explicit', key: 'has space' })).code).toBe('INVALID_ARGUMENTS');
    expect(rejectionOf(() => idempotencyKeyOf({ kind: 'explicit', key: 'x'.repeat(201) })).code).toBe('INVALID_ARGUMENTS');
  });
});

describe('arguments', () => {
  it('measures before parsing and reports size with 413', () => {
    const rejection = rejectionOf(() => checkArguments(lookupOrder, JSON.stringify({ order_id: 'x'.repeat(100) }), 50));
    expect(rejection.httpStatus).toBe(413);
  });

  it('treats an empty string as no arguments', () => {
    expect(rejectionOf(() => checkArguments(lookupOrder, '', 1_000)).message).toContain('order_id');
  });

  it('trims the zod issues it returns', () => {
    const many = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`extra${i}`, i]));
    const rejection = rejectionOf(() => checkArguments(refundOrder, { ...many, order_id: 3 }, 10_000));
    expect((rejection.details as { issues: unknown[] }).issues.length).toBeLessThanOrEqual(5);
  });
});

describe('redaction', () => {
  it("masks the tool's sensitive fields and leaves the rest", () => {
    expect(redactArguments(refundOrder, { order_id: 'A-1', reason: 'card 4242' })).toEqual({ order_id: 'A-1', reason: '[redacted]' });
    expect(redactArguments(lookupOrder, { order_id: 'A-1' })).toEqual({ order_id: 'A-1' });
  });
});

describe('policy', () => {
  it('refills a tenant bucket over time and keeps tenants apart', () => {
    let now = 0;
    const limiter = new TenantRateLimiter(2, 2, () => now);
    limiter.take('a');
    limiter.take('a');
    const rejection = rejectionOf(() => limiter.take('a'));
    expect(rejection).toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: 500 });
    limiter.take('b');
    now = 500;
    limiter.take('a');
  });

  it('releases an in-flight slot once however often release is called', () => {
    const limiter = new SessionInFlightLimiter(1);
    const release = limiter.acquire('s');
    expect(() => limiter.acquire('s')).toThrow(GatewayRejection);
    release();
    release();
    expect(limiter.total()).toBe(0);
    limiter.acquire('s');
    expect(limiter.total()).toBe(1);
  });
});

describe('circuit breaker', () => {
  function breaker(probe: () => Promise<void>) {
    let now = 0;
    const states: BreakerState[] = [];
    let dice = 0;
    const b = new CircuitBreaker({
      failureThreshold: 2,
      cooldownMs: 1_000,
      recoveryRampMs: 1_000,
      minRecoveryShare: 0.1,
      probe,
      onStateChange: (s) => states.push(s),
      now: () => now,
      random: () => dice,
    });
    return { b, states, advance: (ms: number) => (now += ms), roll: (value: number) => (dice = value) };
  }

  it('opens after consecutive failures and fails fast until the cooldown', async () => {
    const { b } = breaker(async () => undefined);
    b.recordFailure();
    await expect(b.admit()).resolves.toBeUndefined();
    b.recordFailure();
    expect(b.state).toBe('open');
    await expect(b.admit()).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
  });

  it('recovers after a successful probe, and stays open when the probe fails', async () => {
    let healthy = false;
    const { b, states, advance } = breaker(async () => {
      if (!healthy) throw new Error('down');
    });
    b.recordFailure();
    b.recordFailure();
    advance(1_000);
    await expect(b.admit()).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
    expect(b.state).toBe('open');
    healthy = true;
    advance(1_000);
    await expect(b.admit()).resolves.toBeUndefined();
    expect(states).toEqual(['open', 'half_open', 'open', 'half_open', 'recovering']);
    advance(1_000);
    expect(b.state).toBe('closed');
  });

  it('admits traffic gradually after recovery instead of releasing every caller at once', async () => {
    const { b, advance, roll } = breaker(async () => undefined);
    b.recordFailure();
    b.recordFailure();
    advance(1_000);
    roll(0);
    await b.admit(); // the probe's own caller
    expect(b.state).toBe('recovering');
    const admittedAt = async (share: number) => {
      roll(share);
      return b.admit().then(
        () => true,
        () => false,
      );
    };
    // At the start of the ramp about 10% get in; half-way about 55%; at the end all of them.
    expect(await admittedAt(0.05)).toBe(true);
    expect(await admittedAt(0.5)).toBe(false);
    advance(500);
    expect(await admittedAt(0.5)).toBe(true);
    expect(await admittedAt(0.6)).toBe(false);
    advance(500);
    expect(await admittedAt(0.99)).toBe(true);
    expect(b.state).toBe('closed');
  });

  it('a rejected caller is told when to retry', async () => {
    const { b } = breaker(async () => undefined);
    b.recordFailure();
    b.recordFailure();
    await expect(b.admit()).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE', retryAfterMs: 1_000 });
  });

  it('a success resets the failure count', () => {
    const { b } = breaker(async () => undefined);
    b.recordFailure();
    b.recordSuccess();
    b.recordFailure();
    expect(b.state).toBe('closed');
  });
});
