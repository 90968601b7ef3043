import { z } from 'zod';
import { ResultEnvelopeSchema, ToolProgressSchema } from './envelope';

/**
 * Calls as lists and live feeds show them: `GET /v1/tool-calls` (from Temporal
 * visibility, so the list survives a restart) and the `GET /v1/events` stream.
 * Clients parse what they receive with these schemas.
 */

/** Where a call stands; the same values the workflow keeps in its `HoldlineStatus` search attribute. */
export const CALL_STATUSES = ['running', 'awaiting_approval', 'ok', 'error', 'timeout', 'cancelled'] as const;
export const CallStatusSchema = z.enum(CALL_STATUSES);
export type CallStatusName = z.infer<typeof CallStatusSchema>;

export const CallSummarySchema = z.object({
  call_id: z.string(),
  workflow_id: z.string(),
  tool: z.string(),
  tenant_id: z.string(),
  user_id: z.string(),
  session_id: z.string(),
  status: CallStatusSchema,
  started_at: z.iso.datetime(),
  closed_at: z.iso.datetime().optional(),
  duration_ms: z.number().nonnegative().optional(),
  /** Known once the call has finished (from its envelope), or while an attempt runs. */
  attempts: z.number().int().nonnegative().optional(),
  progress: ToolProgressSchema.optional(),
  /** A running call that a cancel would stop (its tool is cancellable, or it still waits for approval). */
  cancellable: z.boolean().optional(),
  /** The call's arguments as the audit memo keeps them: the tool's sensitive fields masked. */
  arguments: z.record(z.string(), z.unknown()).optional(),
});
export type CallSummary = z.infer<typeof CallSummarySchema>;

/** The answer of `GET /v1/tool-calls`: newest first; pass `next_page_token` back as `page_token` for more. */
export const CallListSchema = z.object({
  calls: z.array(CallSummarySchema),
  next_page_token: z.string().optional(),
});
export type CallList = z.infer<typeof CallListSchema>;

const callIds = { call_id: z.string(), workflow_id: z.string() };

/** First event of a stream: the reader's calls that are running or waiting for approval. */
export const CallsSnapshotEvent = z.object({ type: z.literal('calls.snapshot'), calls: z.array(CallSummarySchema) });
export const CallStartedEvent = z.object({ type: z.literal('call.started'), call: CallSummarySchema });
export const CallProgressEvent = z.object({ type: z.literal('call.progress'), ...callIds, progress: ToolProgressSchema });
/** The call moved between running states (approval decided: `awaiting_approval` → `running`). */
export const CallStatusEvent = z.object({ type: z.literal('call.status'), ...callIds, status: CallStatusSchema });
export const CallFinishedEvent = z.object({ type: z.literal('call.finished'), call: CallSummarySchema, result: ResultEnvelopeSchema });

/** What `GET /v1/events` sends; each SSE event is named by `type`, its data is the event as JSON. */
export const CallStreamEventSchema = z.discriminatedUnion('type', [CallsSnapshotEvent, CallStartedEvent, CallProgressEvent, CallStatusEvent, CallFinishedEvent]);
export type CallStreamEvent = z.infer<typeof CallStreamEventSchema>;
/** The events after the snapshot, as a server's own gateway sees them. */
export type LiveCallEvent = Exclude<CallStreamEvent, { type: 'calls.snapshot' }>;
