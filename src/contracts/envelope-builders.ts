import { RETRYABLE_BY_DEFAULT, type ErrorCode } from './error-codes';
import type { ErrorEnvelope, OkEnvelope } from './envelope';

/**
 * Builders for envelopes. Kept apart from the zod schemas so the workflow
 * bundle can build envelopes without loading zod; the gateway validates every
 * envelope against the schemas on its way out.
 */
export interface EnvelopeExtras {
  tool?: string;
  call_id?: string;
  workflow_id?: string;
  attempts?: number;
  duration_ms?: number;
  /** Overrides the error code's default. */
  retryable?: boolean;
  details?: unknown;
}

export function errorEnvelope(
  code: ErrorCode,
  message: string,
  traceId: string,
  extras: EnvelopeExtras = {},
): ErrorEnvelope {
  return {
    status: 'error',
    error_code: code,
    message,
    trace_id: traceId,
    ...extras,
    retryable: extras.retryable ?? RETRYABLE_BY_DEFAULT[code],
  };
}

export function okEnvelope(
  data: unknown,
  traceId: string,
  extras: Omit<EnvelopeExtras, 'retryable' | 'details'> & { confidence?: number; fallback?: boolean } = {},
): OkEnvelope {
  return { status: 'ok', data, trace_id: traceId, ...extras };
}
