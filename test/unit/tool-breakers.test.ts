import pino from 'pino';
import { Registry } from 'prom-client';
import { errorEnvelope, okEnvelope } from '../../src/contracts/envelope-builders';
import type { ResultEnvelope } from '../../src/contracts/envelope';
import { downstreamFailed, ToolBreakers, ToolRefusal } from '../../src/gateway/tool-breakers';

const ok = okEnvelope({}, 't');
const timedOut = errorEnvelope('TIMEOUT', 'slow', 't');
const failing = errorEnvelope('TOOL_FAILED', '502', 't', { retryable: true });

/** Lets the breaker's promise chains run; timers stay fake. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

function setUp(settings: { threshold?: number; cooldownMs?: number; maxInFlight?: number } = {}) {
  const registry = new Registry();
  const logs: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line) as Record<string, unknown>) });
  const breakers = new ToolBreakers({ threshold: 3, cooldownMs: 1_000, maxInFlight: 10, ...settings, registry, logger, tools: ['quiet'] });
  let n = 0;
  /** Admits one call of `tool`, then settles it with `envelope` (undefined: abandoned). */
  const call = async (tool: string, envelope: ResultEnvelope | undefined) => {
    const id = `wf-${++n}`;
    breakers.admit(tool, id);
    if (envelope) breakers.settle(id, envelope);
    else breakers.abandon(id);
    await flush();
  };
  const refusalOf = (tool: string): ToolRefusal => {
    try {
      breakers.admit(tool, `wf-${++n}`);
    } catch (error) {
      if (error instanceof ToolRefusal) return error;
      throw error;
    }
    throw new Error('expected a refusal');
  };
  const metric = async (name: string) => (await registry.getSingleMetric(name)?.get())?.values ?? [];
  return { breakers, call, refusalOf, metric, logs };
}

beforeEach(() => jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] }));
afterEach(() => jest.useRealTimers());

describe('what counts as a failing downstream', () => {
  it('counts timeouts and retryable tool failures, and nothing else', () => {
    expect(downstreamFailed(timedOut)).toBe(true);
    expect(downstreamFailed(failing)).toBe(true);
    expect(downstreamFailed(ok)).toBe(false);
    expect(downstreamFailed(errorEnvelope('TOOL_FAILED', 'order not found', 't'))).toBe(false);
    for (const code of ['INVALID_ARGUMENTS', 'CANCELLED', 'APPROVAL_DENIED', 'BACKEND_UNAVAILABLE', 'INTERNAL', 'RATE_LIMITED'] as const) {
      expect(downstreamFailed(errorEnvelope(code, 'x', 't'))).toBe(false);
    }
  });
});

describe('a per-tool breaker', () => {
  it('opens after the threshold of consecutive failures, and then refuses at once with a retryable TOOL_FAILED', async () => {
    const { breakers, call, refusalOf, metric, logs } = setUp();
    await call('slow', timedOut);
    await call('slow', failing);
    expect(breakers.stateOf('slow')).toBe('closed');
    await call('slow', timedOut);
    expect(breakers.stateOf('slow')).toBe('open');
    const refusal = refusalOf('slow');
    expect(refusal).toMatchObject({ code: 'TOOL_FAILED', reason: 'open', httpStatus: 503, retryAfterMs: 1_000 });
    expect(await metric('holdline_tool_breaker_state')).toEqual(expect.arrayContaining([expect.objectContaining({ labels: { tool: 'slow' }, value: 2 })]));
    expect(logs.filter((line) => line.tool_breaker === 'open')).toHaveLength(1);
  });

  it('is reset by a success in between, and ignores outcomes that say nothing about the downstream', async () => {
    const { breakers, call } = setUp();
    await call('slow', timedOut);
    await call('slow', timedOut);
    await call('slow', ok);
    await call('slow', timedOut);
    await call('slow', errorEnvelope('CANCELLED', 'barge-in', 't'));
    await call('slow', errorEnvelope('INVALID_ARGUMENTS', 'bad', 't'));
    await call('slow', errorEnvelope('TOOL_FAILED', 'not found', 't'));
    await call('slow', undefined);
    await call('slow', timedOut);
    expect(breakers.stateOf('slow')).toBe('closed');
  });

  it('lets one probe through after the cooldown, refuses the others meanwhile, and closes when the probe succeeds', async () => {
    const { breakers, call, refusalOf, metric, logs } = setUp();
    for (let i = 0; i < 3; i++) await call('slow', timedOut);
    jest.advanceTimersByTime(999);
    expect(refusalOf('slow').reason).toBe('open');
    jest.advanceTimersByTime(2);
    breakers.admit('slow', 'probe');
    expect(breakers.stateOf('slow')).toBe('half_open');
    expect(refusalOf('slow').reason).toBe('probing');
    breakers.settle('probe', ok);
    await flush();
    expect(breakers.stateOf('slow')).toBe('closed');
    await call('slow', ok);
    expect(logs.map((line) => line.tool_breaker).filter(Boolean)).toEqual(['open', 'half_open', 'closed']);
    expect(await metric('holdline_tool_breaker_state')).toEqual(expect.arrayContaining([expect.objectContaining({ labels: { tool: 'slow' }, value: 0 })]));
  });

  it('opens again for another cooldown when the probe fails, or shows nothing', async () => {
    const { breakers, call, refusalOf } = setUp();
    for (let i = 0; i < 3; i++) await call('slow', timedOut);
    jest.advanceTimersByTime(1_001);
    await call('slow', failing);
    expect(breakers.stateOf('slow')).toBe('open');
    expect(refusalOf('slow').reason).toBe('open');
    jest.advanceTimersByTime(1_001);
    await call('slow', undefined);
    expect(breakers.stateOf('slow')).toBe('open');
    jest.advanceTimersByTime(1_001);
    await call('slow', ok);
    expect(breakers.stateOf('slow')).toBe('closed');
  });

  it("leaves other tools alone while one tool's breaker is open", async () => {
    const { breakers, call, metric } = setUp();
    for (let i = 0; i < 3; i++) await call('slow', timedOut);
    expect(breakers.stateOf('slow')).toBe('open');
    await call('fast', ok);
    expect(breakers.stateOf('fast')).toBe('closed');
    expect(await metric('holdline_tool_breaker_state')).toEqual(expect.arrayContaining([expect.objectContaining({ labels: { tool: 'quiet' }, value: 0 })]));
  });

  it("bounds the calls of one tool outstanding at once, and frees a slot when a call ends", async () => {
    const { breakers, refusalOf } = setUp({ maxInFlight: 2 });
    breakers.admit('slow', 'a');
    breakers.admit('slow', 'b');
    expect(refusalOf('slow')).toMatchObject({ reason: 'saturated', retryAfterMs: 1_000 });
    breakers.admit('fast', 'c');
    breakers.settle('a', ok);
    breakers.admit('slow', 'd');
    breakers.abandon('b');
    breakers.abandon('b');
    breakers.admit('slow', 'e');
    expect(refusalOf('slow').reason).toBe('saturated');
  });

  it('counts refusals by what answered them', async () => {
    const { breakers, metric } = setUp();
    breakers.refused('slow', 'fallback');
    breakers.refused('slow', 'failed');
    breakers.refused('slow', 'failed');
    expect(await metric('holdline_tool_breaker_rejections_total')).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ labels: { tool: 'slow', answer: 'fallback' }, value: 1 }),
        expect.objectContaining({ labels: { tool: 'slow', answer: 'failed' }, value: 2 }),
      ]),
    );
  });
});
