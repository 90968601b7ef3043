import type { ResultEnvelope, ToolProgress } from '../contracts/envelope';
import { settleWithin, type Caller, type CallRef, type Gateway } from './gateway';
import { workflowIdOf } from './idempotency';
import type { Principal } from './auth';
import { GatewayRejection } from './rejection';
import type { CallSnapshot } from './temporal-calls';
import type { CallStatus } from '../workflows/messages';

/** A call that has not finished: where it stands and its latest progress. */
export interface RunningCallView extends CallRef {
  status: Extract<CallStatus, 'running' | 'awaiting_approval'>;
  progress?: ToolProgress;
  attempt?: number;
}

export type CallView = { kind: 'running'; view: RunningCallView } | { kind: 'finished'; envelope: ResultEnvelope };

/** The longest `?wait=` honoured; a long poll longer than this is cut to it. */
export const MAX_WAIT_MS = 30_000;

/**
 * Reading and steering calls that already exist: status, long poll, approval,
 * cancel. Every lookup is by the caller's tenant, so another tenant's call is
 * simply not found.
 */
export class CallControl {
  constructor(private readonly gateway: Gateway) {}

  async find(caller: Caller, callId: string): Promise<{ principal: Principal; snapshot: CallSnapshot; call: CallRef }> {
    const principal = await this.gateway.authenticate(caller);
    const snapshot = await this.gateway.calls.snapshot(workflowIdOf(principal, callId));
    if (!snapshot) throw new GatewayRejection('INVALID_ARGUMENTS', `No tool call ${callId}`, { httpStatus: 404 });
    const call: CallRef = { call_id: callId, workflow_id: snapshot.workflowId, trace_id: snapshot.memo.trace_id, tool: snapshot.tool };
    return { principal, snapshot, call };
  }

  /** The final envelope if the call has finished (waiting up to `waitMs` for it), else where it stands. */
  async view(caller: Caller, callId: string, waitMs = 0): Promise<CallView> {
    const { snapshot, call } = await this.find(caller, callId);
    if (snapshot.closed) return { kind: 'finished', envelope: await this.gateway.completionOf(call) };
    if (waitMs > 0) {
      const envelope = await settleWithin(this.gateway.completionOf(call), Math.min(waitMs, MAX_WAIT_MS));
      if (envelope) return { kind: 'finished', envelope };
      const latest = (await this.gateway.calls.snapshot(call.workflow_id)) ?? snapshot;
      return { kind: 'running', view: runningView(call, latest) };
    }
    return { kind: 'running', view: runningView(call, snapshot) };
  }

  async approve(caller: Caller, callId: string, approved: boolean): Promise<CallView> {
    const { principal, snapshot, call } = await this.find(caller, callId);
    if (snapshot.closed) return { kind: 'finished', envelope: await this.gateway.completionOf(call) };
    if (snapshot.status !== 'awaiting_approval') {
      throw new GatewayRejection('INVALID_ARGUMENTS', `Tool call ${callId} is not waiting for approval`, { httpStatus: 409 });
    }
    await this.gateway.calls.approve(call.workflow_id, { approved, decidedBy: principal.userId });
    return { kind: 'running', view: runningView(call, { ...snapshot, status: approved ? 'running' : snapshot.status }) };
  }

  /** Asks the call to stop. A tool that is not cancellable, or already moved money, still finishes. */
  async cancel(caller: Caller, callId: string): Promise<{ kind: 'requested'; cancellable: boolean; call: CallRef } | { kind: 'finished'; envelope: ResultEnvelope }> {
    const { snapshot, call } = await this.find(caller, callId);
    if (snapshot.closed) return { kind: 'finished', envelope: await this.gateway.completionOf(call) };
    await this.gateway.calls.cancel(call.workflow_id);
    const spec = this.gateway.registry.get(snapshot.tool);
    // Cancelling a call still waiting for approval ends it whatever the tool.
    return { kind: 'requested', cancellable: snapshot.status === 'awaiting_approval' || (spec?.cancellable ?? false), call };
  }
}

function runningView(call: CallRef, snapshot: CallSnapshot): RunningCallView {
  return {
    ...call,
    status: snapshot.status === 'awaiting_approval' ? 'awaiting_approval' : 'running',
    ...(snapshot.progress ? { progress: snapshot.progress } : {}),
    ...(snapshot.attempt ? { attempt: snapshot.attempt } : {}),
  };
}
