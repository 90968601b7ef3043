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

/** A durable call as its readers know it: enough to wait for its result and follow its progress. */
export interface CallRef {
  call_id: string;
  workflow_id: string;
  trace_id: string;
  tool: string;
}

/** A call a realtime session made: the model's call id and the durable call it became. */
export interface SessionCall {
  modelCallId: string;
  ref: CallRef;
}

/** How a tool's attempts run: as activities (the default), or as local activities inside the workflow's task. */
export const RUN_AS = ['activity', 'local-activity'] as const;

/** How the workflow runs one tool: derived from the tool's declaration at start. */
export interface ExecutionPlan {
  /**
   * The activity type that runs the tool. Absent: the tool's name. A tool
   * source whose tools come and go (an MCP server) runs them all through one
   * activity, which reads the tool's name from its meta.
   */
  activity?: string;
  /** Local activities skip two task dispatches; for short tools that need no heartbeats. */
  runAs: (typeof RUN_AS)[number];
  /** The whole call after approval: every attempt and every backoff. */
  timeoutMs: number;
  attemptTimeoutMs: number;
  heartbeatTimeoutMs?: number;
  retry: RetryPolicy;
  cancellable: boolean;
  /**
   * The tool can finish a side effect an earlier attempt started. When the call
   * would end in an error after an attempt whose outcome is unknown, the
   * workflow runs one more, non-cancellable settle attempt (`settling` in its
   * meta), which lasts at most `attemptTimeoutMs` more. Absent in calls started
   * before the option existed.
   */
  settles?: boolean;
  needsApproval: boolean;
  approvalTimeoutMs: number;
}

/** Who and what a call is about; passed to the tool with its arguments. */
export interface ToolCallMeta {
  /** The tool's name as the model calls it. Absent in calls started before it was passed. */
  tool?: string;
  /**
   * Which attempt of the call this is, 1 for the first. The workflow runs each
   * attempt as an activity of its own, so Temporal's attempt count says 1 for
   * every one of them. Absent in calls started before it was passed.
   */
  attempt?: number;
  callId: string;
  idempotencyKey: string;
  traceId: string;
  tenantId: string;
  userId: string;
  sessionId: string;
  /**
   * Set on a settle attempt: finish what an earlier attempt of this call
   * committed, or close the key so nothing can be committed under it later and
   * fail with a `ToolFailure`. Never start anything new.
   */
  settling?: boolean;
}

export interface ToolCallInput extends ToolCallMeta {
  tool: string;
  toolVersion: number;
  arguments: Record<string, unknown>;
  plan: ExecutionPlan;
}

/** The activity that implements a tool, as the workflow calls it. */
export type ToolActivity = (args: Record<string, unknown>, meta: ToolCallMeta) => Promise<unknown>;

/**
 * `ApplicationFailure` types the activity adapter uses when a tool broke
 * without saying what happened. Together with timeouts they are the attempts
 * whose outcome is unknown; any other failure type is a `ToolFailure`, the
 * tool's own account of what it did.
 */
export const UNEXPECTED_TOOL_ERROR = 'UNEXPECTED_TOOL_ERROR';
export const INVALID_TOOL_OUTPUT = 'INVALID_TOOL_OUTPUT';
export const OUTCOME_UNKNOWN_FAILURE_TYPES: readonly string[] = [UNEXPECTED_TOOL_ERROR, INVALID_TOOL_OUTPUT];

/** The failure type a settle attempt ends with when no earlier attempt committed anything. */
export const NOTHING_COMMITTED = 'NOTHING_COMMITTED';

/**
 * What an activity returns when the tool reported how sure it is: the data
 * travels with its confidence, tagged so that the workflow can tell it from
 * data that happens to have the same fields. Untagged values are plain data.
 */
export interface TaggedToolResult {
  readonly $holdline: 'tool-result';
  readonly data: unknown;
  readonly confidence: number;
}

export function tagToolResult(data: unknown, confidence: number): TaggedToolResult {
  return { $holdline: 'tool-result', data, confidence };
}

/** The data and, when the tool gave one, the confidence of an activity's return value. */
export function untagToolResult(value: unknown): { data: unknown; confidence?: number } {
  if (typeof value === 'object' && value !== null && (value as Partial<TaggedToolResult>).$holdline === 'tool-result') {
    const { data, confidence } = value as TaggedToolResult;
    return { data, confidence };
  }
  return { data: value };
}
