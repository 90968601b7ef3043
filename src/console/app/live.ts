import { isFinished, type CallStreamEvent, type CallSummary, type ToolProgress } from './types';

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
/** Progress steps kept per call; the server keeps none after a call ends, so this is all a finished call's detail can show. */
const STEPS_KEPT = 100;

/** A progress report as this page received it. */
export interface ProgressStep extends ToolProgress {
  at: number;
}

/** The progress this page saw for one call, and whether it saw the call start (then an empty list means none was reported). */
export interface SeenProgress {
  steps: readonly ProgressStep[];
  fromStart: boolean;
}

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
  private readonly trails = new Map<string, ProgressStep[]>();
  private readonly seenStarting = new Set<string>();
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
    this.trails.clear();
    this.seenStarting.clear();
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
        for (const call of event.calls) {
          this.calls.set(call.workflow_id, call);
          // A fresh snapshot follows a gap in the feed: reports may have been missed meanwhile.
          this.seenStarting.delete(call.workflow_id);
          if (call.progress) this.record(call.workflow_id, call.progress);
        }
        return;
      case 'call.started':
        this.calls.set(event.call.workflow_id, { ...this.calls.get(event.call.workflow_id), ...event.call });
        this.seenStarting.add(event.call.workflow_id);
        if (event.call.progress) this.record(event.call.workflow_id, event.call.progress);
        return;
      case 'call.finished':
        this.calls.set(event.call.workflow_id, { ...this.calls.get(event.call.workflow_id), ...event.call });
        return;
      case 'call.progress': {
        const call = this.calls.get(event.workflow_id);
        // A new object per change: rows compare by identity to skip rendering unchanged calls.
        if (call && !isFinished(call.status)) {
          this.calls.set(event.workflow_id, { ...call, progress: event.progress });
          this.record(event.workflow_id, event.progress);
        }
        return;
      }
      case 'call.status': {
        const call = this.calls.get(event.workflow_id);
        if (call) this.calls.set(event.workflow_id, { ...call, status: event.status });
      }
    }
  }

  private record(workflowId: string, progress: ToolProgress): void {
    let steps = this.trails.get(workflowId);
    if (!steps) this.trails.set(workflowId, (steps = []));
    const last = steps[steps.length - 1];
    if (last && last.pct === progress.pct && last.stage === progress.stage && last.message === progress.message) return;
    steps.push({ ...progress, at: Date.now() });
    if (steps.length > STEPS_KEPT) steps.splice(0, steps.length - STEPS_KEPT);
  }

  /** What this page saw of a call's progress while it was listed (nothing for a call only found in the history). */
  progressOf(workflowId: string): SeenProgress {
    return { steps: this.trails.get(workflowId) ?? [], fromStart: this.seenStarting.has(workflowId) };
  }

  private trim(): void {
    const finished = [...this.calls.values()].filter((call) => isFinished(call.status));
    if (finished.length > FINISHED_KEPT) {
      finished.sort((a, b) => (a.closed_at ?? a.started_at).localeCompare(b.closed_at ?? b.started_at));
      for (const call of finished.slice(0, finished.length - FINISHED_KEPT)) this.calls.delete(call.workflow_id);
    }
    // A call that left the window (trimmed, or gone from a fresh snapshot) takes what was seen of it along.
    for (const id of this.trails.keys()) if (!this.calls.has(id)) this.trails.delete(id);
    for (const id of this.seenStarting) if (!this.calls.has(id)) this.seenStarting.delete(id);
  }

  /** Awaiting approval first, then running, then finished; newest first within each. */
  sorted(): CallSummary[] {
    const rank = (call: CallSummary) => (call.status === 'awaiting_approval' ? 0 : call.status === 'running' ? 1 : 2);
    return [...this.calls.values()].sort((a, b) => rank(a) - rank(b) || b.started_at.localeCompare(a.started_at));
  }
}
