import { Context } from '@temporalio/activity';
import type { ToolProgress } from '../../contracts/envelope';
import type { ToolContext } from '../../contracts/tool-spec';

/**
 * The local deadline is a backstop, in case Temporal's timeout never reaches
 * the attempt (its heartbeats failing). Temporal must time the attempt out
 * first, so that a call whose budget runs out ends in TIMEOUT rather than in a
 * failure of the tool; its timer can fire late on a loaded server (seen: over
 * 500 ms), and the attempt hears of it through the next heartbeat, so the
 * backstop leaves it seconds.
 */
const DEADLINE_GRACE_MS = 5_000;
/** Longest silence between two heartbeats while an endpoint keeps Holdline waiting. */
const MAX_KEEPALIVE_MS = 1_000;

/**
 * One attempt of an HTTP tool as the requests see it: a signal that stops
 * them when the call is cancelled or the attempt's time is up, and heartbeats
 * while an endpoint keeps it waiting (a cancel reaches an activity only
 * through a heartbeat, and a tool with a heartbeat timeout must send them).
 */
export interface Attempt {
  /** Aborted when the call is cancelled, the attempt timed out, or the worker stops. */
  readonly signal: AbortSignal;
  /** The attempt's own time ran out (Temporal's timeout or the local deadline). */
  timedOut(): boolean;
  /** Someone asked for the call to stop (cancel, barge-in), as opposed to a timeout or a worker stopping. */
  cancelRequested(): boolean;
  /** Reports progress; kept and repeated by the keepalive heartbeats. */
  progress(update: ToolProgress): void;
  /** Writes to the activity's log. */
  log(message: string, fields: Record<string, unknown>): void;
  /** Stops the heartbeats and the deadline timer. */
  end(): void;
}

export function beginAttempt(ctx: ToolContext, attemptTimeoutMs: number): Attempt {
  const activity = currentActivity();
  const info = activity?.info;
  const deadline = new AbortController();
  let deadlinePassed = false;
  const timer = setTimeout(
    () => {
      deadlinePassed = true;
      deadline.abort(new Error('the attempt ran out of time'));
    },
    (info?.startToCloseTimeoutMs || attemptTimeoutMs) + DEADLINE_GRACE_MS,
  );
  let last: ToolProgress | undefined;
  const beatEvery = Math.min(MAX_KEEPALIVE_MS, Math.max(50, Math.floor((info?.heartbeatTimeoutMs || MAX_KEEPALIVE_MS * 3) / 3)));
  const keepalive = activity ? setInterval(() => activity.heartbeat(last), beatEvery) : undefined;
  timer.unref();
  keepalive?.unref();
  return {
    signal: AbortSignal.any([ctx.signal, deadline.signal]),
    timedOut: () => deadlinePassed || (activity?.cancellationDetails?.timedOut ?? false),
    cancelRequested: () => (activity ? (activity.cancellationDetails?.cancelRequested ?? false) : ctx.signal.aborted),
    progress: (update) => {
      last = update;
      ctx.progress(update);
    },
    log: (message, fields) => activity?.log.info(message, fields),
    end: () => {
      clearTimeout(timer);
      clearInterval(keepalive);
    },
  };
}

function currentActivity(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined; // Called outside a Temporal activity (a direct call in a script): no heartbeats.
  }
}
