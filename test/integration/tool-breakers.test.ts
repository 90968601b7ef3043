import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { createHttpToolSource } from '../../src/activities/http';
import { implementTool } from '../../src/activities';
import { defineTool } from '../../src/contracts/tool-spec';
import { freshKey, startHarness, type Harness } from '../support/harness';
import { waitFor } from '../support/wait';

/** A downstream service the tools call: it answers at once, or hangs past every attempt's timeout. */
interface Downstream {
  url: string;
  mode: 'ok' | 'hang';
  /** Requests received, by Idempotency-Key. */
  requests: Map<string, number>;
  close(): Promise<void>;
}

async function startDownstream(): Promise<Downstream> {
  const hanging = new Set<import('node:http').ServerResponse>();
  const downstream: Downstream = { url: '', mode: 'ok', requests: new Map(), close: async () => undefined };
  const server: Server = createServer((req, res) => {
    const key = String(req.headers['idempotency-key'] ?? '');
    downstream.requests.set(key, (downstream.requests.get(key) ?? 0) + 1);
    req.resume();
    if (downstream.mode === 'hang') {
      hanging.add(res);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ answer: 'fresh' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  downstream.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  downstream.close = async () => {
    for (const res of hanging) res.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return downstream;
}

/** A budget short enough that a hanging downstream fails a call in under a second. */
const SHORT = { ackAfterMs: 900, timeoutMs: 900, attemptTimeoutMs: 300 };
const COOLDOWN_MS = 1_000;

/** A read tool with a fallback, whose downstream is a delay the test sets. */
let slowReadDelayMs = 0;
const slowRead = defineTool({
  name: 'slow_read',
  description: 'Reads from a downstream whose latency the test sets; answers from a cache when its breaker is open.',
  input: z.strictObject({}),
  output: z.object({ source: z.string() }),
  scopes: ['test'],
  sideEffect: 'read',
  budget: SHORT,
  retry: { maxAttempts: 2, initialIntervalMs: 50, maxIntervalMs: 100 },
  fallbackConfidence: 0.5,
});
const slowReadTool = implementTool(
  slowRead,
  async (_args, ctx) => {
    await ctx.sleep(slowReadDelayMs);
    return { source: 'downstream' };
  },
  { fallback: async () => ({ source: 'cache' }) },
);

let downstream: Downstream;
let h: Harness;
let storeDelayMs = 0;
beforeAll(async () => {
  downstream = await startDownstream();
  const httpTool = (name: string) => ({
    name,
    description: 'Calls the downstream service.',
    input: { type: 'object', properties: {}, required: [] },
    url: `${downstream.url}/${name}`,
    scopes: ['test'],
    sideEffect: 'read' as const,
    budget: SHORT,
    retry: { maxAttempts: 2, initialIntervalMs: 50, maxIntervalMs: 100 },
  });
  h = await startHarness({
    tools: [slowReadTool],
    sources: [createHttpToolSource([httpTool('dep_read')])],
    toolBreakers: { threshold: 2, cooldownMs: COOLDOWN_MS },
    pollersEveryMs: 200,
    storeDelayMs: () => storeDelayMs,
  });
}, 30_000);
afterAll(async () => {
  await h?.stop();
  await downstream?.close();
});

const finalOf = async (key: string) => (await h.get(`/v1/tool-calls/${key}?wait=10000`)).body;
const metricsText = () => h.server.gateway.metrics.registry.metrics();
const metricValue = async (name: string, labels: string): Promise<number | undefined> => {
  const line = (await metricsText()).split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
};
const stateOf = (tool: string) => metricValue('holdline_tool_breaker_state', `tool="${tool}"`);

/** Fails `threshold` calls of `tool` against its hanging downstream: its breaker opens. */
async function trip(tool: string, hang: () => void): Promise<void> {
  hang();
  const keys = [freshKey('trip'), freshKey('trip')];
  await Promise.all(keys.map((key) => h.call(tool, {}, { key })));
  for (const key of keys) expect(await finalOf(key)).toMatchObject({ status: 'error', error_code: 'TIMEOUT' });
  await waitFor(async () => (await stateOf(tool)) === 2, 2_000, `${tool}'s breaker open`);
}

describe("a tool whose downstream hangs", () => {
  it('trips its breaker; its calls are then answered within 100 ms, while another tool keeps working; a probe after the cooldown closes it', async () => {
    expect(await stateOf('dep_read')).toBe(0);
    await trip('dep_read', () => (downstream.mode = 'hang'));
    expect(h.logs.some((line) => line.tool === 'dep_read' && line.tool_breaker === 'open')).toBe(true);

    const key = freshKey('refused');
    const started = performance.now();
    const refused = await h.call('dep_read', {}, { key });
    expect(performance.now() - started).toBeLessThan(100);
    expect(refused.status).toBe(503);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.body).toMatchObject({ status: 'error', error_code: 'TOOL_FAILED', retryable: true, tool: 'dep_read', details: { breaker: 'open' } });
    expect(refused.body.retry_after_ms).toBeGreaterThan(0);
    expect(downstream.requests.get(`acme/alice/${key}`)).toBeUndefined();
    expect(await metricValue('holdline_tool_breaker_rejections_total', 'tool="dep_read",answer="failed"')).toBeGreaterThanOrEqual(1);

    // Another tool meanwhile: ok, and fast.
    const other = performance.now();
    expect((await h.call('flaky_tool', { label: freshKey('other'), failures: 0 })).body).toMatchObject({ status: 'ok' });
    expect(performance.now() - other).toBeLessThan(1_000);
    expect(await stateOf('flaky_tool')).toBe(0);

    // The downstream recovers: after the cooldown one call goes through as the probe and closes the breaker.
    downstream.mode = 'ok';
    let answer: Awaited<ReturnType<Harness['call']>> | undefined;
    await waitFor(
      async () => {
        answer = await h.call('dep_read', {}, { key: freshKey('probe') });
        return answer.body.status === 'ok';
      },
      COOLDOWN_MS + 5_000,
      'a call through the closed breaker',
    );
    expect(answer!.body).toMatchObject({ status: 'ok', data: { answer: 'fresh' } });
    expect(await stateOf('dep_read')).toBe(0);
    expect(h.logs.filter((line) => line.tool === 'dep_read' && line.tool_breaker).map((line) => line.tool_breaker)).toEqual(['open', 'half_open', 'closed']);
  }, 30_000);

  it("answers from the tool's fallback while its breaker is open", async () => {
    await trip('slow_read', () => (slowReadDelayMs = 5_000));
    const started = performance.now();
    const answer = await h.call('slow_read', {}, { key: freshKey('fallback') });
    expect(performance.now() - started).toBeLessThan(100);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ status: 'ok', fallback: true, confidence: 0.5, data: { source: 'cache' } });
    expect(await metricValue('holdline_tool_breaker_rejections_total', 'tool="slow_read",answer="fallback"')).toBeGreaterThanOrEqual(1);
    slowReadDelayMs = 0;
  }, 30_000);
});

describe('the example store made slow', () => {
  it("slows the support tools' store requests by the delay set", async () => {
    storeDelayMs = 400;
    try {
      const started = performance.now();
      const answer = await h.call('lookup_order', { order_id: 'A-1001' });
      expect(answer.body).toMatchObject({ status: 'ok', data: { order_id: 'A-1001' } });
      expect(performance.now() - started).toBeGreaterThanOrEqual(400);
    } finally {
      storeDelayMs = 0;
    }
  }, 15_000);
});

describe('workers seen by the server', () => {
  it('reports the pollers Temporal sees on the task queue, at least one of each kind with a worker running', async () => {
    await waitFor(
      async () => ((await metricValue('holdline_task_queue_pollers', 'kind="workflow"')) ?? 0) >= 1 && ((await metricValue('holdline_task_queue_pollers', 'kind="activity"')) ?? 0) >= 1,
      10_000,
      'pollers of both kinds',
    );
  }, 15_000);
});
