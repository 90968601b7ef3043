import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalRedis, type LocalRedis } from '../../src/cluster/redis-server';
import { createConsoleTools } from '../console/console-tools';
import { startHarness, type Harness } from '../support/harness';
import { freePort } from '../support/ports';
import { parseEventStream, readEvents, type ReceivedEvent } from '../support/sse';
import { waitFor } from '../support/wait';

/**
 * Progress reaches readers through a channel, pushed by the worker that runs
 * the tool: Redis between processes, memory within one. What it must not do is
 * ask Temporal over and over while a call runs (the cost of a watched call
 * would then grow with the time it waits, not with the progress it reports).
 */
let redis: LocalRedis;
let redisDir: string;
let withWorker: Harness;
let otherServer: Harness;
let unchanneled: Harness;

beforeAll(async () => {
  redisDir = mkdtempSync(join(tmpdir(), 'holdline-redis-'));
  redis = await startLocalRedis({ port: await freePort(), dir: redisDir });
  withWorker = await startHarness({ redisUrl: redis.url, tools: createConsoleTools() });
  // Another server on the same task queue and Redis, without a worker of its own: a second machine.
  otherServer = await startHarness({ redisUrl: redis.url, withoutWorker: true, taskQueue: withWorker.taskQueue, tools: createConsoleTools() });
  // A server with neither a worker nor Redis: it can only read progress from Temporal.
  unchanneled = await startHarness({ withoutWorker: true, taskQueue: withWorker.taskQueue, tools: createConsoleTools() });
}, 60_000);

afterAll(async () => {
  await Promise.all([otherServer?.stop(), unchanneled?.stop()]);
  await withWorker?.stop();
  await redis?.stop();
  rmSync(redisDir, { recursive: true, force: true });
});

/** Counts the times a server reads a call's state from Temporal (a describe each). */
function countReads(h: Harness): { count: () => number; restore: () => void } {
  const spy = jest.spyOn(h.server.gateway.calls, 'snapshot');
  return { count: () => spy.mock.calls.length, restore: () => spy.mockRestore() };
}

/** Opens a call's event stream and collects its events as they arrive. */
function watch(h: Harness, callId: string, token: string) {
  const events: ReceivedEvent[] = [];
  const abort = new AbortController();
  const ended = (async () => {
    const response = await fetch(`${h.url}/v1/tool-calls/${encodeURIComponent(callId)}/events`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
    expect(response.status).toBe(200);
    await parseEventStream(response.body as unknown as AsyncIterable<Uint8Array>, (event) => events.push(event));
  })().catch((error: unknown) => {
    if (!abort.signal.aborted) throw error;
  });
  return { events, ended, close: () => abort.abort() };
}

const ticksOf = (events: ReceivedEvent[]) => events.filter((e) => e.event === 'progress').map((e) => e.data.progress.message as string);

it('says where progress comes from', () => {
  const said = (h: Harness) => h.logs.map((line) => String(line.msg));
  expect(said(withWorker)).toContain('progress is pushed through Redis');
  expect(said(otherServer)).toContain('progress is pushed through Redis');
  expect(said(unchanneled).some((msg) => msg.startsWith('progress has no channel'))).toBe(true);
});

it('streams a call placed on one server from another through Redis, without reading Temporal while it runs', async () => {
  const token = await withWorker.token();
  const placed = await withWorker.call('steady_progress', { label: 'far', ms: 1_500, every_ms: 100 }, { key: 'push-far' });
  expect(placed.status).toBe(202);
  const reads = countReads(otherServer);
  try {
    const stream = watch(otherServer, 'push-far', token);
    await stream.ended;
    const ticks = ticksOf(stream.events);
    expect(ticks.length).toBeGreaterThanOrEqual(8);
    // In order, each once.
    const numbers = ticks.map((message) => Number(message.split(' ').at(-1)));
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    expect(new Set(numbers).size).toBe(numbers.length);
    expect(stream.events.at(-1)).toMatchObject({ event: 'completed', data: { result: { status: 'ok' } } });
    // The stream's opening snapshot reads the call once; the 1.5 s of progress took no reads.
    expect(reads.count()).toBeLessThanOrEqual(2);
  } finally {
    reads.restore();
  }
});

it('gives a reader who joins late the latest progress at once, then the rest as it comes', async () => {
  const token = await withWorker.token();
  // One tick, then 4 s of silence before the next (within the tool's 5 s heartbeat timeout).
  await withWorker.call('steady_progress', { label: 'late', ms: 30_000, every_ms: 4_000 }, { key: 'push-late' });
  const first = watch(withWorker, 'push-late', token);
  await waitFor(() => ticksOf(first.events).length === 1, 10_000, 'the first tick');
  first.close();

  const late = watch(otherServer, 'push-late', token);
  try {
    await waitFor(() => ticksOf(late.events).length >= 1, 3_000, 'the latest tick for the late reader');
    expect(ticksOf(late.events)[0]).toBe('late tick 1');
    await waitFor(() => ticksOf(late.events).length >= 2, 6_000, 'the next tick, pushed');
  } finally {
    await withWorker.post('/v1/tool-calls/push-late/cancel', {});
    await late.ended;
  }
  expect(late.events.at(-1)?.event).toBe('cancelled');
  // The opening snapshot, the channel's latest value and the pushed update name tick 1 once between them.
  expect(ticksOf(late.events).slice(0, 2)).toEqual(['late tick 1', 'late tick 2']);
});

it('without a channel, reads watched calls from Temporal (the fallback), and still delivers progress', async () => {
  const token = await withWorker.token();
  await withWorker.call('steady_progress', { label: 'polled', ms: 1_500, every_ms: 100 }, { key: 'push-polled' });
  const reads = countReads(unchanneled);
  try {
    const events = await readEvents(`${unchanneled.url}/v1/tool-calls/push-polled/events`, token);
    expect(ticksOf(events).length).toBeGreaterThan(0);
    expect(events.at(-1)?.event).toBe('completed');
    // The harness polls every 50 ms: what the channel saves.
    expect(reads.count()).toBeGreaterThan(5);
  } finally {
    reads.restore();
  }
});

it('sends a tool that reports in a tight loop at most every 50 ms, and never drops its last update', async () => {
  const token = await withWorker.token();
  await withWorker.call('steady_progress', { label: 'burst', ms: 600, every_ms: 1 }, { key: 'push-burst' });
  const events = await readEvents(`${otherServer.url}/v1/tool-calls/push-burst/events`, token);
  const ticks = ticksOf(events);
  const lastTick = Number(ticks.at(-1)!.split(' ').at(-1));
  // Hundreds of reports in 0.6 s; about one every 50 ms reached the reader, the last among them.
  expect(lastTick).toBeGreaterThan(50);
  expect(ticks.length).toBeLessThanOrEqual(600 / 50 + 3);
  expect(ticks.length).toBeGreaterThanOrEqual(3);
  expect(events.at(-1)?.event).toBe('completed');
  expect(events.at(-1)?.data.result.data.ticks).toBe(lastTick);
});

it('still ends every stream with the result while Redis is down', async () => {
  const token = await withWorker.token();
  await redis.stop();
  await withWorker.call('steady_progress', { label: 'no-redis', ms: 600, every_ms: 100 }, { key: 'push-no-redis' });
  const events = await readEvents(`${otherServer.url}/v1/tool-calls/push-no-redis/events`, token);
  expect(events.at(-1)).toMatchObject({ event: 'completed', data: { result: { status: 'ok' } } });
  expect(withWorker.logs.some((line) => line.msg === 'Redis unreachable; retrying in the background')).toBe(true);
});
