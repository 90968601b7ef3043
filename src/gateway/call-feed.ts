import type { Logger } from 'pino';
import type { CallStatusName, CallSummary, LiveCallEvent } from '../contracts/calls';
import type { ResultEnvelope } from '../contracts/envelope';
import { outcomeOf } from '../contracts/error-codes';
import { inScope, type CallScope } from './call-list';
import { parseWorkflowId } from './idempotency';
import type { CallUpdate } from './progress-hub';
import { isShutdown, type CallRef } from './results';

/** Watches one call for progress and its result; returns the unsubscribe. The progress hub's `subscribe`. */
export type WatchCall = (call: CallRef, listener: (update: CallUpdate) => void) => () => void;

export type FeedListener = (event: LiveCallEvent) => void;

interface Reader {
  scope: CallScope;
  listener: FeedListener;
}

interface Tracked {
  ref: CallRef;
  summary: CallSummary;
  owner: { tenantId: string; userId: string };
  /** Readers whose scope covers the call; while there are any, the call is watched. */
  interest: number;
  unwatch?: () => void;
  /** Started by this gateway: followed to its end whether anyone reads or not (its completion is awaited anyway). */
  startedHere: boolean;
}

/**
 * The live events of the calls this server's gateway starts and steers:
 * started, status changed, progress, finished. Each event reaches only the
 * readers whose scope covers the call. Progress costs what the progress hub
 * costs, and only while a reader in scope listens; calls found running by a
 * reader (started elsewhere, or before a restart) are followed the same way
 * for as long as someone in scope reads.
 */
export class CallFeed {
  private readonly readers = new Set<Reader>();
  private readonly tracked = new Map<string, Tracked>();

  constructor(
    private readonly watch: WatchCall,
    private readonly logger: Logger,
  ) {}

  /** Calls `listener` with each event in `scope` from now on; returns the unsubscribe. */
  subscribe(scope: CallScope, listener: FeedListener): () => void {
    const reader: Reader = { scope, listener };
    this.readers.add(reader);
    for (const call of this.tracked.values()) if (inScope(scope, call.owner)) this.interested(call, +1);
    return () => {
      if (!this.readers.delete(reader)) return;
      for (const call of [...this.tracked.values()]) if (inScope(scope, call.owner)) this.interested(call, -1);
    };
  }

  /** Readers listening now, for tests and metrics. */
  get readerCount(): number {
    return this.readers.size;
  }

  /** The open calls this feed follows in `scope`, as it knows them now. */
  openIn(scope: CallScope): CallSummary[] {
    return [...this.tracked.values()].filter((call) => inScope(scope, call.owner)).map((call) => call.summary);
  }

  /**
   * A call a reader found running (in visibility): followed while a reader in
   * its scope listens. Returns what the feed knows of it, fresher than the list.
   */
  adopt(ref: CallRef, summary: CallSummary): CallSummary {
    const known = this.tracked.get(ref.workflow_id);
    if (known) return known.summary;
    const call: Tracked = { ref, summary, owner: { tenantId: summary.tenant_id, userId: summary.user_id }, interest: 0, startedHere: false };
    const interest = this.interestIn(call.owner);
    if (interest === 0) return summary;
    this.tracked.set(ref.workflow_id, call);
    this.interested(call, interest);
    return summary;
  }

  /** A call this gateway started (never one it attached to): announced, then followed to its end. */
  started(ref: CallRef, summary: CallSummary, completion: Promise<ResultEnvelope>): void {
    const call: Tracked = { ref, summary, owner: { tenantId: summary.tenant_id, userId: summary.user_id }, interest: 0, startedHere: true };
    this.tracked.set(ref.workflow_id, call);
    this.emit(call.owner, { type: 'call.started', call: summary });
    this.interested(call, this.interestIn(call.owner));
    completion.then(
      (envelope) => this.finish(ref.workflow_id, envelope),
      (error: unknown) => {
        if (!isShutdown(error)) this.logger.debug({ workflow_id: ref.workflow_id, err: error }, 'call feed: no result');
        this.untrack(ref.workflow_id);
      },
    );
  }

  /** A running call moved between running states here (an approval was decided). */
  statusChanged(workflowId: string, status: CallStatusName): void {
    const call = this.tracked.get(workflowId);
    const owner = call?.owner ?? parseWorkflowId(workflowId);
    if (!owner) return;
    if (call) {
      if (call.summary.status === status) return;
      call.summary = { ...call.summary, status };
    }
    const identity = parseWorkflowId(workflowId);
    if (identity) this.emit(owner, { type: 'call.status', call_id: identity.callId, workflow_id: workflowId, status });
  }

  /** Stops following every call; readers get no more events. */
  close(): void {
    for (const call of this.tracked.values()) call.unwatch?.();
    this.tracked.clear();
    this.readers.clear();
  }

  private interestIn(owner: { tenantId: string; userId: string }): number {
    let count = 0;
    for (const reader of this.readers) if (inScope(reader.scope, owner)) count++;
    return count;
  }

  private interested(call: Tracked, delta: number): void {
    call.interest += delta;
    if (call.interest > 0 && !call.unwatch) {
      call.unwatch = this.watch(call.ref, (update) => this.updated(call.ref.workflow_id, update));
    } else if (call.interest <= 0 && call.unwatch) {
      call.unwatch();
      delete call.unwatch;
      if (!call.startedHere) this.tracked.delete(call.ref.workflow_id);
    }
  }

  private updated(workflowId: string, update: CallUpdate): void {
    const call = this.tracked.get(workflowId);
    if (!call) return;
    if (update.kind === 'result') {
      this.finish(workflowId, update.envelope);
      return;
    }
    const { progress } = update;
    // Only a running tool reports progress: a call that waited for approval has it now.
    this.statusChanged(workflowId, 'running');
    call.summary = { ...call.summary, progress };
    this.emit(call.owner, { type: 'call.progress', call_id: call.summary.call_id, workflow_id: workflowId, progress });
  }

  private finish(workflowId: string, envelope: ResultEnvelope): void {
    const call = this.tracked.get(workflowId);
    if (!call) return;
    this.untrack(workflowId);
    const closedAt = new Date();
    const { cancellable: _open, ...summary } = call.summary;
    const finished: CallSummary = {
      ...summary,
      status: outcomeOf(envelope),
      closed_at: closedAt.toISOString(),
      duration_ms: Math.max(0, closedAt.getTime() - Date.parse(summary.started_at)),
      ...(envelope.attempts !== undefined ? { attempts: envelope.attempts } : {}),
    };
    this.emit(call.owner, { type: 'call.finished', call: finished, result: envelope });
  }

  private untrack(workflowId: string): void {
    const call = this.tracked.get(workflowId);
    if (!call) return;
    call.unwatch?.();
    this.tracked.delete(workflowId);
  }

  private emit(owner: { tenantId: string; userId: string }, event: LiveCallEvent): void {
    for (const reader of [...this.readers]) {
      if (!inScope(reader.scope, owner)) continue;
      try {
        reader.listener(event);
      } catch (error) {
        this.logger.warn({ err: error }, 'call feed reader failed');
      }
    }
  }
}
