import type { RealtimeClientEvent } from 'openai/resources/realtime/realtime';
import { z } from 'zod';
import { ToolCallApproveEvent, type ToolCallApprove } from '../contracts/events';

/**
 * The part of the OpenAI Realtime protocol Holdline acts on, parsed at the
 * boundary. Everything else is relayed untouched: an event Holdline does not
 * know is `unknown`, never an error.
 */

const FunctionCallArgumentsDone = z.looseObject({
  type: z.literal('response.function_call_arguments.done'),
  call_id: z.string().min(1),
  name: z.string(),
  arguments: z.string(),
});

const OutputItemDone = z.looseObject({
  type: z.literal('response.output_item.done'),
  item: z.looseObject({ type: z.string(), call_id: z.string().optional(), name: z.string().optional(), arguments: z.string().optional() }),
});

const ResponseCreated = z.looseObject({ type: z.literal('response.created'), response: z.looseObject({ id: z.string().optional() }) });
const ResponseDone = z.looseObject({ type: z.literal('response.done'), response: z.looseObject({ id: z.string().optional(), status: z.string().optional() }) });
const SpeechStarted = z.looseObject({ type: z.literal('input_audio_buffer.speech_started') });

const ModelEventSchema = z.discriminatedUnion('type', [FunctionCallArgumentsDone, OutputItemDone, ResponseCreated, ResponseDone, SpeechStarted]);
export type ModelEvent = z.infer<typeof ModelEventSchema>;

/** A completed function call, however the model announced it. */
export interface FunctionCall {
  callId: string;
  name: string;
  arguments: string;
}

const ResponseCancel = z.looseObject({ type: z.literal('response.cancel') });
const SessionUpdate = z.looseObject({ type: z.literal('session.update'), session: z.looseObject({}) });
const ClientEventSchema = z.discriminatedUnion('type', [ToolCallApproveEvent, ResponseCancel, SessionUpdate]);
export type ClientEvent = z.infer<typeof ClientEventSchema>;

/** The result of reading one frame: never throws. */
export type Parsed<E> =
  | { kind: 'event'; event: E; raw: Record<string, unknown> }
  | { kind: 'unknown'; type: string; raw: Record<string, unknown> }
  | { kind: 'invalid'; reason: string };

function parseWith<E>(schema: z.ZodType<E>, known: ReadonlySet<string>, text: string): Parsed<E> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { kind: 'invalid', reason: 'the frame is not JSON' };
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw) || typeof (raw as { type?: unknown }).type !== 'string') {
    return { kind: 'invalid', reason: 'an event is a JSON object with a string "type"' };
  }
  const record = raw as Record<string, unknown>;
  const type = record.type as string;
  if (!known.has(type)) return { kind: 'unknown', type, raw: record };
  const parsed = schema.safeParse(record);
  if (!parsed.success) return { kind: 'invalid', reason: `${type}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; ')}` };
  return { kind: 'event', event: parsed.data, raw: record };
}

const MODEL_TYPES = new Set(ModelEventSchema.options.map((option) => option.shape.type.value));
const CLIENT_TYPES = new Set(ClientEventSchema.options.map((option) => option.shape.type.value));

export const parseModelEvent = (text: string): Parsed<ModelEvent> => parseWith(ModelEventSchema, MODEL_TYPES, text);
export const parseClientEvent = (text: string): Parsed<ClientEvent> => parseWith(ClientEventSchema, CLIENT_TYPES, text);

/** The function call an event completes, if it completes one. */
export function functionCallOf(event: ModelEvent): FunctionCall | undefined {
  if (event.type === 'response.function_call_arguments.done') return { callId: event.call_id, name: event.name, arguments: event.arguments };
  if (event.type === 'response.output_item.done' && event.item.type === 'function_call' && event.item.call_id && event.item.name) {
    return { callId: event.item.call_id, name: event.item.name, arguments: event.item.arguments ?? '{}' };
  }
  return undefined;
}

export type { ToolCallApprove };

/** Events Holdline sends the model, typed by the `openai` package. */
export type ModelCommand = RealtimeClientEvent;

export const modelCommands = {
  functionOutput(callId: string, output: unknown): ModelCommand {
    return { type: 'conversation.item.create', item: { type: 'function_call_output', call_id: callId, output: JSON.stringify(output) } };
  },
  /** A note for the model from Holdline (a late result, progress): a system message it can speak from. */
  systemNote(text: string): ModelCommand {
    return { type: 'conversation.item.create', item: { type: 'message', role: 'system', content: [{ type: 'input_text', text }] } };
  },
  respond(): ModelCommand {
    return { type: 'response.create' };
  },
};
