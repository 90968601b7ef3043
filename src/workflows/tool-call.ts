import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  TimeoutFailure,
  condition,
  isCancellation,
  log,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { errorEnvelope, okEnvelope, type EnvelopeExtras } from '../contracts/envelope-builders';
import { outcomeOf } from '../contracts/error-codes';
import type { ResultEnvelope } from '../contracts/envelope';
import type { ExecutionPlan, ToolActivity, ToolCallInput } from '../contracts/tool-call';
import { approvalSignal, searchAttributes, type ApprovalDecision, type CallStatus } from './messages';

/**
 * One tool call, start to envelope. It never throws: a tool error, a timeout,
 * a denied approval and a cancellation all end in an envelope, so a workflow
 * never fails and a workflow task never gets stuck retrying.
 */
export async function toolCallWorkflow(input: ToolCallInput): Promise<ResultEnvelope> {
  const startedAt = Date.now();
  const context: EnvelopeExtras = { tool: input.tool, call_id: input.callId, workflow_id: workflowInfo().workflowId };
  let decision: ApprovalDecision | undefined;
  setHandler(approvalSignal, (received) => {
    decision ??= received;
  });

  let envelope: ResultEnvelope;
  try {
    envelope = await approveThenRun(input, context, () => decision);
  } catch (error) {
    if (isCancellation(error)) {
      envelope = errorEnvelope('CANCELLED', `${input.tool} was cancelled before it took effect`, input.traceId, context);
    } else {
      log.error('tool call ended in an unexpected workflow error', { error: String(error) });
      envelope = errorEnvelope('INTERNAL', 'The tool call failed inside Holdline', input.traceId, context);
    }
  }
  envelope.duration_ms = Date.now() - startedAt;
  setStatus(outcomeOf(envelope));
  return envelope;
}

async function approveThenRun(
  input: ToolCallInput,
  context: EnvelopeExtras,
  decision: () => ApprovalDecision | undefined,
): Promise<ResultEnvelope> {
  const { plan, traceId } = input;
  if (plan.needsApproval) {
    setStatus('awaiting_approval');
    const decided = await condition(() => decision() !== undefined, plan.approvalTimeoutMs);
    if (!decided) {
      return errorEnvelope('TIMEOUT', `No approval for ${input.tool} within ${seconds(plan.approvalTimeoutMs)}`, traceId, context);
    }
    if (!decision()?.approved) {
      return errorEnvelope('APPROVAL_DENIED', `The user did not approve ${input.tool}`, traceId, context);
    }
    setStatus('running');
  }
  return runWithRetries(input, context);
}

/**
 * Attempts the tool until it succeeds, fails for good, or the budget runs out.
 * Retries happen here rather than in Temporal's retry policy because the
 * budget covers all attempts and the backoff must be jittered.
 */
async function runWithRetries(input: ToolCallInput, context: EnvelopeExtras): Promise<ResultEnvelope> {
  const { plan, traceId } = input;
  const deadline = Date.now() + plan.timeoutMs;
  const timedOut = (attempts: number) =>
    errorEnvelope('TIMEOUT', `${input.tool} did not finish within ${seconds(plan.timeoutMs)}`, traceId, { ...context, attempts });

  for (let attempt = 1; ; attempt++) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) return timedOut(attempt - 1);
    const activity = activityFor(input.tool, plan, Math.min(plan.attemptTimeoutMs, remaining));
    const run = () => activity(input.arguments, metaOf(input));
    let failure: AttemptFailure;
    try {
      const data = plan.cancellable ? await run() : await CancellationScope.nonCancellable(run);
      return okEnvelope(data, traceId, { ...context, attempts: attempt });
    } catch (error) {
      if (isCancellation(error)) throw error;
      failure = classify(error, plan);
    }

    const backoff = jitteredBackoff(plan, attempt);
    const lastChance = !failure.retryable || attempt >= plan.retry.maxAttempts || Date.now() + backoff >= deadline;
    if (lastChance) {
      if (failure.timedOut && failure.retryable) return timedOut(attempt);
      return errorEnvelope('TOOL_FAILED', failure.message, traceId, {
        ...context,
        attempts: attempt,
        retryable: failure.retryable,
        details: { type: failure.type },
      });
    }
    log.info('tool attempt failed, retrying', { attempt, type: failure.type, backoff_ms: backoff });
    await sleep(backoff);
  }
}

function activityFor(tool: string, plan: ExecutionPlan, timeoutMs: number): ToolActivity {
  // One attempt per activity: the loop above owns retries.
  const once = { maximumAttempts: 1 };
  if (plan.runAs === 'local-activity') {
    return proxyLocalActivities<Record<string, ToolActivity>>({ startToCloseTimeout: timeoutMs, retry: once })[tool]!;
  }
  return proxyActivities<Record<string, ToolActivity>>({
    startToCloseTimeout: timeoutMs,
    ...(plan.heartbeatTimeoutMs !== undefined ? { heartbeatTimeout: plan.heartbeatTimeoutMs } : {}),
    retry: once,
    // Wait for the tool to acknowledge a cancel: it may already have moved money and report success.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  })[tool]!;
}

function metaOf({ callId, idempotencyKey, traceId, tenantId, userId, sessionId }: ToolCallInput) {
  return { callId, idempotencyKey, traceId, tenantId, userId, sessionId };
}

interface AttemptFailure {
  type: string;
  /** Safe to show: tool failures carry their own public message, anything else a generic one. */
  message: string;
  retryable: boolean;
  timedOut: boolean;
}

function classify(error: unknown, plan: ExecutionPlan): AttemptFailure {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (cause instanceof TimeoutFailure) {
    return { type: `TIMEOUT_${cause.timeoutType ?? 'UNKNOWN'}`, message: 'The tool did not answer in time', retryable: true, timedOut: true };
  }
  if (cause instanceof ApplicationFailure) {
    const type = cause.type ?? 'Error';
    const retryable = !cause.nonRetryable && !plan.retry.nonRetryableErrorTypes.includes(type);
    return { type, message: cause.message || 'The tool failed', retryable, timedOut: false };
  }
  return { type: 'UNKNOWN', message: 'The tool failed', retryable: true, timedOut: false };
}

/** Exponential backoff with equal jitter; Math.random is deterministic inside a workflow. */
function jitteredBackoff({ retry }: ExecutionPlan, attempt: number): number {
  const ceiling = Math.min(retry.maxIntervalMs, retry.initialIntervalMs * retry.backoffCoefficient ** (attempt - 1));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

function setStatus(status: CallStatus): void {
  upsertSearchAttributes([{ key: searchAttributes.status, value: status }]);
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
}
