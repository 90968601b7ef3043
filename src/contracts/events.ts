import { z } from 'zod';
import { AcceptedEnvelopeSchema, ErrorEnvelopeSchema, OkEnvelopeSchema, ToolProgressSchema } from './envelope';

/**
 * Holdline's own events about a tool call, sent to realtime clients over the
 * WebSocket and to HTTP readers as Server-Sent Events (named by the part after
 * `tool_call.`). A call produces `accepted`, any number of `progress`, then
 * exactly one of `completed`, `failed`, `cancelled`.
 */
const callFields = { call_id: z.string(), workflow_id: z.string(), trace_id: z.string(), tool: z.string() };

export const ToolCallAcceptedEvent = z.object({
  type: z.literal('tool_call.accepted'),
  ...callFields,
  message: AcceptedEnvelopeSchema.shape.message,
});
export const ToolCallProgressEvent = z.object({ type: z.literal('tool_call.progress'), ...callFields, progress: ToolProgressSchema });
export const ToolCallApprovalRequestedEvent = z.object({
  type: z.literal('tool_call.approval_requested'),
  ...callFields,
  /** The arguments with sensitive fields redacted, so the user sees what they approve. */
  arguments: z.record(z.string(), z.unknown()),
});
export const ToolCallCompletedEvent = z.object({ type: z.literal('tool_call.completed'), ...callFields, result: OkEnvelopeSchema });
export const ToolCallFailedEvent = z.object({ type: z.literal('tool_call.failed'), ...callFields, result: ErrorEnvelopeSchema });
export const ToolCallCancelledEvent = z.object({ type: z.literal('tool_call.cancelled'), ...callFields, result: ErrorEnvelopeSchema });

/** Tells a realtime client its session id, which it passes back as `?session_id=` to resume. */
export const ToolCallSessionEvent = z.object({
  type: z.literal('tool_call.session'),
  session_id: z.string(),
  resumed: z.boolean(),
  /** How long after a disconnect the session can be resumed. */
  resume_window_ms: z.number(),
});

export const ToolCallEventSchema = z.discriminatedUnion('type', [
  ToolCallSessionEvent,
  ToolCallAcceptedEvent,
  ToolCallProgressEvent,
  ToolCallApprovalRequestedEvent,
  ToolCallCompletedEvent,
  ToolCallFailedEvent,
  ToolCallCancelledEvent,
]);
export type ToolCallEvent = z.infer<typeof ToolCallEventSchema>;
export type TerminalToolCallEvent = z.infer<typeof ToolCallCompletedEvent | typeof ToolCallFailedEvent | typeof ToolCallCancelledEvent>;

export type CallFields = { [K in keyof typeof callFields]: string };

/** The terminal event that carries a final envelope. */
export function terminalEventOf(
  call: CallFields,
  result: z.infer<typeof OkEnvelopeSchema> | z.infer<typeof ErrorEnvelopeSchema>,
): TerminalToolCallEvent {
  if (result.status === 'ok') return { type: 'tool_call.completed', ...call, result };
  if (result.error_code === 'CANCELLED') return { type: 'tool_call.cancelled', ...call, result };
  return { type: 'tool_call.failed', ...call, result };
}

/** The client's answer to `tool_call.approval_requested`. */
export const ToolCallApproveEvent = z.strictObject({
  type: z.literal('tool_call.approve'),
  call_id: z.string().min(1),
  approved: z.boolean(),
  event_id: z.string().optional(),
});
export type ToolCallApprove = z.infer<typeof ToolCallApproveEvent>;
