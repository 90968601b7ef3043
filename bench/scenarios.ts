import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { readOrder } from '../examples/support-desk';
import { PLAN, TENANT } from './config';
import type { BenchEnv } from './setup';
import { timed } from './stats';
import { BenchError } from './bench-error';

/**
 * The latency scenarios. Holdline and raw samples are interleaved round by
 * round, so drift over the run (a growing SQLite file, a warming JIT) weighs
 * on both sides alike. Every sample is sequential: latency, not queueing.
 */

const key = (prefix: string) => `bench-${prefix}-${randomUUID()}`;

/** Orders with large balances: 1 cent per refund never exhausts them. */
const REFUND_ORDERS = ['A-1003', 'A-1005'];

export interface AckResult {
  holdline: number[];
  raw: number[];
  /** The same HTTP round trip, rejected by the gateway before any Temporal request: what HTTP alone costs. */
  httpFloor: number[];
}

/** refund_order's 202 (the workflow start is durable) vs a raw workflow start. */
export async function measureAck(env: BenchEnv): Promise<AckResult> {
  const result: AckResult = { holdline: [], raw: [], httpFloor: [] };
  const { warmup, samples } = PLAN.ack;
  for (let i = 0; i < warmup + samples; i++) {
    const round = {
      holdline: await holdlineAck(env, REFUND_ORDERS[i % REFUND_ORDERS.length]!),
      raw: await rawAck(env),
      httpFloor: await httpFloor(env),
    };
    if (i < warmup) continue;
    for (const name of Object.keys(round) as (keyof AckResult)[]) result[name].push(round[name]);
  }
  return result;
}

async function holdlineAck(env: BenchEnv, orderId: string): Promise<number> {
  const args = { order_id: orderId, amount_cents: 1, reason: 'bench: one cent' };
  const { ms, value: answer } = await timed(() => env.http.call('refund_order', args, key('ack')));
  if (answer.status !== 202 || answer.body?.status !== 'accepted') {
    throw new BenchError(`refund_order answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  }
  // Untimed: let the refund finish, so the next sample does not queue behind it.
  const envelope = (await env.raw.resultOf(answer.body.workflow_id)) as { status?: string };
  if (envelope.status !== 'ok') throw new BenchError(`a bench refund failed: ${JSON.stringify(envelope)}`);
  return ms;
}

/** POST /v1/tool-calls for a tool that does not exist: body parsing, routing and an envelope, no Temporal. */
async function httpFloor(env: BenchEnv): Promise<number> {
  const { ms, value: answer } = await timed(() => env.http.call('no_such_tool', {}, key('floor')));
  if (answer.status !== 404 || answer.body?.error_code !== 'UNKNOWN_TOOL') {
    throw new BenchError(`an unknown tool answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  }
  return ms;
}

async function rawAck(env: BenchEnv): Promise<number> {
  const { ms, value } = await timed(() => env.raw.start());
  await env.raw.resultOf(value.workflowId);
  return ms;
}

export interface LookupResult {
  holdline: number[];
  rawActivity: number[];
  rawLocalActivity: number[];
  inProcess: number[];
}

/** lookup_order through HTTP to its final envelope vs raw round trips and the handler's own work. */
export async function measureLookup(env: BenchEnv): Promise<LookupResult> {
  const result: LookupResult = { holdline: [], rawActivity: [], rawLocalActivity: [], inProcess: [] };
  const { warmup, samples } = PLAN.lookup;
  for (let i = 0; i < warmup + samples; i++) {
    const round = {
      holdline: await holdlineLookup(env),
      rawActivity: (await timed(() => env.raw.execute('activity'))).ms,
      rawLocalActivity: (await timed(() => env.raw.execute('local-activity'))).ms,
      inProcess: await inProcessLookup(env),
    };
    if (i < warmup) continue;
    for (const name of Object.keys(round) as (keyof LookupResult)[]) result[name].push(round[name]);
  }
  return result;
}

async function holdlineLookup(env: BenchEnv): Promise<number> {
  const { ms, value: answer } = await timed(() => env.http.call('lookup_order', { order_id: 'A-1001' }, key('lookup')));
  if (answer.status !== 200 || answer.body?.status !== 'ok' || answer.body.data?.order_id !== 'A-1001') {
    throw new BenchError(`lookup_order answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  }
  return ms;
}

/** What the lookup_order handler does, called directly: the floor under any remote path. */
async function inProcessLookup(env: BenchEnv): Promise<number> {
  const started = performance.now();
  const order = await readOrder(env.store, TENANT, 'A-1001');
  const elapsed = performance.now() - started;
  if (order.order_id !== 'A-1001') throw new BenchError('readOrder returned the wrong order');
  return elapsed;
}

export interface ProgressResult {
  /** Heartbeat emitted → progress event received over SSE, ms. */
  samples: number[];
  calls: number;
  /** Heartbeats the tool emitted, by its own count. */
  emitted: number;
  /** Progress events received. */
  received: number;
  /** Progress emitted before the stream was requested; replayed from a snapshot, so not a delivery latency. */
  skipped: number;
}

/** bench_progress calls one after another, each read over its SSE stream. */
export async function measureProgress(env: BenchEnv): Promise<ProgressResult> {
  const result: ProgressResult = { samples: [], calls: 0, emitted: 0, received: 0, skipped: 0 };
  for (let i = 0; i < PLAN.progress.calls; i++) await progressCall(env, result);
  return result;
}

async function progressCall(env: BenchEnv, result: ProgressResult): Promise<void> {
  const { durationMs, intervalMs } = PLAN.progress;
  const answer = await env.http.call('bench_progress', { duration_ms: durationMs, interval_ms: intervalMs }, key('progress'));
  if (answer.status !== 202) throw new BenchError(`bench_progress answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  const requestedAt = Date.now();
  let final: any;
  await env.http.events(answer.body.call_id, ({ event, data, receivedAt }) => {
    if (event === 'progress') {
      result.received++;
      const emittedAt = Number(data.progress.message);
      if (emittedAt < requestedAt) result.skipped++;
      else result.samples.push(receivedAt - emittedAt);
    } else if (event !== 'accepted') {
      final = data;
    }
  });
  if (final?.type !== 'tool_call.completed') throw new BenchError(`bench_progress ended with ${JSON.stringify(final)}`);
  result.calls++;
  result.emitted += Number(final.result.data.ticks);
}
