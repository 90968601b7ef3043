import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import WebSocket from 'ws';
import { TokenVerifier } from '../src/gateway';
import { startScriptedModel, type ScriptedModel } from '../src/scripted-model/server';
import { freePort } from '../test/support/ports';
import { ConditionWaiters } from './condition-waiters';
import { TOOL_MAX_IN_FLIGHT } from './config';

/**
 * Realtime sessions over real WebSockets: a Holdline server process of its
 * own (so its memory is its own), the scripted model, and clients here.
 */
export interface SessionServer {
  url: string;
  token: string;
  /** Resident set and V8 heap (after a full collection) of the server process. */
  memory(): Promise<{ rssMb: number; heapMb: number }>;
  stop(): Promise<void>;
}

export async function startSessionServer(temporalAddress: string, taskQueue: string, scopes: string[]): Promise<SessionServer> {
  const model: ScriptedModel = await startScriptedModel({ speakMs: 0 });
  const port = await freePort();
  const secret = randomBytes(32).toString('base64url');
  const child: ChildProcess = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', join(__dirname, 'session-server-process.ts')], {
    env: {
      ...process.env,
      NODE_ENV: 'production',
      PORT: String(port),
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_TASK_QUEUE: taskQueue,
      HOLDLINE_MODEL_URL: model.url,
      HOLDLINE_JWT_SECRET: secret,
      HOLDLINE_TENANT_RATE_PER_SEC: '100000',
      HOLDLINE_TENANT_BURST: '100000',
      HOLDLINE_SESSION_MAX_IN_FLIGHT: '1000',
      // Every load session is one user's: the per-user session cap (10 by default) would refuse all but the first ten.
      HOLDLINE_MAX_SESSIONS_PER_USER: '1000',
      // Admission lifted like the limits: a shed lookup answered from its fallback never reaches Temporal.
      HOLDLINE_ADMISSION: 'off',
      HOLDLINE_TOOL_MAX_IN_FLIGHT: String(TOOL_MAX_IN_FLIGHT),
      LOG_LEVEL: 'error',
      OPENAI_API_KEY: '',
    },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ready = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('the session server did not become ready');
    await delay(100);
  }
  const token = await new TokenVerifier(secret).issue({ tenantId: 'acme', userId: 'bench-rt', scopes });
  return {
    url,
    token,
    memory: () =>
      new Promise((resolve) => {
        child.once('message', (m) => resolve(m as { rssMb: number; heapMb: number }));
        child.send('memory');
      }),
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
      await model.close();
    },
  };
}

/** One timed call: when the model's function call completed, when the client heard `accepted`, and the terminal event. */
export interface CallTiming {
  functionCallAt: number;
  acceptedAt?: number;
  terminalAt?: number;
  terminal?: string;
  /** Terminal events received for the call: one, unless a result was delivered twice. */
  terminals?: number;
  /** The call's workflow id, from `tool_call.accepted`. */
  workflowId?: string;
  /** Its result came from the tool's fallback, not from a workflow. */
  fallback?: boolean;
}

/** A realtime client that says one line at a time and times each call. */
export class BenchSession {
  private responding = false;
  /** How many of this client's response.create the model refused because a response was under way. */
  private refused = 0;
  private lastEventAt = 0;
  readonly calls = new Map<string, CallTiming>();
  private readonly conditions = new ConditionWaiters();

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const now = performance.now();
      this.lastEventAt = now;
      const event = JSON.parse(data.toString()) as Record<string, any>;
      if (event.type === 'error' && event.error?.code === 'conversation_already_has_active_response') this.refused += 1;
      else if (event.type === 'response.created') this.responding = true;
      else if (event.type === 'response.done') this.responding = false;
      else if (event.type === 'response.function_call_arguments.done') this.calls.set(event.call_id, { functionCallAt: now });
      else if (event.type === 'tool_call.accepted') {
        const call = this.calls.get(event.call_id);
        if (call) Object.assign(call, { acceptedAt: now, workflowId: event.workflow_id });
      } else if (['tool_call.completed', 'tool_call.failed', 'tool_call.cancelled'].includes(event.type)) {
        const call = this.calls.get(event.call_id);
        if (call) call.terminals = (call.terminals ?? 0) + 1;
        if (call && call.terminalAt === undefined) Object.assign(call, { terminalAt: now, terminal: event.type, fallback: event.result?.fallback === true });
      }
      this.conditions.wake();
    });
  }

  static async open(url: string, token: string): Promise<BenchSession> {
    const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/realtime`, { headers: { authorization: `Bearer ${token}` } });
    // Listen before 'open': the first frames can arrive in the same chunk as the upgrade answer.
    const session = new BenchSession(socket);
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    await session.conditions.until(() => session.lastEventAt > 0 && !session.responding, 20_000);
    return session;
  }

  /** Says `text`, waits for the call it causes to end and the model to fall quiet; returns its timing. */
  async call(text: string, timeoutMs = 30_000): Promise<CallTiming | undefined> {
    const before = new Set(this.calls.keys());
    this.socket.send(JSON.stringify({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] } }));
    const mine = () => [...this.calls.entries()].find(([id]) => !before.has(id))?.[1];
    try {
      // The model refuses a response.create while one of its responses (say, Holdline's note of the last
      // result) is under way, as OpenAI's does: then ask again once it is quiet, as a real client would.
      for (let asked = 0; asked < 5 && !mine(); asked++) {
        const refusedBefore = this.refused;
        this.socket.send(JSON.stringify({ type: 'response.create' }));
        await this.conditions.until(() => mine() !== undefined || this.refused > refusedBefore, timeoutMs);
        if (!mine()) await this.conditions.until(() => !this.responding, timeoutMs);
      }
      await this.conditions.until(() => mine()?.terminalAt !== undefined, timeoutMs);
      // Quiet: no response under way and nothing heard for a moment, so the next line does not talk over the model.
      await this.conditions.until(() => !this.responding && performance.now() - this.lastEventAt > 20, timeoutMs);
    } catch {
      // A call without a terminal event is counted as lost by the caller.
    }
    return mine();
  }

  close(): void {
    this.socket.close();
  }
}

export interface RealtimeLatency {
  /** Model's completed function call → `tool_call.accepted` at the client (refund_order, a slow tool). */
  accepted: number[];
  /** Model's completed function call → the final result at the client (lookup_order, a fast tool). */
  fastResult: number[];
}

export async function measureRealtimeLatency(server: SessionServer, plan: { warmup: number; samples: number }): Promise<RealtimeLatency> {
  const session = await BenchSession.open(server.url, server.token);
  const accepted: number[] = [];
  const fastResult: number[] = [];
  try {
    for (let i = 0; i < plan.warmup + plan.samples; i++) {
      const refund = await session.call(`refund order ${i % 2 ? 'A-1003' : 'A-1005'} for $0.01`);
      const lookup = await session.call('look up order A-1001');
      if (i < plan.warmup) continue;
      if (refund?.acceptedAt !== undefined) accepted.push(refund.acceptedAt - refund.functionCallAt);
      if (lookup?.terminalAt !== undefined) fastResult.push(lookup.terminalAt - lookup.functionCallAt);
    }
  } finally {
    session.close();
  }
  return { accepted, fastResult };
}

export interface RealtimeLoad {
  sessions: number;
  durationMs: number;
  /** Function calls the model made. */
  calls: number;
  /** Completed through a workflow. */
  completed: number;
  /** Completed from the tool's fallback (a breaker open, or Temporal unreachable): no workflow ran. */
  answeredByFallback: number;
  failed: number;
  /** Function calls that got no terminal event at all. */
  lost: number;
  callsPerSec: number;
  memory: { atMs: number; rssMb: number; heapMb: number }[];
}

/** `sessions` clients, each asking for one lookup after another for `durationMs`; the server's memory sampled throughout. */
export async function realtimeLoad(server: SessionServer, plan: { sessions: number; durationMs: number; memoryEveryMs: number }): Promise<RealtimeLoad> {
  const sessions = await Promise.all(Array.from({ length: plan.sessions }, () => BenchSession.open(server.url, server.token)));
  const memory: RealtimeLoad['memory'] = [];
  const started = performance.now();
  const sampler = setInterval(() => {
    void server.memory().then((m) => memory.push({ atMs: Math.round(performance.now() - started), ...m }));
  }, plan.memoryEveryMs);
  const deadline = started + plan.durationMs;
  await Promise.all(
    sessions.map(async (session, index) => {
      const orders = ['A-1001', 'A-1002', 'A-1003', 'A-1004', 'A-1005'];
      for (let i = index; performance.now() < deadline; i++) await session.call(`look up order ${orders[i % orders.length]}`);
    }),
  );
  const elapsed = performance.now() - started;
  clearInterval(sampler);
  memory.push({ atMs: Math.round(elapsed), ...(await server.memory()) });
  let calls = 0;
  let completed = 0;
  let answeredByFallback = 0;
  let failed = 0;
  for (const session of sessions) {
    for (const call of session.calls.values()) {
      calls += 1;
      // A fallback's answer never went through Temporal: not throughput to count.
      if (call.terminal === 'tool_call.completed' && call.fallback) answeredByFallback += 1;
      else if (call.terminal === 'tool_call.completed') completed += 1;
      else if (call.terminal) failed += 1;
    }
    session.close();
  }
  return { sessions: plan.sessions, durationMs: Math.round(elapsed), calls, completed, answeredByFallback, failed, lost: calls - completed - answeredByFallback - failed, callsPerSec: completed / (elapsed / 1000), memory };
}
