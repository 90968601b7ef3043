/**
 * Exceptions used inside Holdline. At every boundary they become envelopes;
 * these classes never cross one.
 */
export class HoldlineError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A tool declaration contradicts itself; thrown when the tool is defined, never at call time. */
export class ToolDefinitionError extends HoldlineError {
  constructor(
    readonly tool: string,
    problem: string,
  ) {
    super(`tool "${tool}" is misdeclared: ${problem}`);
  }
}

/**
 * A failure a tool reports on purpose: `type` names it for retry policies and
 * callers, `message` is safe to show the user. `retryable: false` ends the call
 * at once with TOOL_FAILED; otherwise the tool's retry policy applies.
 */
export class ToolFailure extends HoldlineError {
  readonly retryable: boolean;
  constructor(
    readonly type: string,
    message: string,
    options: { retryable?: boolean; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.retryable = options.retryable ?? false;
  }
}
