import { isFinished, type CallStreamEvent, type CallSummary } from './types';

/** Counters the browser tests read (window.holdlineConsole) to check that updates are batched per frame. */
export interface LiveStats {
  /** Stream events received. */
  events: number;
  /** Animation frames in which queued events were applied (one render each). */
  flushes: number;
  /** The most events applied in one frame. */
  largestBatch: number;
  /** Time spent applying the last batch, in ms (rendering excluded). */
  lastApplyMs: number;
}

/** Finished calls kept in the live window; older ones are found in the history. */
const FINISHED_KEPT = 100;

/**
 * The live calls, fed by GET /v1/events. Events are queued and applied once
 * per animation frame, so fifty calls heartbeating at once cost one render a
 * frame, not one per heartbeat. Calls are keyed by workflow id, which names a
 * call uniquely across users (a call id is only unique per user).
 */
export class LiveCalls {
  readonly calls = new Map<string, CallSummary>();
  readonly stats: LiveStats = { events: 0, flushes: 0, largestBatch: 0, lastApplyMs: 0 };
  /** Bumped on every applied batch; a view re-renders when it changes. */
  version = 0;
  private queue: CallStreamEvent[] = [];
  private scheduled = false;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly schedule: (flush: () => void) => void = (flush) => requestAnimationFrame(flush)) {}

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  push(event: CallStreamEvent): void {
    this.stats.events += 1;
    this.queue.push(event);
    if (this.scheduled) return;
    this.scheduled = true;
    this.schedule(() => this.flush());
  }

  /** Forgets everything (sign-out, or a stream about to send a fresh snapshot). */
  clear(): void {
    this.calls.clear();
    this.queue = [];
    this.version += 1;
    for (const listener of this.listeners) listener();
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    const started = performance.now();
    for (const event of batch) this.apply(event);
    this.trim();
    this.stats.lastApplyMs = performance.now() - started;
    this.stats.flushes += 1;
    this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
    this.version += 1;
    for (const listener of this.listeners) listener();
  }

  private apply(event: CallStreamEvent): void {
    switch (event.type) {
      case 'calls.snapshot':
        for (const [id, call] of this.calls) if (!isFinished(call.status)) this.calls.delete(id);
        for (const call of event.calls) this.calls.set(call.workflow_id, call);
        return;
      case 'call.started':
        this.calls.set(event.call.workflow_id, { ...this.calls.get(event.call.workflow_id), ...event.call });
        return;
      case 'call.finished':
        this.calls.set(event.call.workflow_id, { ...this.calls.get(event.call.workflow_id), ...event.call });
        return;
      case 'call.progress': {
        const call = this.calls.get(event.workflow_id);
        // A new object per change: rows compare by identity to skip rendering unchanged calls.
        if (call && !isFinished(call.status)) this.calls.set(event.workflow_id, { ...call, progress: event.progress });
        return;
      }
      case 'call.status': {
        const call = this.calls.get(event.workflow_id);
        if (call) this.calls.set(event.workflow_id, { ...call, status: event.status });
      }
    }
  }

  private trim(): void {
    const finished = [...this.calls.values()].filter((call) => isFinished(call.status));
    if (finished.length <= FINISHED_KEPT) return;
    finished.sort((a, b) => (a.closed_at ?? a.started_at).localeCompare(b.closed_at ?? b.started_at));
    for (const call of finished.slice(0, finished.length - FINISHED_KEPT)) this.calls.delete(call.workflow_id);
  }

  /** Awaiting approval first, then running, then finished; newest first within each. */
  sorted(): CallSummary[] {
    const rank = (call: CallSummary) => (call.status === 'awaiting_approval' ? 0 : call.status === 'running' ? 1 : 2);
    return [...this.calls.values()].sort((a, b) => rank(a) - rank(b) || b.started_at.localeCompare(a.started_at));
  }
}
