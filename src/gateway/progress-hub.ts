import type { Logger } from 'pino';
import type { ResultEnvelope, ToolProgress } from '../contracts/envelope';
import type { CallRef } from './results';
import type { CallSnapshot, TemporalCalls } from './temporal-calls';

export type CallUpdate = { kind: 'progress'; progress: ToolProgress; snapshot: CallSnapshot } | { kind: 'result'; envelope: ResultEnvelope };

type Listener = (update: CallUpdate) => void;

/**
 * Watches running calls for readers: one poller per call however many readers
 * it has. Heartbeat details live only in Temporal's pending-activity state, so
 * progress is read by describing the workflow every `pollMs`; the final
 * result comes from a long poll, so it arrives as soon as the call closes.
 */
export class ProgressHub {
  private readonly watches = new Map<string, { listeners: Set<Listener>; stop: () => void }>();

  constructor(
    private readonly calls: TemporalCalls,
    private readonly completionOf: (call: CallRef) => Promise<ResultEnvelope>,
    private readonly pollMs: number,
    private readonly logger: Logger,
  ) {}

  /** Stops every poller; readers get no more updates. */
  close(): void {
    for (const watch of this.watches.values()) watch.stop();
    this.watches.clear();
  }

  /** Calls `listener` with each new progress, then once with the result; returns the unsubscribe. */
  subscribe(call: CallRef, listener: Listener): () => void {
    const workflowId = call.workflow_id;
    let watch = this.watches.get(workflowId);
    if (!watch) {
      const listeners = new Set<Listener>();
      const stop = this.poll(call, listeners);
      watch = { listeners, stop };
      this.watches.set(workflowId, watch);
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

  private poll(call: CallRef, listeners: Set<Listener>): () => void {
    const workflowId = call.workflow_id;
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const emit = (update: CallUpdate) => {
      for (const listener of [...listeners]) listener(update);
    };
    this.completionOf(call).then(
      (envelope) => {
        if (stopped || this.calls.closed) return;
        stopped = true;
        clearTimeout(timer);
        this.watches.delete(workflowId);
        emit({ kind: 'result', envelope });
      },
      // Only a process that stops waiting rejects: its readers are closing too.
      () => undefined,
    );
    let last = '';
    const tick = async () => {
      if (stopped) return;
      try {
        const snapshot = await this.calls.snapshot(workflowId);
        const key = snapshot?.progress ? JSON.stringify(snapshot.progress) : '';
        if (!stopped && snapshot?.progress && key !== last) {
          last = key;
          emit({ kind: 'progress', progress: snapshot.progress, snapshot });
        }
      } catch (error) {
        this.logger.debug({ workflow_id: workflowId, err: error }, 'progress poll failed; retrying');
      }
      if (!stopped) timer = setTimeout(() => void tick(), this.pollMs);
    };
    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }
}
