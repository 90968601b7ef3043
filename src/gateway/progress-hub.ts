import type { Logger } from 'pino';
import type { ResultEnvelope, ToolProgress } from '../contracts/envelope';
import type { ProgressSubscriber } from '../contracts/progress-channel';
import type { CallRef } from './results';
import type { TemporalCalls } from './temporal-calls';

export type CallUpdate = { kind: 'progress'; progress: ToolProgress } | { kind: 'result'; envelope: ResultEnvelope };

type Listener = (update: CallUpdate) => void;

/**
 * Where progress comes from: pushed by the workers through a channel, or,
 * when there is none (split roles without Redis), read from Temporal every
 * `everyMs`, only for calls someone watches.
 */
export type ProgressSource = { kind: 'pushed'; channel: ProgressSubscriber } | { kind: 'polled'; everyMs: number };

/**
 * Watches running calls for readers: one watch per call however many readers
 * it has. Progress arrives as it is published (or from the slow poll); the
 * final result comes from a long poll, so it arrives as soon as the call
 * closes. A reader who joins late gets the latest progress once.
 */
export class ProgressHub {
  private readonly watches = new Map<string, { listeners: Set<Listener>; stop: () => void }>();

  constructor(
    private readonly calls: TemporalCalls,
    private readonly completionOf: (call: CallRef) => Promise<ResultEnvelope>,
    private readonly source: ProgressSource,
    private readonly logger: Logger,
  ) {}

  /** Stops every watch; readers get no more updates. */
  close(): void {
    for (const watch of this.watches.values()) watch.stop();
    this.watches.clear();
  }

  /** How many calls are watched now (one watch each, however many readers). */
  get watched(): number {
    return this.watches.size;
  }

  /** Calls `listener` with each new progress, then once with the result; returns the unsubscribe. */
  subscribe(call: CallRef, listener: Listener): () => void {
    const workflowId = call.workflow_id;
    let watch = this.watches.get(workflowId);
    if (!watch) {
      const listeners = new Set<Listener>();
      watch = { listeners, stop: () => undefined };
      this.watches.set(workflowId, watch);
      watch.stop = this.watch(call, listeners);
    } else {
      this.replayLatest(call, listener);
    }
    watch.listeners.add(listener);
    return () => {
      const current = this.watches.get(workflowId);
      if (!current) return;
      current.listeners.delete(listener);
      if (current.listeners.size === 0) {
        current.stop();
        this.watches.delete(workflowId);
      }
    };
  }

  private watch(call: CallRef, listeners: Set<Listener>): () => void {
    const workflowId = call.workflow_id;
    let stopped = false;
    const emit = (update: CallUpdate) => {
      for (const listener of [...listeners]) listener(update);
    };
    this.completionOf(call).then(
      (envelope) => {
        if (stopped || this.calls.closed) return;
        stopProgress();
        stopped = true;
        this.watches.delete(workflowId);
        emit({ kind: 'result', envelope });
      },
      // Only a process that stops waiting rejects: its readers are closing too.
      () => undefined,
    );
    let last = '';
    const progressed = (progress: ToolProgress) => {
      const key = JSON.stringify(progress);
      if (stopped || key === last) return;
      last = key;
      emit({ kind: 'progress', progress });
    };
    const stopProgress = this.source.kind === 'pushed' ? this.listen(workflowId, this.source.channel, progressed) : this.poll(workflowId, this.source.everyMs, progressed);
    return () => {
      stopped = true;
      stopProgress();
    };
  }

  /** Subscribes first, then reads the latest once: an update published in between is heard either way. */
  private listen(workflowId: string, channel: ProgressSubscriber, progressed: (progress: ToolProgress) => void): () => void {
    const unsubscribe = channel.subscribe(workflowId, progressed);
    channel.latest(workflowId).then(
      (progress) => progress && progressed(progress),
      (error: unknown) => this.logger.debug({ workflow_id: workflowId, err: error }, 'latest progress unavailable; waiting for the next update'),
    );
    return unsubscribe;
  }

  /** A second reader of a watched call: the latest progress, once, for it alone. */
  private replayLatest(call: CallRef, listener: Listener): void {
    if (this.source.kind !== 'pushed') return;
    this.source.channel.latest(call.workflow_id).then(
      (progress) => {
        if (progress && this.watches.get(call.workflow_id)?.listeners.has(listener)) listener({ kind: 'progress', progress });
      },
      () => undefined, // the next update reaches it anyway
    );
  }

  private poll(workflowId: string, everyMs: number, progressed: (progress: ToolProgress) => void): () => void {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const tick = async () => {
      if (stopped) return;
      try {
        const snapshot = await this.calls.snapshot(workflowId);
        if (snapshot?.progress) progressed(snapshot.progress);
      } catch (error) {
        this.logger.debug({ workflow_id: workflowId, err: error }, 'progress poll failed; retrying');
      }
      if (!stopped) timer = setTimeout(() => void tick(), everyMs);
    };
    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }
}
