import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import WebSocket from 'ws';
import type { HoldlineHttp } from '../http';
import { startProcessCpuMeter, type ProcessCpu } from './proc-cpu';

/** The processes whose CPU each phase reports. */
export type Measured = 'temporal' | 'server' | 'worker' | 'redis';

export interface PhasePlan {
  /** Long calls running together. */
  calls: number;
  /** Of them, how many a realtime session starts (one session each) when the phase is watched; the rest are HTTP calls. */
  realtime: number;
  /** Each call runs until the bench cancels it after the window, or this long at most; and reports progress every `intervalMs`. */
  durationMs: number;
  intervalMs: number;
  /** The CPU window, once every call runs and every reader listens. */
  windowMs: number;
  /** Pause between the last reader attaching and the window. */
  settleMs: number;
  /** HTTP starts and realtime sessions opened at once. */
  concurrency: number;
}

export interface PhaseTarget {
  http: HoldlineHttp;
  url: string;
  /** For cancelling the HTTP calls. */
  token: string;
  /** For realtime sessions (the user whose sessions may be many). */
  realtimeToken: string;
  pids: Record<Measured, number>;
}

export interface PhaseResult {
  watched: boolean;
  calls: number;
  /** Calls that got their 202 / `tool_call.accepted`. */
  acked: number;
  /** Why a start failed, with how many times. */
  refusals: Map<string, number>;
  startMs: number;
  /** Starts answered BACKEND_UNAVAILABLE (or no answer) and sent again with the same key. */
  retried: number;
  cpu: ProcessCpu<Measured>;
  /** Emitted → received, ms, for progress emitted inside the CPU window (full load). */
  latency: number[];
  /** Latency of every live progress event of the phase, the window's included. */
  latencyAll: number[];
  /** Progress events that were a replay of an update emitted before the reader attached (not a latency). */
  replayed: number;
  /** Calls that ended cancelled, as the bench asked after the window / that ended another way / that never ended. */
  completed: number;
  failed: number;
  lost: number;
  /** How the calls that did not end cancelled ended, with how many. */
  otherwise: Map<string, number>;
}

interface Reader {
  /** Date.now() when the reader started listening; earlier progress is a replay. */
  attachedAt?: number;
  done: Promise<string | undefined>;
}

/**
 * One phase: `plan.calls` long calls started together; when `watched`, each
 * read as it runs (SSE, or the realtime session that started it). The CPU of
 * Temporal, the server, the worker and Redis is measured over a window in
 * which every call runs and every reader listens.
 */
export async function runPhase(target: PhaseTarget, plan: PhasePlan, watched: boolean, say: (line: string) => void): Promise<PhaseResult> {
  const samples: { emittedAt: number; latency: number }[] = [];
  let replayed = 0;
  const heard = (reader: Reader, message: string, receivedAt: number) => {
    const emittedAt = Number(message);
    if (!Number.isFinite(emittedAt)) return;
    if (reader.attachedAt === undefined || emittedAt < reader.attachedAt) replayed++;
    else samples.push({ emittedAt, latency: receivedAt - emittedAt });
  };
  const refusals = new Map<string, number>();
  let retried = 0;
  const refused = (reason: string) => refusals.set(reason, (refusals.get(reason) ?? 0) + 1);
  const args = { duration_ms: plan.durationMs, interval_ms: plan.intervalMs };
  const runKey = randomUUID().slice(0, 8);
  const readers: Reader[] = [];
  const callIds: string[] = [];
  const httpCalls = watched ? plan.calls - plan.realtime : plan.calls;
  const sessions: RealtimeCall[] = [];
  const startedAt = performance.now();

  await pool(httpCalls, plan.concurrency, async (i) => {
    const key = `watched-${runKey}-${i}`;
    const send = () => target.http.call('bench_long_progress', args, key).catch((error: unknown) => ({ status: 0, body: String(error) }));
    let answer = await send();
    // As a client would: BACKEND_UNAVAILABLE and shedding (RATE_LIMITED) are retryable, and the same key attaches if the first start went through.
    for (let retry = 0; retry < 10 && (answer.status === 503 || answer.status === 429 || answer.status === 0); retry++) {
      retried++;
      await delay(1_000);
      answer = await send();
    }
    if (answer.status !== 202) return refused(`HTTP ${answer.status} ${JSON.stringify(answer.body).slice(0, 120)}`);
    const callId = String(answer.body.call_id);
    callIds.push(callId);
    if (!watched) return;
    const reader: Reader = { done: Promise.resolve(undefined) };
    reader.done = readStream(target.http, callId, plan.durationMs + 60_000, {
      opened: () => (reader.attachedAt ??= Date.now()),
      progress: (message, at) => heard(reader, message, at),
    });
    readers.push(reader);
  });
  if (watched) {
    await pool(plan.realtime, plan.concurrency, async () => {
      const call = await RealtimeCall.start(target.url, target.realtimeToken, args, (reader, message, at) => heard(reader, message, at)).catch((error: unknown) => {
        refused(`realtime: ${String(error).slice(0, 120)}`);
        return undefined;
      });
      if (call) {
        sessions.push(call);
        readers.push(call.reader);
      }
    });
  }
  const acked = callIds.length + sessions.length;
  const startMs = performance.now() - startedAt;
  // Every SSE reader listening (its `accepted` event arrived) before the window opens.
  const attachDeadline = Date.now() + 30_000;
  while (readers.some((r) => r.attachedAt === undefined) && Date.now() < attachDeadline) await delay(50);
  say(`  ${acked} of ${plan.calls} calls acked in ${(startMs / 1000).toFixed(1)} s${watched ? `, ${readers.filter((r) => r.attachedAt !== undefined).length} readers listening` : ''}${retried ? `; ${retried} starts retried after BACKEND_UNAVAILABLE` : ''}${refusals.size ? `; not started: ${[...refusals].map(([reason, n]) => `${n}× ${reason}`).join('; ')}` : ''}; settling ${plan.settleMs / 1000} s`);
  await delay(plan.settleMs);

  const windowMs = plan.windowMs;
  say(`  measuring CPU for ${(windowMs / 1000).toFixed(1)} s`);
  const meter = startProcessCpuMeter(target.pids);
  const windowStart = Date.now();
  await delay(windowMs);
  const cpu = meter.stop();
  const windowEnd = Date.now();

  say('  cancelling the calls and waiting for them to end');
  // A realtime user cancels by speaking over the model (barge-in); an HTTP caller asks for it.
  for (const session of sessions) session.bargeIn();
  let cancelRefused = 0;
  await pool(callIds.length, plan.concurrency, async (i) => {
    if (!(await cancel(target.url, target.token, callIds[i]!))) cancelRefused++;
  });
  if (cancelRefused) say(`  ${cancelRefused} cancel requests not accepted`);
  let completed = 0;
  let failed = 0;
  const otherwise = new Map<string, number>();
  const endedOtherwise = (how: string) => {
    failed++;
    otherwise.set(how, (otherwise.get(how) ?? 0) + 1);
  };
  if (watched) {
    const outcomes = await Promise.all(readers.map((r) => r.done));
    for (const outcome of outcomes) {
      if (outcome === 'cancelled') completed++;
      else if (outcome !== undefined) endedOtherwise(outcome);
    }
    for (const session of sessions) session.close();
  } else {
    // After the window: reading results now does not count against the unwatched figure.
    await pool(callIds.length, plan.concurrency, async (i) => {
      const answer = await target.http.result(callIds[i]!, 60_000).catch(() => undefined);
      if (answer?.body?.error_code === 'CANCELLED') completed++;
      else if (answer?.body?.status) endedOtherwise(String(answer.body.error_code ?? answer.body.status));
    });
  }
  return {
    watched,
    calls: plan.calls,
    acked,
    refusals,
    startMs,
    retried,
    cpu,
    latency: samples.filter((s) => s.emittedAt >= windowStart && s.emittedAt < windowEnd).map((s) => s.latency),
    latencyAll: samples.map((s) => s.latency),
    replayed,
    completed,
    failed,
    lost: acked - completed - failed,
    otherwise,
  };
}

/** Asks Holdline to cancel a call; true when it took the request (or the call had ended). */
async function cancel(url: string, token: string, callId: string): Promise<boolean> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const status = await fetch(`${url}/v1/tool-calls/${encodeURIComponent(callId)}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(15_000) }).then(
      async (response) => {
        await response.arrayBuffer();
        return response.status;
      },
      () => 0,
    );
    if (status === 200 || status === 202) return true;
    if (status !== 503 && status !== 0) return false;
    await delay(1_000);
  }
  return false;
}

/** Reads one call's SSE stream to its end; resolves with the terminal event's name (completed, failed, cancelled), or undefined. */
async function readStream(http: HoldlineHttp, callId: string, timeoutMs: number, on: { opened: () => void; progress: (message: string, receivedAt: number) => void }): Promise<string | undefined> {
  let terminal: string | undefined;
  try {
    await http.events(
      callId,
      ({ event, data, receivedAt }) => {
        if (event === 'accepted') on.opened();
        else if (event === 'progress') on.progress(String(data?.progress?.message), receivedAt);
        else terminal = event === 'cancelled' ? event : `${event} ${String(data?.result?.error_code ?? '')}`.trim();
      },
      timeoutMs,
    );
  } catch {
    // counted as lost
  }
  return terminal;
}

/** One realtime session whose model makes one long call: the session acks it and forwards its progress. */
class RealtimeCall {
  readonly reader: Reader;

  private settle!: (terminal: string | undefined) => void;

  private constructor(private readonly socket: WebSocket) {
    this.reader = { done: new Promise((resolve) => (this.settle = resolve)) };
  }

  static async start(url: string, token: string, args: object, heard: (reader: Reader, message: string, receivedAt: number) => void): Promise<RealtimeCall> {
    const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/realtime`, { headers: { authorization: `Bearer ${token}` } });
    const call = new RealtimeCall(socket);
    let first: () => void = () => undefined;
    const opened = new Promise<void>((resolve) => (first = resolve));
    let accepted: () => void = () => undefined;
    let refusedCall: (reason: string) => void = () => undefined;
    socket.on('message', (data) => {
      const receivedAt = Date.now();
      const event = JSON.parse(data.toString()) as Record<string, any>;
      first();
      if (event.type === 'tool_call.accepted') {
        call.reader.attachedAt ??= receivedAt;
        accepted();
      } else if (event.type === 'tool_call.progress') heard(call.reader, String(event.progress?.message), receivedAt);
      else if (event.type === 'tool_call.failed' && call.reader.attachedAt === undefined) refusedCall(String(event.result?.error_code));
      else if (event.type === 'tool_call.cancelled') call.settle('cancelled');
      else if (['tool_call.completed', 'tool_call.failed'].includes(event.type)) call.settle(`realtime ${event.type.slice('tool_call.'.length)} ${String(event.result?.error_code ?? '')}`.trim());
    });
    socket.once('close', () => call.settle(undefined));
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    await within(opened, 20_000, 'no event from the session');
    // A call refused before it started (shed while starting) is asked for again, as the user would.
    for (let attempt = 1; ; attempt++) {
      const outcome = new Promise<string>((resolve) => {
        accepted = () => resolve('accepted');
        refusedCall = resolve;
      });
      // The scripted model's documented rule: "call <tool> with <json>" is exactly that function call.
      socket.send(JSON.stringify({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: `call bench_long_progress with ${JSON.stringify(args)}` }] } }));
      socket.send(JSON.stringify({ type: 'response.create' }));
      const result = await within(outcome, 20_000, 'no tool_call.accepted').catch((error: Error) => error.message);
      if (result === 'accepted') return call;
      if (attempt >= 10 || !['RATE_LIMITED', 'BACKEND_UNAVAILABLE'].includes(result)) {
        socket.close();
        throw new Error(result);
      }
      await delay(1_000);
    }
  }

  /** What a client sends when its user speaks over the model: the session cancels the calls that may stop. */
  bargeIn(): void {
    this.socket.send(JSON.stringify({ type: 'response.cancel' }));
  }

  close(): void {
    this.socket.close();
  }
}

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(what)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `task(0..count-1)` with at most `concurrency` at once. */
async function pool(count: number, concurrency: number, task: (index: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await task(next++);
    }),
  );
}
