import type { ToolProgress } from './envelope';

/**
 * How progress travels from the worker that runs a tool to the servers whose
 * readers watch the call, without anyone asking Temporal: its cost follows the
 * progress reported, not the time calls spend waiting. Heartbeats still carry
 * progress to Temporal (liveness, cancellation, the UI), at their own pace.
 */

/** The worker's side: told of each progress update the moment a tool reports it. */
export interface ProgressPublisher {
  /** Never throws and never waits: a tool must not slow down because a reader is far away. */
  publish(workflowId: string, progress: ToolProgress): void;
  /** The call's activity ended: its latest progress need not be kept for late readers. */
  ended(workflowId: string): void;
}

/** The server's side: hears the progress of the calls its readers watch. */
export interface ProgressSubscriber {
  /** For the logs: where progress comes from. */
  readonly kind: 'in-process' | 'redis';
  /** Calls `listener` with each update published from now on; returns the unsubscribe. */
  subscribe(workflowId: string, listener: (progress: ToolProgress) => void): () => void;
  /** The latest update of a running call, for a reader who joins after it was published. */
  latest(workflowId: string): Promise<ToolProgress | undefined>;
}

export interface ProgressChannel extends ProgressPublisher, ProgressSubscriber {
  close(): Promise<void>;
}
