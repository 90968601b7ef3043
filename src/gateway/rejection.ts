import { HoldlineError } from '../contracts/errors';
import type { ErrorCode } from '../contracts/error-codes';

/** The HTTP status each code answers with; INVALID_ARGUMENTS is 413 when the arguments are too large. */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  INVALID_ARGUMENTS: 400,
  UNKNOWN_TOOL: 404,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  RATE_LIMITED: 429,
  IDEMPOTENCY_CONFLICT: 409,
  APPROVAL_DENIED: 200,
  TIMEOUT: 200,
  CANCELLED: 200,
  TOOL_FAILED: 200,
  BACKEND_UNAVAILABLE: 503,
  INTERNAL: 500,
};

/**
 * The gateway refused a call before it ran. Thrown inside the pipeline and
 * turned into an error envelope at its edge; it never escapes the gateway.
 */
export class GatewayRejection extends HoldlineError {
  readonly httpStatus: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    options: { httpStatus?: number; details?: unknown; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.httpStatus = options.httpStatus ?? HTTP_STATUS[code];
    this.details = options.details;
    this.retryAfterMs = options.retryAfterMs;
  }
  readonly details: unknown;
  readonly retryAfterMs: number | undefined;
}
