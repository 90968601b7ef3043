import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { parseWorkflowId } from '../../src/gateway';
import { parseEventStream } from '../../test/support/sse';
import { ConditionWaiters } from '../condition-waiters';

/**
 * The calls of the spike, timed as their client sees them, from the moment
 * it sends. A new call is either shed (a 429 RATE_LIMITED, or a read tool
 * answered from its fallback instead of running) or admitted; an admitted
 * call's follow-ups (its result by GET, its event stream, its approval or
 * cancel) must never be refused.
 */
export type SpikeKind = 'lookup' | 'refund_sse' | 'cancel_order_approved' | 'refund_cancelled' | 'realtime_lookup';

export interface SpikeSample {
  kind: SpikeKind;
  /** When it was due, from the start of its phase. */
  dueMs: number;
  /** How late the client sent it after it was due (the client's own lag). */
  lateMs: number;
  /** How the new call was answered. `skipped`: no realtime session was free to say it (not offered). */
  admission: 'admitted' | 'shed' | 'fallback' | 'refused_other' | 'skipped' | 'failed';
  /** Send → first answer (HTTP 202/200/429; realtime accepted, or the terminal event of a shed call). */
  answerMs?: number;
  /** Send → final envelope, for admitted calls. */
  finalMs?: number;
  /** The final envelope's status and code. */
  final?: { status: 'ok' | 'error'; code?: string };
  /** Follow-ups of an admitted call that were refused (any non-2xx), with what answered. */
  followUpRefusals: string[];
  /** For the check that each admitted call has a final envelope: who may read it, and its id. */
  owner?: { user: string; callId: string };
  /** Why a call was not admitted, or failed, in a few words. */
  note?: string;
}

/** The budgets (timeoutMs) of the example tools the spike calls. */
export const BUDGET_MS: Record<SpikeKind, number> = {
  lookup: 5_000,
  realtime_lookup: 5_000,
  refund_sse: 30_000,
  refund_cancelled: 30_000,
  cancel_order_approved: 10_000,
};

export interface Answer {
  status: number;
  body: any;
}

/** A caller over HTTP: node:http with a keep-alive pool, as bench/http.ts; every route the spike uses. */
export class SpikeHttp {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 128 });
  private readonly auth: Record<string, string>;

  constructor(
    readonly baseUrl: string,
    readonly user: string,
    readonly token: string,
  ) {
    this.auth = { authorization: `Bearer ${token}` };
  }

  send(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const text = body === undefined ? undefined : JSON.stringify(body);
      const req = request(
        `${this.baseUrl}${path}`,
        { method, agent: this.agent, timeout: timeoutMs, headers: { ...this.auth, ...headers, ...(text !== undefined ? { 'content-type': 'application/json' } : {}) } },
        (res) => {
          let data = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (data += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: parseJson(data) }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('request timed out')));
      req.on('error', reject);
      req.end(text);
    });
  }

  call(tool: string, args: unknown, key: string): Promise<Answer> {
    return this.send('POST', '/v1/tool-calls', { tool, arguments: args }, { 'idempotency-key': key });
  }

  result(callId: string, waitMs: number): Promise<Answer> {
    return this.send('GET', `/v1/tool-calls/${encodeURIComponent(callId)}?wait=${waitMs}`, undefined, {}, waitMs + 10_000);
  }

  /** Reads the call's event stream to its end; the HTTP status it opened with. */
  async events(callId: string, timeoutMs: number): Promise<{ status: number; terminal?: string }> {
    const response = await fetch(`${this.baseUrl}/v1/tool-calls/${encodeURIComponent(callId)}/events`, { headers: this.auth, signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok || !response.body) {
      await response.text().catch(() => undefined);
      return { status: response.status };
    }
    let terminal: string | undefined;
    await parseEventStream(response.body as unknown as AsyncIterable<Uint8Array>, (event) => {
      const type = String((event.data as { type?: unknown } | undefined)?.type ?? event.event ?? '');
      if (['tool_call.completed', 'tool_call.failed', 'tool_call.cancelled'].includes(type)) terminal = type;
    });
    return { status: response.status, ...(terminal ? { terminal } : {}) };
  }

  close(): void {
    this.agent.destroy();
  }
}

/** One new HTTP call of `kind`, with its follow-ups. */
export async function httpCall(client: SpikeHttp, kind: Exclude<SpikeKind, 'realtime_lookup'>, orderId: string, key: string): Promise<Omit<SpikeSample, 'dueMs' | 'lateMs'>> {
  const sample: Omit<SpikeSample, 'dueMs' | 'lateMs'> = { kind, admission: 'failed', followUpRefusals: [] };
  const tool = kind === 'lookup' ? 'lookup_order' : kind === 'cancel_order_approved' ? 'cancel_order' : 'refund_order';
  const args =
    kind === 'lookup' ? { order_id: orderId } : kind === 'cancel_order_approved' ? { order_id: orderId, reason: 'load test cancel' } : { order_id: orderId, amount_cents: 1, reason: 'load test refund' };
  const sentAt = performance.now();
  const refuse = (what: string, answer: Answer) => sample.followUpRefusals.push(`${what} ${answer.status} ${answer.body?.error_code ?? ''}`.trim());
  try {
    const first = await client.call(tool, args, key);
    sample.answerMs = performance.now() - sentAt;
    if (first.status === 429 && first.body?.error_code === 'RATE_LIMITED') {
      sample.admission = 'shed';
      return sample;
    }
    if (first.status === 200 && first.body?.fallback === true) {
      sample.admission = 'fallback';
      return sample;
    }
    if (first.status !== 200 && first.status !== 202) {
      sample.admission = 'refused_other';
      sample.note = `${first.status} ${first.body?.error_code ?? ''}`;
      return sample;
    }
    sample.admission = 'admitted';
    sample.owner = { user: client.user, callId: key };
    const followUps: Promise<void>[] = [];
    if (kind === 'refund_sse') {
      followUps.push(
        client.events(key, 60_000).then(
          (opened) => {
            if (opened.status !== 200) refuse('events', { status: opened.status, body: undefined });
          },
          (error: Error) => void sample.followUpRefusals.push(`events: ${error.message}`),
        ),
      );
    }
    if (kind === 'cancel_order_approved') {
      const approval = await client.send('POST', `/v1/tool-calls/${encodeURIComponent(key)}/approval`, { approved: true });
      if (approval.status !== 200 && approval.status !== 202) refuse('approval', approval);
    }
    if (kind === 'refund_cancelled') {
      const cancel = await client.send('POST', `/v1/tool-calls/${encodeURIComponent(key)}/cancel`);
      if (cancel.status !== 200 && cancel.status !== 202) refuse('cancel', cancel);
    }
    let final = first;
    const giveUpAt = sentAt + 120_000;
    while (final.status === 200 || final.status === 202) {
      if (final.body?.status === 'ok' || final.body?.status === 'error') break;
      if (performance.now() > giveUpAt) break;
      final = await client.result(key, 30_000);
      if (final.status !== 200) refuse('result', final);
    }
    if (final.body?.status === 'ok' || final.body?.status === 'error') {
      sample.finalMs = performance.now() - sentAt;
      sample.final = { status: final.body.status, ...(final.body.error_code ? { code: String(final.body.error_code) } : {}) };
    }
    await Promise.all(followUps);
  } catch (error) {
    sample.note = (error as Error).message;
  }
  return sample;
}

interface RealtimeCall {
  functionCallAt: number;
  answerAt?: number;
  acceptedAt?: number;
  terminalAt?: number;
  result?: any;
  workflowId?: string;
}

/**
 * A realtime caller, one line at a time (as bench/realtime.ts's BenchSession),
 * keeping each call's terminal envelope so a shed call is told from a failed one.
 */
export class SpikeSession {
  busy = false;
  private responding = false;
  private refused = 0;
  private lastEventAt = 0;
  private readonly calls = new Map<string, RealtimeCall>();
  private readonly conditions = new ConditionWaiters();

  private constructor(
    private readonly socket: WebSocket,
    readonly user: string,
  ) {
    socket.on('message', (data) => {
      const now = performance.now();
      this.lastEventAt = now;
      const event = JSON.parse(data.toString()) as Record<string, any>;
      const call = typeof event.call_id === 'string' ? this.calls.get(event.call_id) : undefined;
      if (event.type === 'error' && event.error?.code === 'conversation_already_has_active_response') this.refused += 1;
      else if (event.type === 'response.created') this.responding = true;
      else if (event.type === 'response.done') this.responding = false;
      else if (event.type === 'response.function_call_arguments.done') this.calls.set(event.call_id, { functionCallAt: now });
      else if (event.type === 'tool_call.accepted' && call) Object.assign(call, { acceptedAt: now, answerAt: call.answerAt ?? now, workflowId: event.workflow_id || undefined });
      else if (['tool_call.completed', 'tool_call.failed', 'tool_call.cancelled'].includes(event.type) && call && call.terminalAt === undefined) {
        Object.assign(call, { terminalAt: now, answerAt: call.answerAt ?? now, result: event.result });
      }
      this.conditions.wake();
    });
  }

  static async open(url: string, token: string, user: string): Promise<SpikeSession> {
    const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/realtime`, { headers: { authorization: `Bearer ${token}` } });
    const session = new SpikeSession(socket, user);
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    await session.conditions.until(() => session.lastEventAt > 0 && !session.responding, 20_000);
    return session;
  }

  /** Asks for a lookup and waits for its end and the model's quiet. */
  async lookup(orderId: string): Promise<Omit<SpikeSample, 'dueMs' | 'lateMs'>> {
    this.busy = true;
    const sample: Omit<SpikeSample, 'dueMs' | 'lateMs'> = { kind: 'realtime_lookup', admission: 'failed', followUpRefusals: [] };
    const before = new Set(this.calls.keys());
    const mine = () => [...this.calls.entries()].find(([id]) => !before.has(id))?.[1];
    try {
      this.socket.send(JSON.stringify({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: `look up order ${orderId}` }] } }));
      for (let asked = 0; asked < 5 && !mine(); asked++) {
        const refusedBefore = this.refused;
        this.socket.send(JSON.stringify({ type: 'response.create' }));
        await this.conditions.until(() => mine() !== undefined || this.refused > refusedBefore, 30_000);
        if (!mine()) await this.conditions.until(() => !this.responding, 30_000);
      }
      await this.conditions.until(() => mine()?.terminalAt !== undefined, 120_000);
      await this.conditions.until(() => !this.responding && performance.now() - this.lastEventAt > 20, 30_000);
    } catch {
      // Judged below from what arrived.
    }
    this.busy = false;
    const call = mine();
    if (!call) {
      sample.note = 'the model made no function call';
      return sample;
    }
    if (call.answerAt !== undefined) sample.answerMs = call.answerAt - call.functionCallAt;
    const result = call.result;
    if (result?.status === 'error' && result.error_code === 'RATE_LIMITED' && call.acceptedAt === undefined) sample.admission = 'shed';
    else if (result?.status === 'ok' && result.fallback === true) sample.admission = 'fallback';
    else if (call.acceptedAt !== undefined || call.workflowId) {
      sample.admission = 'admitted';
      const identity = call.workflowId ? parseWorkflowId(call.workflowId) : undefined;
      if (identity) sample.owner = { user: this.user, callId: identity.callId };
    } else if (result?.status === 'error') {
      sample.admission = 'refused_other';
      sample.note = String(result.error_code);
    } else sample.note = 'no answer';
    if (sample.admission === 'admitted' && call.terminalAt !== undefined && result) {
      sample.finalMs = call.terminalAt - call.functionCallAt;
      sample.final = { status: result.status, ...(result.error_code ? { code: String(result.error_code) } : {}) };
    }
    return sample;
  }

  close(): void {
    this.socket.close();
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
