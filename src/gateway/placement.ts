import type { Logger } from 'pino';
import type { ToolSpec } from '../contracts/tool-spec';
import type { ExecutionPlan } from '../contracts/tool-call';
import type { ToolCallInput } from '../contracts/tool-call';
import type { Principal } from './auth';
import type { CircuitBreaker } from './breaker';
import type { ToolBreakers } from './tool-breakers';
import type { CallMemo } from './call-memo';
import type { GiveBack, SessionInFlightLimit, TenantRateLimit } from './limits';
import { executionTimeoutOf, isBackendFailure, neverReachedTemporal, type TemporalCalls } from './temporal-calls';

/** A call that passed validation, authentication and scopes. */
export interface Admitted {
  spec: ToolSpec;
  args: Record<string, unknown>;
  principal: Principal;
}

/** Everything about one call the pipeline derived, built once. */
export interface PreparedCall extends Admitted {
  redacted: Record<string, unknown>;
  /** How the workflow runs it: the declaration's plan, tightened by the tenant's policy. */
  plan: ExecutionPlan;
  sessionId: string;
  callId: string;
  workflowId: string;
  fingerprint: string;
  traceId: string;
  startedAt: number;
  context: LogContext;
}

/** How a call found its workflow: started it, found it already there, or could not tell. */
export type Placed =
  | { kind: 'started'; release: () => void; fingerprint: string; trace_id: string }
  | { kind: 'existing'; fingerprint: string; trace_id: string; closed: boolean }
  | { kind: 'unknown' };

/** The gateway's log fields for one call. Until the caller is authenticated and the tool known, `tool` is `unknown`. */
export interface LogContext {
  trace_id: string;
  /** A registry tool name, or `unknown`. */
  tool: string;
  requested_tool?: string;
  session?: string | undefined;
  tenant?: string;
  user?: string;
  call_id?: string;
  workflow_id?: string;
  arguments?: Record<string, unknown>;
  fallback?: boolean;
}

/** How many placed calls a process remembers for duplicates. */
const KNOWN_CALLS = 10_000;

/**
 * How long a shared in-flight slot outlives a server killed before releasing
 * it: the call's workflow ends by its execution timeout (taken with the
 * default 30 s margin), and this much more covers a larger configured margin
 * and the result's way back. A live server releases the slot long before.
 */
const SLOT_LEASE_SLACK_MS = 60_000;

export interface PlacementDeps {
  calls: TemporalCalls;
  breaker: CircuitBreaker;
  /** Per-tool breakers: a new start passes its tool's breaker after Temporal's. Default: none. */
  toolBreakers?: ToolBreakers;
  rateLimiter: TenantRateLimit;
  inFlight: SessionInFlightLimit;
  logger: Logger;
}

/**
 * Finds a call's workflow: starts it under the limits and the breaker, or
 * finds the one its key already names. Limits are charged only for a call
 * that really starts: a duplicate gives back what it took, one over a limit
 * is looked up before it is refused, and duplicates arriving together share
 * the first one's start.
 */
export class CallPlacement {
  /** Starts under way in this process, by workflow id: concurrent duplicates join the first instead of racing it. */
  private readonly starting = new Map<string, Promise<Placed>>();
  /**
   * Calls placed here, by workflow id. A workflow id's fingerprint and trace
   * never change, so a later duplicate attaches from here without a Temporal
   * round trip (which, on a loaded Temporal, could miss its deadline). Bounded;
   * the oldest are forgotten first, and a forgotten one is asked of Temporal.
   */
  private readonly known = new Map<string, Extract<Placed, { kind: 'existing' }>>();
  /** Calls whose start Temporal did not confirm; asking again about one is not a new call. Bounded like `known`. */
  private readonly uncertain = new Set<string>();

  constructor(private readonly deps: PlacementDeps) {}

  /** How the call found its workflow; `leader` when this request made the start (others joined it). */
  async place(call: PreparedCall): Promise<{ placed: Placed; leader: boolean }> {
    const known = this.known.get(call.workflowId);
    if (known) return { placed: { ...known }, leader: false };
    let placing = this.starting.get(call.workflowId);
    const leader = !placing;
    if (!placing) {
      placing = this.admitAndStart(call);
      this.starting.set(call.workflowId, placing);
      const forget = () => this.starting.delete(call.workflowId);
      placing.then(
        (placed) => {
          forget();
          this.remember(call.workflowId, placed);
          // Only a call started here reports its outcome to its tool's breaker.
          if (placed.kind !== 'started') this.deps.toolBreakers?.abandon(call.workflowId);
        },
        () => {
          forget();
          this.deps.toolBreakers?.abandon(call.workflowId);
        },
      );
    }
    return { placed: await placing, leader };
  }

  /**
   * Whether a request for this workflow id joins a call this process placed,
   * is placing, or could not tell about: it attaches (or resolves an unknown
   * start) without passing admission again.
   */
  knows(workflowId: string): boolean {
    return this.known.has(workflowId) || this.starting.has(workflowId) || this.uncertain.has(workflowId);
  }

  /** The call's result came back: a later duplicate waits for nothing. */
  closed(workflowId: string): void {
    const known = this.known.get(workflowId);
    if (known) known.closed = true;
  }

  private remember(workflowId: string, placed: Placed): void {
    if (placed.kind === 'unknown') {
      this.uncertain.add(workflowId);
      if (this.uncertain.size > KNOWN_CALLS) this.uncertain.delete(this.uncertain.values().next().value!);
      return;
    }
    this.uncertain.delete(workflowId);
    this.known.set(workflowId, { kind: 'existing', fingerprint: placed.fingerprint, trace_id: placed.trace_id, closed: placed.kind === 'existing' && placed.closed });
    if (this.known.size > KNOWN_CALLS) this.known.delete(this.known.keys().next().value!);
  }

  /** Charges the limits and starts; refunds them when the key turns out to name an existing call. */
  private async admitAndStart(call: PreparedCall): Promise<Placed> {
    const { principal, workflowId } = call;
    let refund: GiveBack;
    let release: GiveBack;
    try {
      refund = await this.deps.rateLimiter.take(principal.tenantId);
      try {
        release = await this.deps.inFlight.acquire(`${principal.tenantId}/${call.sessionId}`, executionTimeoutOf(call.plan, 30_000) + SLOT_LEASE_SLACK_MS);
      } catch (error) {
        refund();
        throw error;
      }
    } catch (limited) {
      // Over a limit: a duplicate of an existing call still attaches.
      const existing = await this.deps.calls.snapshot(workflowId).catch(() => undefined);
      if (existing) return { kind: 'existing', fingerprint: existing.memo.fingerprint, trace_id: existing.memo.trace_id, closed: existing.closed };
      throw limited;
    }
    const undo = () => {
      release();
      refund();
    };

    try {
      await this.deps.breaker.admit();
      this.deps.toolBreakers?.admit(call.spec.name, workflowId);
    } catch (error) {
      undo();
      throw error;
    }
    let started;
    try {
      started = await this.deps.calls.start(this.inputOf(call), workflowId, this.memoOf(call));
      this.deps.breaker.recordSuccess();
    } catch (error) {
      if (!isBackendFailure(error)) {
        undo();
        throw error;
      }
      this.deps.breaker.recordFailure();
      if (neverReachedTemporal(error)) {
        undo();
        throw error;
      }
      return this.afterLostStart(call, release, undo, error);
    }
    if (started.kind === 'started') return { kind: 'started', release, fingerprint: call.fingerprint, trace_id: call.traceId };
    undo();
    return { kind: 'existing', fingerprint: started.memo.fingerprint, trace_id: started.memo.trace_id, closed: started.closed };
  }

  /**
   * The start's answer was lost: it may or may not have reached Temporal.
   * Ask by workflow id before saying anything; if Temporal cannot say either,
   * the outcome of a tool with side effects is unknown — never reported as a
   * failure.
   */
  private async afterLostStart(call: PreparedCall, release: () => void, undo: () => void, lost: unknown): Promise<Placed> {
    const found = await this.deps.calls.snapshot(call.workflowId).catch(() => 'unanswered' as const);
    if (found === 'unanswered' || found === undefined) {
      undo();
      // A read tool that may have started is harmless to run again: answer as unavailable (its fallback may answer).
      if (call.spec.sideEffect === 'read') throw lost;
      this.deps.logger.warn({ ...call.context }, 'a start may or may not have reached Temporal; the call is reported as unknown, not failed');
      return { kind: 'unknown' };
    }
    if (found.memo.trace_id === call.traceId) return { kind: 'started', release, fingerprint: call.fingerprint, trace_id: call.traceId };
    undo();
    return { kind: 'existing', fingerprint: found.memo.fingerprint, trace_id: found.memo.trace_id, closed: found.closed };
  }

  private inputOf(call: PreparedCall): ToolCallInput {
    const { spec, principal } = call;
    return {
      tool: spec.name,
      toolVersion: spec.version,
      arguments: call.args,
      callId: call.callId,
      idempotencyKey: call.workflowId,
      traceId: call.traceId,
      tenantId: principal.tenantId,
      userId: principal.userId,
      sessionId: call.sessionId,
      plan: call.plan,
    };
  }

  private memoOf(call: PreparedCall): CallMemo {
    return { fingerprint: call.fingerprint, trace_id: call.traceId, user_id: call.principal.userId, tool_version: call.spec.version, arguments: call.redacted };
  }
}
