import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { ToolFailure } from '../contracts/errors';
import { INVALID_TOOL_OUTPUT, tagToolResult, UNEXPECTED_TOOL_ERROR, type ToolActivity, type ToolCallMeta } from '../contracts/tool-call';
import type { ToolSource } from '../contracts/tool-source';
import { progressReporterOf } from './progress';
import { confidenceOf, type ToolArgs, type ToolContext, type ToolFallback, type ToolHandler, type ToolSpec } from '../contracts/tool-spec';

/** A tool's declaration together with the Temporal activity that runs it. */
export interface ToolImplementation {
  readonly spec: ToolSpec;
  readonly activity: ToolActivity;
  /** A read tool's answer while Temporal is unreachable; see {@link ImplementToolOptions.fallback}. */
  readonly fallback?: ToolFallback;
}

export interface ImplementToolOptions<S extends ToolSpec> {
  /**
   * Answers a read tool while Temporal is unreachable, in the server process,
   * instead of BACKEND_UNAVAILABLE. Deterministic and free of side effects;
   * its envelope says `fallback: true` and carries the declaration's
   * `fallbackConfidence`. Default: none.
   */
  fallback?: ToolFallback<S>;
}

/**
 * Turns a handler into the activity the worker registers under the tool's
 * name. The handler sees typed arguments and a `ToolContext`; the activity
 * validates both directions and maps failures to what the workflow expects:
 * `ToolFailure` keeps its type and public message, anything else becomes a
 * retryable failure with a generic message (its detail goes to the log).
 */
export function implementTool<S extends ToolSpec>(spec: S, handler: ToolHandler<S>, options: ImplementToolOptions<S> = {}): ToolImplementation {
  if (options.fallback && spec.sideEffect !== 'read') throw new Error(`tool "${spec.name}" has side effects; only read tools may have a fallback`);
  const activity: ToolActivity = async (args: Record<string, unknown>, meta: ToolCallMeta) => {
    const activityContext = Context.current();
    const parsed = spec.input.safeParse(args);
    if (!parsed.success) {
      throw ApplicationFailure.create({ type: 'INVALID_ARGUMENTS', message: 'The arguments no longer match the tool', nonRetryable: true });
    }
    if (meta.settling && !spec.settles) {
      throw ApplicationFailure.create({ type: 'CANNOT_SETTLE', message: 'The tool cannot settle an earlier attempt', nonRetryable: true });
    }
    let returned: Awaited<ReturnType<ToolHandler<S>>>;
    try {
      returned = await handler(parsed.data as ToolArgs<S>, toolContextOf(activityContext, meta));
    } catch (error) {
      throw toActivityFailure(error, activityContext, spec.name);
    }
    const { output, confidence } = confidenceOf(returned);
    const checked = spec.output.safeParse(output);
    if (!checked.success) {
      activityContext.log.error('tool returned output that does not match its schema', { tool: spec.name, issues: checked.error.issues });
      throw ApplicationFailure.create({ type: INVALID_TOOL_OUTPUT, message: 'The tool returned an invalid result', nonRetryable: true });
    }
    return confidence === undefined ? checked.data : tagToolResult(checked.data, confidence);
  };
  Object.defineProperty(activity, 'name', { value: spec.name });
  return { spec, activity, ...(options.fallback ? { fallback: options.fallback as ToolFallback } : {}) };
}

/**
 * The activities object a worker registers: one activity per tool written in
 * code, named as the model sees it, and those of each tool source.
 */
export function activitiesOf(implementations: readonly ToolImplementation[], sources: readonly ToolSource[] = []): Record<string, ToolActivity> {
  const activities: Record<string, ToolActivity> = {};
  const add = (type: string, activity: ToolActivity, owner: string) => {
    if (activities[type]) throw new Error(`two activities named "${type}" (the second from ${owner})`);
    activities[type] = activity;
  };
  for (const { spec, activity } of implementations) add(spec.activity, activity, `tool "${spec.name}"`);
  for (const source of sources) for (const [type, activity] of Object.entries(source.activities)) add(type, activity, source.name);
  return activities;
}

function toolContextOf(activityContext: Context, meta: ToolCallMeta): ToolContext {
  return {
    ...meta,
    settling: meta.settling ?? false,
    attempt: meta.attempt ?? activityContext.info.attempt,
    signal: activityContext.cancellationSignal,
    progress: progressReporterOf(activityContext),
    sleep: (ms) => activityContext.sleep(ms),
  };
}

function toActivityFailure(error: unknown, activityContext: Context, tool: string): unknown {
  // Cancellation (and the abort of a timed-out attempt) must reach Temporal as itself.
  if (error instanceof CancelledFailure) return error;
  if (activityContext.cancellationSignal.aborted) return new CancelledFailure(`${tool} stopped: ${String(activityContext.cancellationSignal.reason)}`);
  if (error instanceof ToolFailure) {
    return ApplicationFailure.create({ type: error.type, message: error.message, nonRetryable: !error.retryable });
  }
  activityContext.log.error('tool failed unexpectedly', { tool, error: error instanceof Error ? error.stack : String(error) });
  return ApplicationFailure.create({ type: UNEXPECTED_TOOL_ERROR, message: 'The tool failed unexpectedly', nonRetryable: false });
}
