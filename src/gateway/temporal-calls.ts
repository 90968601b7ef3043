import { getEventListeners, setMaxListeners } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  defaultPayloadConverter,
  isGrpcDeadlineError,
  isGrpcServiceError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { ToolProgressSchema, type ResultEnvelope, type ToolProgress } from '../contracts/envelope';
import type { ToolCallInput } from '../contracts/tool-call';
import type { toolCallWorkflow } from '../workflows/tool-call';
import { approvalSignal, searchAttributes, TOOL_CALL_WORKFLOW, type ApprovalDecision, type CallStatus } from '../workflows/messages';
import { GatewayRejection } from './rejection';

/** What the gateway keeps with each workflow, so any server can rebuild a call's identity from Temporal. */
export interface CallMemo {
  fingerprint: string;
  trace_id: string;
  user_id: string;
  tool_version: number;
  /** Redacted by the tool's sensitive fields. */
  arguments: Record<string, unknown>;
}

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
}

/**
 * Every Temporal request the gateway makes, each with a deadline. Errors that
 * mean "Temporal is not answering" become BACKEND_UNAVAILABLE rejections.
 */
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
    if (description.type !== TOOL_CALL_WORKFLOW) return undefined;
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
      memo: description.memo as unknown as CallMemo,
      ...(progress?.success ? { progress: progress.data } : {}),
      ...(pending?.attempt ? { attempt: pending.attempt } : {}),
    };
  }

  /** The final envelope; waits as long as the call runs. Retries while Temporal is unreachable. */
  async result(workflowId: string): Promise<ResultEnvelope> {
    // A signal of its own, tied to the shared one only while this wait lasts:
    // the client adds listeners to the signal it is given and never removes them.
    const own = new AbortController();
    const abort = () => own.abort();
    this.closing.signal.addEventListener('abort', abort, { once: true });
    try {
      for (let failures = 0; ; failures++) {
        try {
          const waiting = this.client.connection.withAbortSignal(own.signal, () => this.handle(workflowId).result());
          this.inFlight.add(waiting);
          try {
            return await waiting;
          } finally {
            this.inFlight.delete(waiting);
          }
        } catch (error) {
          if (own.signal.aborted) throw new CallsClosedError();
          if (!isBackendFailure(error) || failures >= 60) throw error;
          await delay(Math.min(5_000, 250 * 2 ** Math.min(failures, 5)), undefined, { signal: own.signal }).catch(() => undefined);
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

  private async withDeadline<T>(request: () => Promise<T>): Promise<T> {
    const pending = this.client.connection.withDeadline(Date.now() + this.options.requestTimeoutMs, request);
    this.inFlight.add(pending);
    try {
      return await pending;
    } catch (error) {
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
const UNAVAILABLE_CODES = new Set([1 /* CANCELLED */, 4 /* DEADLINE_EXCEEDED */, 8 /* RESOURCE_EXHAUSTED */, 14 /* UNAVAILABLE */]);

export function isBackendFailure(error: unknown): boolean {
  for (let current: unknown = error, depth = 0; current && depth < 5; current = (current as { cause?: unknown }).cause, depth++) {
    if (current instanceof GatewayRejection) return current.code === 'BACKEND_UNAVAILABLE';
    if (isGrpcDeadlineError(current)) return true;
    if (isGrpcServiceError(current) && UNAVAILABLE_CODES.has(current.code)) return true;
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'number' && UNAVAILABLE_CODES.has(code)) return true;
  }
  return false;
}
