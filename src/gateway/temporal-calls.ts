import { getEventListeners, setMaxListeners } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  defaultPayloadConverter,
  isGrpcDeadlineError,
  isGrpcServiceError,
  type Client,
  type WorkflowExecutionInfo,
  type WorkflowHandle,
} from '@temporalio/client';
// The SDK's own decoding of a listed execution (memo, search attributes); its list iterator hides the page token.
import { executionInfoFromRaw } from '@temporalio/client/lib/helpers';
import { ToolProgressSchema, type ResultEnvelope, type ToolProgress } from '../contracts/envelope';
import type { ToolCallInput } from '../contracts/tool-call';
import type { toolCallWorkflow } from '../workflows/tool-call';
import { approvalSignal, searchAttributes, TOOL_CALL_WORKFLOW, type ApprovalDecision, type CallStatus } from '../workflows/messages';
import { readCallMemo, type CallMemo } from './call-memo';
import { GatewayRejection } from './rejection';

export type { CallMemo } from './call-memo';

export type StartOutcome =
  | { kind: 'started'; handle: WorkflowHandle<typeof toolCallWorkflow> }
  | { kind: 'existing'; handle: WorkflowHandle<typeof toolCallWorkflow>; memo: CallMemo; closed: boolean };

export interface CallSnapshot {
  workflowId: string;
  tool: string;
  status: CallStatus;
  closed: boolean;
  memo: CallMemo;
  progress?: ToolProgress;
  /** Attempt number of the running activity, when one runs. */
  attempt?: number;
}

export interface TemporalCallsOptions {
  taskQueue: string;
  /** Deadline of each Temporal request on the call path. */
  requestTimeoutMs: number;
  /**
   * Added to a call's own budget (approval window + timeout + one more attempt)
   * to give its workflow an execution timeout, so a call stuck without a
   * worker, or on a broken workflow task, still ends. Default 30 s.
   */
  executionMarginMs?: number;
}

/** How long Temporal lets a call's workflow run before it times it out. */
export function executionTimeoutOf(plan: ToolCallInput['plan'], marginMs: number): number {
  return (plan.needsApproval ? plan.approvalTimeoutMs : 0) + plan.timeoutMs + plan.attemptTimeoutMs + marginMs;
}

/**
 * Every Temporal request the gateway makes, each with a deadline. Errors that
 * mean "Temporal is not answering" become BACKEND_UNAVAILABLE rejections.
 */
/** Deadline of a visibility query (listing calls); listing 100 calls took over 1 s on a loaded dev server. */
const LIST_TIMEOUT_MS = 10_000;

export class TemporalCalls {
  /** Aborted by `close()`: ends the long polls that wait for results. */
  private readonly closing = new AbortController();
  /** Requests under way, each bounded by its deadline; `close()` lets them settle. */
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    readonly client: Client,
    private readonly options: TemporalCallsOptions,
  ) {
    // Every result in progress listens to this one signal.
    setMaxListeners(0, this.closing.signal);
  }

  /** Starts the call's workflow, or finds the one that already holds its id. */
  async start(input: ToolCallInput, workflowId: string, memo: CallMemo): Promise<StartOutcome> {
    try {
      const handle = await this.withDeadline(() =>
        this.client.workflow.start<typeof toolCallWorkflow>(TOOL_CALL_WORKFLOW, {
          taskQueue: this.options.taskQueue,
          workflowId,
          args: [input],
          // A closed run with this id is a finished duplicate: never run it again.
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          workflowIdConflictPolicy: 'FAIL',
          workflowExecutionTimeout: executionTimeoutOf(input.plan, this.options.executionMarginMs ?? 30_000),
          memo: { ...memo },
          typedSearchAttributes: [
            { key: searchAttributes.tool, value: input.tool },
            { key: searchAttributes.tenant, value: input.tenantId },
            { key: searchAttributes.session, value: input.sessionId },
            { key: searchAttributes.status, value: input.plan.needsApproval ? 'awaiting_approval' : 'running' },
          ],
        }),
      );
      return { kind: 'started', handle };
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      const snapshot = await this.snapshot(workflowId);
      if (!snapshot) throw new GatewayRejection('INTERNAL', 'The call exists but could not be read; try again', { cause: error });
      return { kind: 'existing', handle: this.handle(workflowId), memo: snapshot.memo, closed: snapshot.closed };
    }
  }

  handle(workflowId: string): WorkflowHandle<typeof toolCallWorkflow> {
    return this.client.workflow.getHandle<typeof toolCallWorkflow>(workflowId);
  }

  /** The call as Temporal has it now, or undefined if there is no such workflow. */
  async snapshot(workflowId: string): Promise<CallSnapshot | undefined> {
    let description;
    try {
      description = await this.withDeadline(() => this.handle(workflowId).describe());
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return undefined;
      throw error;
    }
    const memo = readCallMemo(description.memo);
    if (description.type !== TOOL_CALL_WORKFLOW || !memo) return undefined;
    const attributes = description.typedSearchAttributes;
    const closed = description.status.name !== 'RUNNING';
    const pending = description.raw.pendingActivities?.[0];
    const details = pending?.heartbeatDetails?.payloads?.at(-1);
    const progress = details ? ToolProgressSchema.safeParse(defaultPayloadConverter.fromPayload(details)) : undefined;
    return {
      workflowId,
      tool: attributes.get(searchAttributes.tool) ?? '',
      status: (attributes.get(searchAttributes.status) as CallStatus | undefined) ?? (closed ? 'error' : 'running'),
      closed,
      memo,
      ...(progress?.success ? { progress: progress.data } : {}),
      ...(pending?.attempt ? { attempt: pending.attempt } : {}),
    };
  }

  /**
   * The final envelope; waits as long as the call runs, retrying while
   * Temporal is unreachable or throttling: a wait never gives up on a call
   * that may still finish. Rejects only with `CallsClosedError` (this process
   * is stopping) or when the workflow did not return an envelope.
   */
  async result(workflowId: string): Promise<ResultEnvelope> {
    // A signal of its own, tied to the shared one only while this wait lasts:
    // the client adds listeners to the signal it is given and never removes them.
    const own = new AbortController();
    const abort = () => own.abort();
    this.closing.signal.addEventListener('abort', abort, { once: true });
    try {
      for (let failures = 0; ; failures++) {
        // And one per attempt: the client's listeners stay on the signal it is given, so a
        // wait retried through a long outage would pile them up on `own`. Within an attempt
        // the client adds one per long poll of the history, a call running for minutes many:
        // they go with the attempt, so they are not a leak.
        const attempt = new AbortController();
        setMaxListeners(0, attempt.signal);
        const abortAttempt = () => attempt.abort();
        own.signal.addEventListener('abort', abortAttempt, { once: true });
        try {
          const waiting = this.client.connection.withAbortSignal(attempt.signal, () => this.handle(workflowId).result());
          this.inFlight.add(waiting);
          try {
            return await waiting;
          } finally {
            this.inFlight.delete(waiting);
          }
        } catch (error) {
          if (own.signal.aborted) throw new CallsClosedError();
          if (!isBackendFailure(error) && !isThrottled(error)) throw error;
          await delay(Math.min(5_000, 250 * 2 ** Math.min(failures, 5)), undefined, { signal: own.signal }).catch(() => undefined);
        } finally {
          own.signal.removeEventListener('abort', abortAttempt);
        }
      }
    } finally {
      this.closing.signal.removeEventListener('abort', abort);
    }
  }

  /** Listeners on the shared shutdown signal: one per wait in progress, for tests. */
  waitsInProgress(): number {
    return getEventListeners(this.closing.signal, 'abort').length;
  }

  /**
   * Stops every wait for a result (the calls themselves go on in Temporal) and
   * lets requests in flight settle, so none retries on a connection about to close.
   */
  async close(): Promise<void> {
    this.closing.abort();
    await Promise.allSettled([...this.inFlight]);
  }

  get closed(): boolean {
    return this.closing.signal.aborted;
  }

  /**
   * One page of a visibility query. The SDK's `workflow.list` iterator walks
   * every page itself; a caller paging through an API needs the token.
   */
  async listPage(query: string, pageSize: number, pageToken?: Uint8Array): Promise<{ executions: WorkflowExecutionInfo[]; nextPageToken?: Uint8Array }> {
    const { namespace, loadedDataConverter } = this.client.options;
    // A visibility query is not on a call's path and may scan: it gets a deadline of its own.
    const response = await this.withDeadline(
      () => this.client.workflowService.listWorkflowExecutions({ namespace, query, pageSize, ...(pageToken ? { nextPageToken: pageToken } : {}) }),
      LIST_TIMEOUT_MS,
    );
    const executions = await Promise.all(response.executions.map((raw) => executionInfoFromRaw(raw, loadedDataConverter, raw, namespace)));
    const next = response.nextPageToken;
    return { executions, ...(next && next.length > 0 ? { nextPageToken: next } : {}) };
  }

  async approve(workflowId: string, decision: ApprovalDecision): Promise<void> {
    await this.withDeadline(() => this.handle(workflowId).signal(approvalSignal, decision));
  }

  async cancel(workflowId: string): Promise<void> {
    await this.withDeadline(() => this.handle(workflowId).cancel());
  }

  /** Resolves when Temporal answers; used by readiness and the breaker's probe. */
  async ping(): Promise<void> {
    await this.withDeadline(() => this.client.workflowService.getSystemInfo({}));
  }

  private async withDeadline<T>(request: () => Promise<T>, timeoutMs = this.options.requestTimeoutMs): Promise<T> {
    const pending = this.client.connection.withDeadline(Date.now() + timeoutMs, request);
    this.inFlight.add(pending);
    try {
      return await pending;
    } catch (error) {
      if (isThrottled(error)) {
        throw new GatewayRejection('RATE_LIMITED', 'Temporal is throttling requests; retry in a moment', { retryAfterMs: 1_000, cause: error });
      }
      if (isBackendFailure(error)) {
        throw new GatewayRejection('BACKEND_UNAVAILABLE', 'The tool service is temporarily unavailable; try again shortly', { cause: error });
      }
      throw error;
    } finally {
      this.inFlight.delete(pending);
    }
  }
}

/** The process is shutting down and stopped waiting; the call itself goes on in Temporal. */
export class CallsClosedError extends Error {
  constructor() {
    super('stopped waiting for the result: shutting down');
    this.name = new.target.name;
  }
}

// gRPC codes that mean "Temporal did not answer", not "Temporal said no".
const UNAVAILABLE_CODES = new Set([1 /* CANCELLED */, 4 /* DEADLINE_EXCEEDED */, 14 /* UNAVAILABLE */]);
// Temporal answered "not now": backpressure (namespace rate limits, busy shards), not an outage.
const THROTTLED_CODES = new Set([8 /* RESOURCE_EXHAUSTED */]);

/** Temporal did not answer: a deadline passed or it is unreachable. Counts towards the breaker. */
export function isBackendFailure(error: unknown): boolean {
  return someCause(error, (current) => {
    if (current instanceof GatewayRejection) return current.code === 'BACKEND_UNAVAILABLE';
    return isGrpcDeadlineError(current) || hasGrpcCode(current, UNAVAILABLE_CODES);
  });
}

/**
 * The request never left this process, which proves a start did not happen:
 * no connection to Temporal could be made, or the deadline passed before the
 * call was handed to a connection (grpc-js names the peer, `remote_addr=`,
 * only once the call was on the wire).
 */
export function neverReachedTemporal(error: unknown): boolean {
  for (let current: unknown = error, depth = 0; current && depth < 5; current = (current as { cause?: unknown }).cause, depth++) {
    const code = (current as { code?: unknown }).code;
    if (code !== 14 && code !== 4) continue;
    const text = `${String((current as { details?: unknown }).details ?? '')} ${String((current as Error).message ?? '')}`;
    if (code === 14) return /No connection established|ECONNREFUSED/.test(text);
    return /Deadline exceeded/.test(text) && !text.includes('remote_addr=');
  }
  return false;
}

/** Temporal is throttling: retryable after a moment, and never a reason to open the breaker. */
export function isThrottled(error: unknown): boolean {
  return someCause(error, (current) => (current instanceof GatewayRejection ? current.code === 'RATE_LIMITED' : hasGrpcCode(current, THROTTLED_CODES)));
}

function someCause(error: unknown, test: (current: unknown) => boolean): boolean {
  for (let current: unknown = error, depth = 0; current && depth < 5; current = (current as { cause?: unknown }).cause, depth++) {
    if (current instanceof GatewayRejection) return test(current);
    if (test(current)) return true;
  }
  return false;
}

function hasGrpcCode(error: unknown, codes: ReadonlySet<number>): boolean {
  if (isGrpcServiceError(error)) return codes.has(error.code);
  const code = (error as { code?: unknown }).code;
  return typeof code === 'number' && codes.has(code);
}
