import { AsyncLocalStorage } from 'node:async_hooks';
import type { Context } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { ToolProgress } from '../contracts/envelope';
import type { ProgressPublisher } from '../contracts/progress-channel';

/**
 * A tool that reports progress in a tight loop must not flood the channel:
 * the first update goes at once, later ones at most this often, the latest
 * one last (so the final progress is never dropped).
 */
export const PROGRESS_PUBLISH_EVERY_MS = 50;

type Report = (progress: ToolProgress) => void;

/** The running activity's way to publish; set per execution by {@link progressPublishing}. */
const reportOfExecution = new AsyncLocalStorage<Report>();

/**
 * How a tool reports progress: a heartbeat for Temporal (throttled by the
 * SDK) and, when the worker publishes progress, straight to the watching
 * readers. Made while the activity starts, inside its execution: a tool may
 * report from callbacks that run outside it (an MCP client's progress
 * notifications arrive on the connection's own reader), where the
 * execution's publisher could no longer be looked up.
 */
export function progressReporterOf(activity: Context): Report {
  const publish = reportOfExecution.getStore();
  return (progress) => {
    activity.heartbeat(progress);
    publish?.(progress);
  };
}

/**
 * The worker's activity interceptor that hands each execution its publisher,
 * keyed by the call's workflow id, and tells the channel when it has ended.
 */
export function progressPublishing(publisher: ProgressPublisher): ActivityInterceptorsFactory {
  return (ctx) => ({
    inbound: {
      execute: async (input, next) => {
        const workflowId = ctx.info.workflowExecution?.workflowId;
        // Only a workflow's activity belongs to a call that readers can watch.
        if (workflowId === undefined) return next(input);
        const throttled = throttle((progress) => publisher.publish(workflowId, progress), PROGRESS_PUBLISH_EVERY_MS);
        try {
          return await reportOfExecution.run(throttled.report, () => next(input));
        } finally {
          throttled.flush();
          publisher.ended(workflowId);
        }
      },
    },
  });
}

function throttle(send: Report, everyMs: number): { report: Report; flush: () => void } {
  let sentAt = -Infinity;
  let pending: ToolProgress | undefined;
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (pending === undefined) return;
    const progress = pending;
    pending = undefined;
    sentAt = performance.now();
    send(progress);
  };
  const report: Report = (progress) => {
    pending = progress;
    const wait = sentAt + everyMs - performance.now();
    if (wait <= 0) flush();
    else timer ??= setTimeout(flush, wait);
  };
  return { report, flush };
}
