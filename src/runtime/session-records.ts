import { defaultPayloadConverter, isGrpcServiceError, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { SignalDefinition } from '@temporalio/common';
import type { Logger } from 'pino';
import { parseWorkflowId, readCallMemo, realtimeKeyPrefix, type CallOwner } from '../gateway';
import type { ProviderCallClaim, RestoredCall, SessionLedger, SessionRecords } from '../session/records';
import { searchAttributes } from '../workflows/messages';
import {
  deliveredSignal,
  PROVIDER_CALL_CLAIM_WORKFLOW,
  providerCallClaimId,
  releaseSignal,
  renewSignal,
  SESSION_LEDGER_WORKFLOW,
  sessionLedgerId,
  startedSignal,
  type ProviderCallClaimInput,
  type providerCallClaimWorkflow,
  type SessionLedgerInput,
  type sessionLedgerWorkflow,
} from '../workflows/session-ledger';

export interface TemporalSessionRecordsOptions {
  taskQueue: string;
  /** Deadline of each request. */
  requestTimeoutMs: number;
  resumeWindowMs: number;
  logger: Logger;
}

/** Owners kept in the memo of both workflows, readable by describe without a worker. */
interface OwnerMemo {
  tenant_id: string;
  user_id: string;
  session_id?: string;
}

/** A ledger outlives the resume window by this much, for clock skew between servers and Temporal. */
const LEDGER_MARGIN_MS = 60_000;

/**
 * The session records on Temporal (see src/workflows/session-ledger.ts for
 * the two workflows and why they are sound). Deliveries are read from the
 * ledger's history rather than by query: the signals are its truth, and the
 * history can be read without a worker and after the ledger closed.
 */
export class TemporalSessionRecords implements SessionRecords {
  private readonly writes = new Set<Promise<unknown>>();
  private readonly log: Logger;

  constructor(
    private readonly client: Client,
    private readonly options: TemporalSessionRecordsOptions,
  ) {
    this.log = options.logger.child({ component: 'session-records' });
  }

  async callsOf(owner: CallOwner, sessionId: string, sinceMs: number): Promise<RestoredCall[]> {
    const query = `${searchAttributes.session.name} = "${sessionId}" AND ${searchAttributes.tenant.name} = "${owner.tenantId}"`;
    const keyPrefix = realtimeKeyPrefix(sessionId);
    const calls: RestoredCall[] = [];
    for await (const info of this.client.workflow.list({ query })) {
      const memo = readCallMemo(info.memo);
      const identity = parseWorkflowId(info.workflowId);
      if (!memo || !identity || identity.tenantId !== owner.tenantId || identity.userId !== owner.userId) continue;
      const { callId } = identity;
      if (!callId.startsWith(keyPrefix)) continue;
      if (info.status.name !== 'RUNNING' && (info.closeTime?.getTime() ?? 0) < sinceMs) continue;
      const tool = info.typedSearchAttributes.get(searchAttributes.tool) ?? '';
      calls.push({ modelCallId: callId.slice(keyPrefix.length), ref: { call_id: callId, workflow_id: info.workflowId, trace_id: memo.trace_id, tool } });
    }
    return calls;
  }

  async ledgerOf(sessionId: string): Promise<SessionLedger> {
    let history;
    try {
      history = await this.withDeadline(() => this.client.workflow.getHandle(sessionLedgerId(sessionId)).fetchHistory());
    } catch (error) {
      if (isNotFound(error)) return { calls: [], delivered: new Set() };
      throw error;
    }
    let owner: CallOwner | undefined;
    const calls = new Map<string, RestoredCall>();
    const delivered = new Set<string>();
    for (const event of history.events ?? []) {
      const started = event.workflowExecutionStartedEventAttributes;
      const startPayload = started?.input?.payloads?.[0];
      if (startPayload) {
        const input = defaultPayloadConverter.fromPayload<SessionLedgerInput>(startPayload);
        owner = { tenantId: input.tenantId, userId: input.userId };
        for (const callId of input.delivered ?? []) delivered.add(callId);
        for (const call of input.calls ?? []) calls.set(call.modelCallId, call);
      }
      const signaled = event.workflowExecutionSignaledEventAttributes;
      const signalPayload = signaled?.input?.payloads?.[0];
      if (!signalPayload) continue;
      if (signaled?.signalName === deliveredSignal.name) delivered.add(defaultPayloadConverter.fromPayload<string>(signalPayload));
      if (signaled?.signalName === startedSignal.name) {
        const call = defaultPayloadConverter.fromPayload<RestoredCall>(signalPayload);
        calls.set(call.modelCallId, call);
      }
    }
    return { ...(owner ? { owner } : {}), calls: [...calls.values()], delivered };
  }

  recordCall(sessionId: string, owner: CallOwner, call: RestoredCall): void {
    this.track(
      this.signalLedger(sessionId, owner, startedSignal, call),
      { session: sessionId, call_id: call.modelCallId },
      'could not record a call in the session ledger; a rebuild right after a crash finds it once Temporal lists it',
    );
  }

  recordDelivery(sessionId: string, owner: CallOwner, modelCallId: string): void {
    this.track(
      this.signalLedger(sessionId, owner, deliveredSignal, modelCallId),
      { session: sessionId, call_id: modelCallId },
      'could not record a delivered result; a rebuilt session may announce it again',
    );
  }

  /** Signals the session's ledger, starting it if it has not started (or has ended). */
  private signalLedger<T>(sessionId: string, owner: CallOwner, signal: SignalDefinition<[T]>, value: T): Promise<unknown> {
    const input: SessionLedgerInput = { tenantId: owner.tenantId, userId: owner.userId, idleMs: this.options.resumeWindowMs + LEDGER_MARGIN_MS };
    const memo: OwnerMemo = { tenant_id: owner.tenantId, user_id: owner.userId, session_id: sessionId };
    return this.withDeadline(() =>
      this.client.workflow.signalWithStart<typeof sessionLedgerWorkflow, [T]>(SESSION_LEDGER_WORKFLOW, {
        workflowId: sessionLedgerId(sessionId),
        taskQueue: this.options.taskQueue,
        args: [input],
        memo: { ...memo },
        signal,
        signalArgs: [value],
      }),
    );
  }

  async claimProviderCall(providerCallId: string, owner: CallOwner, sessionId: string): Promise<ProviderCallClaim> {
    const workflowId = providerCallClaimId(providerCallId);
    for (let attempt = 0; ; attempt++) {
      try {
        const input: ProviderCallClaimInput = { tenantId: owner.tenantId, userId: owner.userId, sessionId, ttlMs: this.options.resumeWindowMs };
        const memo: OwnerMemo = { tenant_id: owner.tenantId, user_id: owner.userId, session_id: sessionId };
        await this.withDeadline(() =>
          this.client.workflow.start<typeof providerCallClaimWorkflow>(PROVIDER_CALL_CLAIM_WORKFLOW, {
            workflowId,
            taskQueue: this.options.taskQueue,
            args: [input],
            memo: { ...memo },
            // The start is the claim: it fails while another run holds the id, and succeeds once that run ended.
            workflowIdConflictPolicy: 'FAIL',
            workflowIdReusePolicy: 'ALLOW_DUPLICATE',
          }),
        );
        return 'claimed';
      } catch (error) {
        if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      }
      const handle = this.client.workflow.getHandle(workflowId);
      const description = await this.withDeadline(() => handle.describe());
      // The holder ended between our start and this read: claim it again.
      if (description.status.name !== 'RUNNING' && attempt < 2) continue;
      const holder = description.memo as unknown as OwnerMemo | undefined;
      if (!holder || holder.tenant_id !== owner.tenantId || holder.user_id !== owner.userId) return 'refused';
      await this.withDeadline(() => handle.signal(renewSignal));
      return holder.session_id === sessionId ? 'claimed' : 'shared';
    }
  }

  releaseProviderCall(providerCallId: string): void {
    this.track(
      this.withDeadline(() => this.client.workflow.getHandle(providerCallClaimId(providerCallId)).signal(releaseSignal)).catch((error: unknown) => {
        if (!isNotFound(error)) throw error;
      }),
      { provider_call_id: providerCallId },
      'could not release a provider call; it is released when its claim expires',
    );
  }

  async flush(): Promise<void> {
    await Promise.allSettled([...this.writes]);
  }

  private track(write: Promise<unknown>, context: Record<string, unknown>, message: string): void {
    const settled = write.then(
      () => undefined,
      (error: unknown) => this.log.warn({ ...context, err: error }, message),
    );
    this.writes.add(settled);
    void settled.finally(() => this.writes.delete(settled));
  }

  private withDeadline<T>(request: () => Promise<T>): Promise<T> {
    return this.client.connection.withDeadline(Date.now() + this.options.requestTimeoutMs, request);
  }
}

/** The history read answers NOT_FOUND as a raw gRPC error; handle methods throw WorkflowNotFoundError. */
function isNotFound(error: unknown): boolean {
  return error instanceof WorkflowNotFoundError || (isGrpcServiceError(error) && error.code === GRPC_NOT_FOUND);
}

const GRPC_NOT_FOUND = 5;
