import type { ResultEnvelope, ToolProgress } from '../contracts/envelope';
import { settleWithin, type Caller, type CallRef, type Gateway } from './gateway';
import { isValidKey, workflowIdOf } from './idempotency';
import type { Principal } from './auth';
import { GatewayRejection } from './rejection';
import type { CallSnapshot } from './temporal-calls';
import type { CallFeed } from './call-feed';
import type { CallStatus } from '../workflows/messages';
import { APPROVER_SCOPE, OPERATOR_SCOPE } from './scopes';

/** A call that has not finished: where it stands and its latest progress. */
export interface RunningCallView extends CallRef {
  status: Extract<CallStatus, 'running' | 'awaiting_approval'>;
  progress?: ToolProgress;
  attempt?: number;
}

export type CallView = { kind: 'running'; view: RunningCallView } | { kind: 'finished'; envelope: ResultEnvelope };

/** The longest `?wait=` honoured; a long poll longer than this is cut to it. */
export const MAX_WAIT_MS = 30_000;


/** What a caller wants to do with a call; each act has its own rule for other users' calls. */
export type CallAct = 'read' | 'cancel' | 'approve';

export interface CallAddress {
  callId: string;
  /** The user who made the call; default: the caller. Another user's call needs a scope. */
  user?: string | undefined;
}

/**
 * Reading and steering calls that already exist: status, long poll, approval,
 * cancel. A call belongs to the user who made it: anyone else gets the very
 * answer a call that does not exist gets, unless their token holds the scope
 * for the act (`holdline:operator` to read and cancel, `holdline:approve` to
 * approve), and then only within their own tenant.
 */
export class CallControl {
  /** `feed`: told when an approval is decided here, for live readers. */
  constructor(
    private readonly gateway: Gateway,
    private readonly feed?: CallFeed,
  ) {}

  async find(caller: Caller, address: CallAddress, act: CallAct = 'read'): Promise<{ principal: Principal; snapshot: CallSnapshot; call: CallRef }> {
    const principal = await this.gateway.authenticate(caller);
    const { callId } = address;
    const owner = address.user ?? principal.userId;
    const widened = owner !== principal.userId;
    if (widened && !principal.scopes.has(act === 'approve' ? APPROVER_SCOPE : OPERATOR_SCOPE)) throw notFound(callId);
    if (!isValidKey(callId) || owner.length === 0 || owner.length > 200) throw notFound(callId);
    const snapshot = await this.gateway.calls.snapshot(workflowIdOf({ tenantId: principal.tenantId, userId: owner }, callId));
    if (!snapshot || snapshot.memo.user_id !== owner) throw notFound(callId);
    const call: CallRef = { call_id: callId, workflow_id: snapshot.workflowId, trace_id: snapshot.memo.trace_id, tool: snapshot.tool };
    return { principal, snapshot, call };
  }

  /** The final envelope if the call has finished (waiting up to `waitMs` for it), else where it stands. */
  async view(caller: Caller, address: CallAddress, waitMs = 0): Promise<CallView> {
    const { snapshot, call } = await this.find(caller, address);
    if (snapshot.closed) return { kind: 'finished', envelope: await this.gateway.completionOf(call) };
    if (waitMs > 0) {
      const envelope = await settleWithin(this.gateway.completionOf(call), Math.min(waitMs, MAX_WAIT_MS));
      if (envelope) return { kind: 'finished', envelope };
      const latest = (await this.gateway.calls.snapshot(call.workflow_id)) ?? snapshot;
      return { kind: 'running', view: runningView(call, latest) };
    }
    return { kind: 'running', view: runningView(call, snapshot) };
  }

  async approve(caller: Caller, address: CallAddress, approved: boolean): Promise<CallView> {
    const { principal, snapshot, call } = await this.find(caller, address, 'approve');
    const callId = address.callId;
    if (snapshot.closed) return { kind: 'finished', envelope: await this.gateway.completionOf(call) };
    if (snapshot.status !== 'awaiting_approval') {
      throw new GatewayRejection('INVALID_ARGUMENTS', `Tool call ${callId} is not waiting for approval`, { httpStatus: 409 });
    }
    // The decision, who made it and in which capacity land in the workflow's history.
    const decidedAs = principal.userId === snapshot.memo.user_id ? 'owner' : 'approver';
    await this.gateway.calls.approve(call.workflow_id, { approved, decidedBy: principal.userId, decidedAs });
    // A denial ends the call: its finish says so. An approval sets it running.
    if (approved) this.feed?.statusChanged(call.workflow_id, 'running');
    return { kind: 'running', view: runningView(call, { ...snapshot, status: approved ? 'running' : snapshot.status }) };
  }

  /** Asks the call to stop. A tool that is not cancellable, or already moved money, still finishes. */
  async cancel(caller: Caller, address: CallAddress): Promise<{ kind: 'requested'; cancellable: boolean; call: CallRef } | { kind: 'finished'; envelope: ResultEnvelope }> {
    const { snapshot, call } = await this.find(caller, address, 'cancel');
    if (snapshot.closed) return { kind: 'finished', envelope: await this.gateway.completionOf(call) };
    await this.gateway.calls.cancel(call.workflow_id);
    const spec = this.gateway.registry.get(snapshot.tool);
    // Cancelling a call still waiting for approval ends it whatever the tool.
    return { kind: 'requested', cancellable: snapshot.status === 'awaiting_approval' || (spec?.cancellable ?? false), call };
  }
}

/** The same answer whether the call does not exist or is someone else's. */
function notFound(callId: string): GatewayRejection {
  return new GatewayRejection('INVALID_ARGUMENTS', `No tool call ${callId.slice(0, 200)}`, { httpStatus: 404 });
}

function runningView(call: CallRef, snapshot: CallSnapshot): RunningCallView {
  return {
    ...call,
    status: snapshot.status === 'awaiting_approval' ? 'awaiting_approval' : 'running',
    ...(snapshot.progress ? { progress: snapshot.progress } : {}),
    ...(snapshot.attempt ? { attempt: snapshot.attempt } : {}),
  };
}
