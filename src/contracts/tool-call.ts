/**
 * What the gateway hands to `toolCallWorkflow`, and what the workflow hands to
 * a tool's activity. Plain types only: the workflow bundle imports them.
 */

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  initialIntervalMs: number;
  backoffCoefficient: number;
  maxIntervalMs: number;
  /** `ToolFailure.type`s that end the call at once, whatever the tool said about retrying. */
  nonRetryableErrorTypes: readonly string[];
}

/** How the workflow runs one tool: derived from the tool's declaration at start. */
export interface ExecutionPlan {
  /** Local activities skip two task dispatches; for short tools that need no heartbeats. */
  runAs: 'activity' | 'local-activity';
  /** The whole call after approval: every attempt and every backoff. */
  timeoutMs: number;
  attemptTimeoutMs: number;
  heartbeatTimeoutMs?: number;
  retry: RetryPolicy;
  cancellable: boolean;
  needsApproval: boolean;
  approvalTimeoutMs: number;
}

/** Who and what a call is about; passed to the tool with its arguments. */
export interface ToolCallMeta {
  callId: string;
  idempotencyKey: string;
  traceId: string;
  tenantId: string;
  userId: string;
  sessionId: string;
}

export interface ToolCallInput extends ToolCallMeta {
  tool: string;
  toolVersion: number;
  arguments: Record<string, unknown>;
  plan: ExecutionPlan;
}

/** The activity that implements a tool, as the workflow calls it. */
export type ToolActivity = (args: Record<string, unknown>, meta: ToolCallMeta) => Promise<unknown>;
