import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  TimeoutFailure,
  condition,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { errorEnvelope, okEnvelope, type EnvelopeExtras } from '../contracts/envelope-builders';
import { outcomeOf } from '../contracts/error-codes';
import type { ResultEnvelope } from '../contracts/envelope';
import { OUTCOME_UNKNOWN_FAILURE_TYPES, untagToolResult, type ExecutionPlan, type ToolActivity, type ToolCallInput, type ToolCallMeta } from '../contracts/tool-call';
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
    if (patched(PATCH_APPROVAL_IN_MEMO)) recordApproval(decision()!);
    if (!decision()?.approved) {
      return errorEnvelope('APPROVAL_DENIED', `The user did not approve ${input.tool}`, traceId, context);
    }
    setStatus('running');
  }
  return runWithRetries(input, context);
}

/**
 * Ids of `patched()` markers: a history recorded before a change has no marker
 * and replays the code path it was recorded with.
 */
const PATCH_ATTEMPTS_WITHIN_BUDGET = 'attempts-within-budget';
const PATCH_SETTLE_UNKNOWN_OUTCOME = 'settle-unknown-outcome';
/**
 * The approval decision is written to the memo (a command old histories do
 * not have). How a patch id lives and goes, so the code does not keep both
 * paths forever:
 * 1. `patched(id)` ships: new calls write a marker and take the new path; a
 *    call recorded without the marker (in flight at the deploy, or a replay
 *    fixture made before) replays the old path.
 * 2. Once no call without the marker can be running (its version drained, or
 *    the longest approval wait plus budget has passed on an unversioned
 *    deploy) and the fixtures without it are re-recorded: `deprecatePatched(id)`
 *    and the new path alone. Calls with the marker still replay.
 * 3. Once no call with the marker can be running either: remove the
 *    `deprecatePatched` line. The id is never reused.
 */
const PATCH_APPROVAL_IN_MEMO = 'approval-in-memo';

/** What the attempts so far have shown; the settle decision reads it. */
interface AttemptLog {
  attempts: number;
  /** Some attempt ended without the tool saying what it did: timed out, worker died, unexpected error. */
  outcomeUnknown: boolean;
}

/**
 * Runs the attempts; then, for a tool that settles, makes sure an error
 * envelope is never the answer of a call whose side effect happened. When the
 * call would end in an error (budget spent, tool failure or cancellation)
 * after an attempt whose outcome is unknown, one settle attempt finishes what
 * that attempt committed (the call ends ok) or closes the key; the call then
 * ends as it would have.
 */
async function runWithRetries(input: ToolCallInput, context: EnvelopeExtras): Promise<ResultEnvelope> {
  const withinBudget = patched(PATCH_ATTEMPTS_WITHIN_BUDGET);
  const seen: AttemptLog = { attempts: 0, outcomeUnknown: false };
  if (!input.plan.settles || !patched(PATCH_SETTLE_UNKNOWN_OUTCOME)) return attemptUntilDone(input, context, seen, withinBudget);

  let ended: ResultEnvelope;
  try {
    ended = await attemptUntilDone(input, context, seen, withinBudget);
  } catch (error) {
    // The cancellation reaches toolCallWorkflow, which answers CANCELLED, unless the settle attempt finds the effect happened.
    if (!isCancellation(error) || !seen.outcomeUnknown) throw error;
    const settled = await settle(input, context, seen);
    if (settled) return settled;
    throw error;
  }
  if (ended.status === 'ok' || !seen.outcomeUnknown) return ended;
  return (await settle(input, context, seen)) ?? ended;
}

/**
 * Attempts the tool until it succeeds, fails for good, or the budget runs out.
 * Retries happen here rather than in Temporal's retry policy because the
 * budget covers all attempts and the backoff must be jittered.
 */
async function attemptUntilDone(input: ToolCallInput, context: EnvelopeExtras, seen: AttemptLog, withinBudget: boolean): Promise<ResultEnvelope> {
  const { plan, traceId } = input;
  const deadline = Date.now() + plan.timeoutMs;
  const timedOut = (attempts: number) =>
    errorEnvelope('TIMEOUT', `${input.tool} did not finish within ${seconds(plan.timeoutMs)}`, traceId, { ...context, attempts });

  for (let attempt = 1; ; attempt++) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) return timedOut(attempt - 1);
    // Bounded by what is left of the budget even while no worker picks the attempt up.
    const activity = activityFor(input.tool, plan, {
      startToCloseMs: Math.min(plan.attemptTimeoutMs, remaining),
      ...(withinBudget ? { scheduleToCloseMs: remaining } : {}),
    });
    const run = () => activity(input.arguments, { ...metaOf(input), attempt });
    seen.attempts = attempt;
    let failure: AttemptFailure;
    try {
      const result = plan.cancellable ? await run() : await CancellationScope.nonCancellable(run);
      return okEnvelopeOf(result, traceId, { ...context, attempts: attempt });
    } catch (error) {
      if (isCancellation(error)) throw error;
      failure = classify(error, plan);
      if (failure.outcomeUnknown) seen.outcomeUnknown = true;
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

/**
 * One settle attempt, shielded from the call's cancellation: the tool records
 * what an earlier attempt committed (an ok envelope), or says nothing was
 * committed (undefined: the call ends as it would have). Waiting for a worker
 * and retrying included, it lasts at most `attemptTimeoutMs`: one attempt more
 * than the budget, which the workflow's execution timeout allows for.
 */
async function settle(input: ToolCallInput, context: EnvelopeExtras, seen: AttemptLog): Promise<ResultEnvelope | undefined> {
  const { plan } = input;
  const activity = activityFor(input.tool, plan, { startToCloseMs: plan.attemptTimeoutMs, scheduleToCloseMs: plan.attemptTimeoutMs, retryUntilClosed: true });
  const attempts = seen.attempts + 1;
  try {
    const result = await CancellationScope.nonCancellable(() => activity(input.arguments, { ...metaOf(input), attempt: attempts, settling: true }));
    log.info('settle attempt found the effect of an earlier attempt', { attempts });
    return okEnvelopeOf(result, input.traceId, { ...context, attempts });
  } catch (error) {
    log.info('settle attempt found nothing committed, or could not tell', { type: classify(error, plan).type });
    return undefined;
  }
}

interface AttemptTimeouts {
  startToCloseMs: number;
  /** From scheduling to the end, waiting for a worker included. */
  scheduleToCloseMs?: number;
  /** Let Temporal retry the activity until `scheduleToCloseMs` (for idempotent settle attempts). Default: one attempt. */
  retryUntilClosed?: boolean;
}

/** The ok envelope of what an activity returned: its data, and the tool's confidence when it gave one. */
function okEnvelopeOf(result: unknown, traceId: string, extras: EnvelopeExtras): ResultEnvelope {
  const { data, confidence } = untagToolResult(result);
  return okEnvelope(data, traceId, { ...extras, ...(confidence !== undefined ? { confidence } : {}) });
}

function activityFor(tool: string, plan: ExecutionPlan, timeouts: AttemptTimeouts): ToolActivity {
  const activityType = plan.activity ?? tool;
  // One attempt per activity (the loop above owns retries), except a settle attempt: it only finishes, so Temporal may repeat it.
  const retry = timeouts.retryUntilClosed
    ? {
        initialInterval: plan.retry.initialIntervalMs,
        backoffCoefficient: plan.retry.backoffCoefficient,
        maximumInterval: plan.retry.maxIntervalMs,
      }
    : { maximumAttempts: 1 };
  const bounds = {
    startToCloseTimeout: timeouts.startToCloseMs,
    ...(timeouts.scheduleToCloseMs !== undefined ? { scheduleToCloseTimeout: timeouts.scheduleToCloseMs } : {}),
    retry,
  };
  if (plan.runAs === 'local-activity') {
    return proxyLocalActivities<Record<string, ToolActivity>>(bounds)[activityType]!;
  }
  return proxyActivities<Record<string, ToolActivity>>({
    ...bounds,
    ...(plan.heartbeatTimeoutMs !== undefined ? { heartbeatTimeout: plan.heartbeatTimeoutMs } : {}),
    // Wait for the tool to acknowledge a cancel: it may already have moved money and report success.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  })[activityType]!;
}

function metaOf({ tool, callId, idempotencyKey, traceId, tenantId, userId, sessionId }: ToolCallInput): ToolCallMeta {
  return { tool, callId, idempotencyKey, traceId, tenantId, userId, sessionId };
}

interface AttemptFailure {
  type: string;
  /** Safe to show: tool failures carry their own public message, anything else a generic one. */
  message: string;
  retryable: boolean;
  timedOut: boolean;
  /** The tool did not say what it did: it may have committed its side effect. */
  outcomeUnknown: boolean;
}

function classify(error: unknown, plan: ExecutionPlan): AttemptFailure {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (cause instanceof TimeoutFailure) {
    const type = `TIMEOUT_${cause.timeoutType ?? 'UNKNOWN'}`;
    return { type, message: 'The tool did not answer in time', retryable: true, timedOut: true, outcomeUnknown: true };
  }
  if (cause instanceof ApplicationFailure) {
    const type = cause.type ?? 'Error';
    const retryable = !cause.nonRetryable && !plan.retry.nonRetryableErrorTypes.includes(type);
    const outcomeUnknown = OUTCOME_UNKNOWN_FAILURE_TYPES.includes(type);
    return { type, message: cause.message || 'The tool failed', retryable, timedOut: false, outcomeUnknown };
  }
  return { type: 'UNKNOWN', message: 'The tool failed', retryable: true, timedOut: false, outcomeUnknown: true };
}

/** Exponential backoff with equal jitter; Math.random is deterministic inside a workflow. */
function jitteredBackoff({ retry }: ExecutionPlan, attempt: number): number {
  const ceiling = Math.min(retry.maxIntervalMs, retry.initialIntervalMs * retry.backoffCoefficient ** (attempt - 1));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

/** Who approved or denied, beside the call's memo, so the Temporal UI shows it without reading the signals. */
function recordApproval({ approved, decidedBy, decidedAs }: ApprovalDecision): void {
  upsertMemo({ approval: { approved, decided_by: decidedBy, ...(decidedAs ? { decided_as: decidedAs } : {}) } });
}

function setStatus(status: CallStatus): void {
  upsertSearchAttributes([{ key: searchAttributes.status, value: status }]);
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
}
