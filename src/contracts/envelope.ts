import { z } from 'zod';
import { ERROR_CODES } from './error-codes';

export const ErrorCodeSchema = z.enum(ERROR_CODES);

/** Fields any envelope may carry besides its own; all optional. */
const callContextFields = {
  trace_id: z.string().min(1),
  tool: z.string().optional(),
  call_id: z.string().optional(),
  workflow_id: z.string().optional(),
  attempts: z.number().int().nonnegative().optional(),
  duration_ms: z.number().nonnegative().optional(),
};

export const OkEnvelopeSchema = z.looseObject({
  status: z.literal('ok'),
  data: z.unknown(),
  confidence: z.number().min(0).max(1).optional(),
  /** Set when the answer came from the tool's declared fallback, not from the tool itself. */
  fallback: z.boolean().optional(),
  ...callContextFields,
});

export const ErrorEnvelopeSchema = z.looseObject({
  status: z.literal('error'),
  error_code: ErrorCodeSchema,
  /** Safe to show a model or a user: never a stack trace or internal detail. */
  message: z.string().min(1).max(1000),
  retryable: z.boolean(),
  /** Structured detail a caller can act on (zod issues, the tool's own error type). */
  details: z.unknown().optional(),
  ...callContextFields,
});

/** The one terminal answer every tool call ends in. */
export const ResultEnvelopeSchema = z.discriminatedUnion('status', [OkEnvelopeSchema, ErrorEnvelopeSchema]);

/** The acknowledgement of a call that is durably started but not yet finished. */
export const AcceptedEnvelopeSchema = z.looseObject({
  status: z.literal('accepted'),
  message: z.string(),
  call_id: z.string(),
  workflow_id: z.string(),
  trace_id: z.string(),
  tool: z.string(),
});

/**
 * What a realtime model gets as the `function_call_output` of a slow call: the
 * call is durably running; the final envelope follows as a new item.
 */
export const PendingEnvelopeSchema = z.looseObject({
  status: z.literal('pending'),
  message: z.string(),
  call_id: z.string(),
  trace_id: z.string(),
  tool: z.string(),
});

export type OkEnvelope = z.infer<typeof OkEnvelopeSchema>;
export type ErrorEnvelope = z.infer<typeof ErrorEnvelopeSchema>;
export type ResultEnvelope = z.infer<typeof ResultEnvelopeSchema>;
export type AcceptedEnvelope = z.infer<typeof AcceptedEnvelopeSchema>;
export type PendingEnvelope = z.infer<typeof PendingEnvelopeSchema>;

/** Progress a tool reports through its heartbeats. */
export const ToolProgressSchema = z.object({
  stage: z.string(),
  pct: z.number().min(0).max(100),
  message: z.string(),
});
export type ToolProgress = z.infer<typeof ToolProgressSchema>;
