import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { RealtimeServerEvent } from 'openai/resources/realtime/realtime';
import WebSocket, { WebSocketServer } from 'ws';
import { planCalls, wantsHangUp, wantsStream, type PlannedCall } from './rules';
import { HELP, speakEnvelope, speakProgress } from './speech';

/**
 * A stand-in for the OpenAI Realtime API that speaks its WebSocket event
 * protocol (event shapes typed by the `openai` package), so the offline demo
 * and the tests run Holdline's real code path. It answers text, not audio:
 * a user message becomes function calls by the rules in rules.ts, a tool
 * result becomes a short spoken-style answer. `?call_id=` joins an existing
 * conversation, as OpenAI's sideband connections do, and is refused with 404
 * when no such conversation is open; a connection without it starts one, whose
 * id is `session.created`'s `session.id`.
 */
export interface ScriptedModelOptions {
  port?: number;
  host?: string;
  /** How long a spoken answer takes before `response.done`; barge-in can cut it. Default 50 ms. */
  speakMs?: number;
  /** Send every function call's events twice, as a flaky network might. */
  repeatFunctionCalls?: boolean;
  /** Hold every WebSocket handshake this long before answering it, as a slow provider would. */
  handshakeDelayMs?: number;
  /** Answer pings (default true); false plays a model whose connection went half-open. */
  answerPings?: boolean;
}

export interface ScriptedModel {
  url: string;
  /** Every client event received, in order, for tests to inspect. */
  received: Record<string, unknown>[];
  connections(): number;
  /** WebSocket handshakes begun, and answered (accepted or refused). */
  handshakes(): { begun: number; answered: number };
  close(): Promise<void>;
}

type Item = Record<string, unknown> & { id: string; type: string };
type ServerEvent = RealtimeServerEvent;

class Conversation {
  readonly items: Item[] = [];
  readonly sockets = new Set<WebSocket>();
  active: { id: string; timer?: NodeJS.Timeout; finish: (status: 'completed' | 'cancelled') => void } | undefined;

  broadcast(event: ServerEvent): void {
    const text = JSON.stringify({ ...event, event_id: id('event') });
    for (const socket of this.sockets) if (socket.readyState === WebSocket.OPEN) socket.send(text);
  }
}

const id = (prefix: string) => `${prefix}_${randomBytes(8).toString('hex')}`;

export async function startScriptedModel(options: ScriptedModelOptions = {}): Promise<ScriptedModel> {
  const speakMs = options.speakMs ?? 50;
  const conversations = new Map<string, Conversation>();
  const received: Record<string, unknown>[] = [];
  const handshakes = { begun: 0, answered: 0 };
  const wss = new WebSocketServer({
    port: options.port ?? 0,
    host: options.host ?? '127.0.0.1',
    autoPong: options.answerPings ?? true,
    verifyClient: (info, done) => {
      handshakes.begun++;
      const callId = new URL(info.req.url ?? '/', 'ws://model').searchParams.get('call_id');
      const answer = () => {
        handshakes.answered++;
        if (callId !== null && !conversations.has(callId)) done(false, 404, 'No such call');
        else done(true);
      };
      if (options.handshakeDelayMs) setTimeout(answer, options.handshakeDelayMs);
      else answer();
    },
  });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));

  wss.on('connection', (socket, request) => {
    const callId = new URL(request.url ?? '/', 'ws://model').searchParams.get('call_id') ?? id('rtc');
    const conversation = conversations.get(callId) ?? new Conversation();
    conversations.set(callId, conversation);
    conversation.sockets.add(socket);
    socket.on('close', () => {
      conversation.sockets.delete(socket);
      if (conversation.sockets.size === 0) conversations.delete(callId);
    });
    socket.send(JSON.stringify({ type: 'session.created', event_id: id('event'), session: { type: 'realtime', id: callId, model: 'scripted' } }));
    socket.on('message', (data) => {
      let event: Record<string, unknown>;
      try {
        event = JSON.parse(data.toString()) as Record<string, unknown>;
      } catch {
        return socket.send(JSON.stringify({ type: 'error', event_id: id('event'), error: { type: 'invalid_request_error', code: 'invalid_json', message: 'not JSON' } }));
      }
      received.push(event);
      handle(conversation, socket, event);
    });
  });

  function handle(conversation: Conversation, socket: WebSocket, event: Record<string, unknown>): void {
    switch (event.type) {
      case 'session.update':
        return conversation.broadcast({ type: 'session.updated', event_id: '', session: event.session as never });
      case 'conversation.item.create': {
        const item = { ...(event.item as Record<string, unknown>), id: id('item') } as Item;
        conversation.items.push(item);
        return conversation.broadcast({ type: 'conversation.item.created', event_id: '', item: item as never, previous_item_id: null });
      }
      case 'response.create':
        return respond(conversation, socket);
      case 'response.cancel':
        return conversation.active?.finish('cancelled');
      case 'input_audio_buffer.append':
        // Any audio from the user counts as the user starting to speak: barge-in.
        conversation.broadcast({ type: 'input_audio_buffer.speech_started', event_id: '', audio_start_ms: 0, item_id: id('item') });
        return conversation.active?.finish('cancelled');
      default:
        socket.send(
          JSON.stringify({ type: 'error', event_id: id('event'), error: { type: 'invalid_request_error', code: 'unknown_event', message: `Unknown event type ${String(event.type)}`, event_id: event.event_id ?? null } }),
        );
    }
  }

  function respond(conversation: Conversation, socket: WebSocket): void {
    if (conversation.active) {
      return void socket.send(
        JSON.stringify({ type: 'error', event_id: id('event'), error: { type: 'invalid_request_error', code: 'conversation_already_has_active_response', message: 'A response is in progress' } }),
      );
    }
    const responseId = id('resp');
    const last = conversation.items.at(-1);
    conversation.broadcast({ type: 'response.created', event_id: '', response: { id: responseId, object: 'realtime.response', status: 'in_progress', output: [] } });
    const userText = last?.type === 'message' && last.role === 'user' ? textOf(last) : undefined;
    if (userText !== undefined && wantsHangUp(userText)) {
      for (const s of conversation.sockets) s.terminate();
      return;
    }
    const stream = userText !== undefined ? wantsStream(userText) : undefined;
    if (stream) return streamAudio(conversation, responseId, stream.frames, stream.bytes);
    const calls = userText !== undefined ? planCalls(userText) : [];
    if (calls.length) return functionCalls(conversation, responseId, calls);
    speak(conversation, responseId, userText !== undefined ? HELP : answerTo(conversation, last));
  }

  function functionCalls(conversation: Conversation, responseId: string, calls: PlannedCall[]): void {
    const output: Item[] = [];
    calls.forEach((call, index) => {
      const item: Item = { id: id('item'), type: 'function_call', call_id: id('call'), name: call.name, arguments: JSON.stringify(call.arguments), status: 'completed' };
      output.push(item);
      conversation.items.push(item);
      const times = options.repeatFunctionCalls ? 2 : 1;
      for (let i = 0; i < times; i++) {
        conversation.broadcast({ type: 'response.output_item.added', event_id: '', response_id: responseId, output_index: index, item: { ...item, arguments: '', status: 'in_progress' } as never });
        conversation.broadcast({ type: 'response.function_call_arguments.delta', event_id: '', response_id: responseId, item_id: item.id, output_index: index, call_id: item.call_id as string, delta: item.arguments as string });
        conversation.broadcast({
          type: 'response.function_call_arguments.done',
          event_id: '',
          response_id: responseId,
          item_id: item.id,
          output_index: index,
          call_id: item.call_id as string,
          name: call.name,
          arguments: item.arguments as string,
        });
        conversation.broadcast({ type: 'response.output_item.done', event_id: '', response_id: responseId, output_index: index, item: item as never });
      }
    });
    conversation.broadcast({ type: 'response.done', event_id: '', response: { id: responseId, object: 'realtime.response', status: 'completed', output: output as never } });
  }

  /** A burst of audio deltas, sent at once: what a model streaming speech looks like to a client that stops reading. */
  function streamAudio(conversation: Conversation, responseId: string, frames: number, bytes: number): void {
    const itemId = id('item');
    const delta = 'A'.repeat(bytes);
    for (let i = 0; i < frames; i++) {
      conversation.broadcast({ type: 'response.output_audio.delta', event_id: '', response_id: responseId, item_id: itemId, output_index: 0, content_index: 0, delta });
    }
    conversation.broadcast({ type: 'response.done', event_id: '', response: { id: responseId, object: 'realtime.response', status: 'completed', output: [] } });
  }

  /** A text answer that takes `speakMs` to "say"; barge-in or response.cancel cuts it short. */
  function speak(conversation: Conversation, responseId: string, text: string): void {
    const item: Item = { id: id('item'), type: 'message', role: 'assistant', status: 'in_progress', content: [{ type: 'output_text', text }] };
    conversation.items.push(item);
    conversation.broadcast({ type: 'response.output_item.added', event_id: '', response_id: responseId, output_index: 0, item: item as never });
    conversation.broadcast({ type: 'response.output_text.delta', event_id: '', response_id: responseId, item_id: item.id, output_index: 0, content_index: 0, delta: text });
    const finish = (status: 'completed' | 'cancelled') => {
      if (conversation.active?.id !== responseId) return;
      clearTimeout(conversation.active.timer);
      conversation.active = undefined;
      if (status === 'completed') {
        conversation.broadcast({ type: 'response.output_text.done', event_id: '', response_id: responseId, item_id: item.id, output_index: 0, content_index: 0, text });
        conversation.broadcast({ type: 'response.output_item.done', event_id: '', response_id: responseId, output_index: 0, item: { ...item, status: 'completed' } as never });
      }
      conversation.broadcast({ type: 'response.done', event_id: '', response: { id: responseId, object: 'realtime.response', status, output: [item] as never } });
    };
    conversation.active = { id: responseId, finish };
    conversation.active.timer = setTimeout(() => finish('completed'), speakMs);
  }

  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    received,
    connections: () => wss.clients.size,
    handshakes: () => ({ ...handshakes }),
    close: () =>
      new Promise((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
}

function textOf(item: Item): string {
  const content = (item.content ?? []) as { text?: string }[];
  return content.map((part) => part.text ?? '').join(' ');
}

/** The answer to the last item when it is a tool's output or a note from Holdline. */
function answerTo(conversation: Conversation, last: Item | undefined): string {
  if (last?.type === 'function_call_output') {
    const call = conversation.items.find((item) => item.type === 'function_call' && item.call_id === last.call_id);
    return speakEnvelope(String(call?.name ?? ''), parseJson(String(last.output)));
  }
  if (last?.type === 'message' && last.role === 'system') {
    const text = textOf(last);
    const tool = /^Tool (?:result|progress) for (\w+)/.exec(text)?.[1] ?? '';
    const json = parseJson(text.slice(Math.max(0, text.indexOf('{'))));
    return text.startsWith('Tool progress') ? speakProgress(json) : speakEnvelope(tool, json);
  }
  return HELP;
}

function parseJson(text: string): Record<string, unknown> {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return {};
  }
}
