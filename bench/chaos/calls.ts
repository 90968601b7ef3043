import { setTimeout as delay } from 'node:timers/promises';
import type { HoldlineHttp, HttpAnswer } from '../http';

/**
 * What the chaos run saw of one tool call, whichever way it was made: the
 * answers to its requests, the terminal events its stream delivered, and the
 * final envelope read back. The invariants are checked on these.
 */
export interface Envelope {
  status: string;
  error_code?: string;
  details?: unknown;
  data?: Record<string, unknown>;
  [field: string]: unknown;
}

export interface ObservedCall {
  /** What the scenario calls it, for failure messages. */
  label: string;
  /** The workflow id, `<tenant>/<user>/<key>`: the key the provider and ledger see. Unknown if never answered. */
  workflowId?: string;
  /** The refund's order and amount, when it is one. */
  refund?: { orderId: string; amountCents: number };
  /** Terminal events on a stream that was followed (SSE, realtime); undefined if none was. */
  streamTerminals?: string[];
  /** The one final envelope: from a 200 answer, the realtime terminal event, or GET ?wait=. */
  final?: Envelope;
  /** Answers that were neither accepted nor final (429, 503, 409…), in order. */
  rejections: string[];
  /** The call never started: its last answer was a rejection. */
  rejected?: boolean;
  /** Facts for failure messages. */
  notes: string[];
}

export const TERMINAL_EVENTS = ['completed', 'failed', 'cancelled'];

export interface HttpCallOptions {
  /** Follow the call's event stream and count its terminal events. */
  followStream: boolean;
  /** Retry with the same key after 503 and network errors (the client's side of an unknown outcome), until the deadline. */
  retryUnavailable: boolean;
  /** Give up on the final envelope after this long. */
  deadlineMs: number;
}

export function newCall(label: string, refund?: { orderId: string; amountCents: number }): ObservedCall {
  return { label, ...(refund ? { refund } : {}), rejections: [], notes: [] };
}

/**
 * One call over HTTP as a careful client makes it: POST with an
 * Idempotency-Key, follow its events, then read its final envelope (retrying
 * the same key while the backend is unavailable).
 */
export async function httpCall(client: HoldlineHttp, call: ObservedCall, tool: string, args: unknown, key: string, options: HttpCallOptions): Promise<ObservedCall> {
  const deadline = Date.now() + options.deadlineMs;
  let answer: HttpAnswer | undefined;
  while (!answer) {
    try {
      answer = await client.call(tool, args, key);
    } catch (error) {
      call.notes.push(`POST failed: ${(error as Error).message}`);
      if (!options.retryUnavailable || Date.now() > deadline) return call;
      await delay(200);
      continue;
    }
    if (answer.status === 503 && options.retryUnavailable && Date.now() < deadline) {
      call.rejections.push(describe(answer));
      answer = undefined;
      await delay(250);
    }
  }
  if (answer.body?.workflow_id) call.workflowId = answer.body.workflow_id;
  if (answer.status === 200) {
    call.final = answer.body as Envelope;
    return call;
  }
  if (answer.status !== 202) {
    // An answer, so not lost; the checks count a rejected call as a failure of its own.
    call.rejections.push(describe(answer));
    call.rejected = true;
    if (answer.body?.status === 'error') call.final = answer.body as Envelope;
    return call;
  }
  const stream = options.followStream ? followStream(client, call, key, deadline) : Promise.resolve();
  call.final = await finalEnvelope(client, call, key, deadline, options.retryUnavailable);
  await stream;
  return call;
}

/** Counts the terminal events of the call's SSE stream until it ends. */
export async function followStream(client: HoldlineHttp, call: ObservedCall, callId: string, deadline: number): Promise<void> {
  const terminals: string[] = [];
  try {
    await client.events(callId, (event) => {
      if (TERMINAL_EVENTS.includes(event.event)) terminals.push(event.event);
    }, Math.max(1_000, deadline - Date.now()));
    call.streamTerminals = terminals;
  } catch (error) {
    call.notes.push(`event stream broke: ${(error as Error).message}`);
  }
}

/** GET ?wait= until the call's envelope is final or the deadline passes. */
export async function finalEnvelope(client: HoldlineHttp, call: ObservedCall, callId: string, deadline: number, retryUnavailable = true): Promise<Envelope | undefined> {
  let last = '';
  while (Date.now() < deadline) {
    try {
      const answer = await client.result(callId, Math.min(25_000, Math.max(1_000, deadline - Date.now())));
      if (answer.status === 200 && ['ok', 'error'].includes(answer.body?.status)) return answer.body as Envelope;
      last = answer.status === 200 ? `still ${answer.body?.status}` : describe(answer);
      if (answer.status !== 200 && !(answer.status === 503 && retryUnavailable)) break;
    } catch (error) {
      last = `GET failed: ${(error as Error).message}`;
      if (!retryUnavailable) break;
    }
    await delay(200);
  }
  call.notes.push(`no final envelope (last answer: ${last || 'none'})`);
  return undefined;
}

export function describe(answer: HttpAnswer): string {
  const body = answer.body as Envelope | undefined;
  return `${answer.status} ${body?.error_code ?? body?.status ?? ''}`.trim();
}

/** The tool's own error type inside an error envelope, e.g. REFUND_EXCEEDS_BALANCE. */
export function toolErrorType(envelope: Envelope | undefined): string | undefined {
  const details = envelope?.details as { type?: unknown; error_type?: unknown } | undefined;
  const type = details?.type ?? details?.error_type;
  return typeof type === 'string' ? type : undefined;
}
