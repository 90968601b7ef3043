/**
 * The closed set of error codes a tool call can end in, with each code's
 * retryable default. Plain data with no imports, so the workflow bundle can
 * use it without pulling in zod.
 */
export const ERROR_CODES = [
  'INVALID_ARGUMENTS',
  'UNKNOWN_TOOL',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'RATE_LIMITED',
  'IDEMPOTENCY_CONFLICT',
  'APPROVAL_DENIED',
  'TIMEOUT',
  'CANCELLED',
  'TOOL_FAILED',
  'BACKEND_UNAVAILABLE',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Whether the same call may succeed if the caller tries again later. */
export const RETRYABLE_BY_DEFAULT: Readonly<Record<ErrorCode, boolean>> = {
  INVALID_ARGUMENTS: false,
  UNKNOWN_TOOL: false,
  UNAUTHENTICATED: false,
  FORBIDDEN: false,
  RATE_LIMITED: true,
  IDEMPOTENCY_CONFLICT: false,
  APPROVAL_DENIED: false,
  TIMEOUT: true,
  CANCELLED: false,
  TOOL_FAILED: false,
  BACKEND_UNAVAILABLE: true,
  INTERNAL: true,
};

/**
 * How a finished call is classified for audit (the `HoldlineStatus` search
 * attribute) and metrics. `running` is only ever a search-attribute value.
 */
export type CallOutcome = 'ok' | 'error' | 'timeout' | 'cancelled';

export function outcomeOf(envelope: { status: 'ok' } | { status: 'error'; error_code: ErrorCode }): CallOutcome {
  if (envelope.status === 'ok') return 'ok';
  if (envelope.error_code === 'TIMEOUT') return 'timeout';
  if (envelope.error_code === 'CANCELLED') return 'cancelled';
  return 'error';
}
