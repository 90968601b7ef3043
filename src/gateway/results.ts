import { WorkflowFailedError } from '@temporalio/client';
import { TimeoutFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import { errorEnvelope } from '../contracts/envelope-builders';
import { ResultEnvelopeSchema, type ResultEnvelope } from '../contracts/envelope';
import type { CallRef } from '../contracts/tool-call';
import { CallsClosedError, type TemporalCalls } from './temporal-calls';

export type { CallRef } from '../contracts/tool-call';

/**
 * The final envelopes of calls: each awaited once per process however many
 * readers ask (the HTTP API, event streams, realtime sessions), and checked
 * against the envelope schema on the way out.
 *
 * A completion resolves only with the call's real outcome. It never turns a
 * wait that could not finish into a failure: while Temporal is unreachable it
 * keeps waiting, and when this process stops it rejects with
 * `CallsClosedError`, which readers take as "stop, say nothing".
 */
export class CallResults {
  private readonly pending = new Map<string, Promise<ResultEnvelope>>();

  constructor(
    private readonly calls: TemporalCalls,
    private readonly logger: Logger,
  ) {}

  completionOf(call: CallRef): Promise<ResultEnvelope> {
    let completion = this.pending.get(call.workflow_id);
    if (!completion) {
      completion = this.awaitResult(call);
      this.pending.set(call.workflow_id, completion);
      const forget = () => this.pending.delete(call.workflow_id);
      completion.then(forget, forget);
    }
    return completion;
  }

  /** Validates an envelope on its way out; one that breaks the contract becomes INTERNAL, and is logged. */
  private checkedEnvelope(envelope: unknown, call: CallRef): ResultEnvelope {
    const parsed = ResultEnvelopeSchema.safeParse(envelope);
    if (parsed.success) return parsed.data;
    this.logger.error({ ...call, issues: parsed.error.issues }, 'envelope failed its schema');
    return errorEnvelope('INTERNAL', 'The tool call produced an invalid result', call.trace_id, idsOf(call));
  }

  private async awaitResult(call: CallRef): Promise<ResultEnvelope> {
    let envelope: unknown;
    try {
      envelope = await this.calls.result(call.workflow_id);
    } catch (error) {
      if (error instanceof CallsClosedError) throw error;
      if (error instanceof WorkflowFailedError && error.cause instanceof TimeoutFailure) {
        this.logger.warn({ ...call }, 'tool call workflow reached its execution timeout');
        return errorEnvelope('TIMEOUT', `${call.tool} did not finish in time and was stopped`, call.trace_id, idsOf(call));
      }
      this.logger.error({ ...call, err: error }, 'tool call workflow did not complete with an envelope');
      return errorEnvelope('INTERNAL', 'The tool call was stopped by an operator or failed inside Holdline', call.trace_id, idsOf(call));
    }
    return this.checkedEnvelope(envelope, call);
  }
}

/** Readers of a completion ignore this one rejection: the process is stopping, and the call goes on in Temporal. */
export function isShutdown(error: unknown): boolean {
  return error instanceof CallsClosedError;
}

function idsOf(call: CallRef) {
  return { tool: call.tool, call_id: call.call_id, workflow_id: call.workflow_id };
}
