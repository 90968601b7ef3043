import { context, propagation, SpanKind, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';
import type { SubmitOutcome } from './gateway';

/**
 * Span attributes that tie an OpenTelemetry trace to Holdline's own call
 * identity (the `trace_id` of every envelope and log line). The worker sets the
 * same names on workflow and activity spans.
 */
export const SPAN_ATTRIBUTES = {
  traceId: 'holdline.trace_id',
  tool: 'holdline.tool',
  tenant: 'holdline.tenant',
  callId: 'holdline.call_id',
  workflowId: 'holdline.workflow_id',
  session: 'holdline.session',
  outcome: 'holdline.outcome',
  errorCode: 'holdline.error_code',
} as const;

const TRACER_NAME = 'holdline';

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  /** Incoming request headers carrying a caller's `traceparent`: the span continues the caller's trace. */
  carrier?: Readonly<Record<string, unknown>>;
}

/**
 * Runs `fn` inside a span that is the active context for everything it calls
 * (the Temporal client's interceptor hangs the workflow start below it). With
 * no tracer provider registered, the API's no-op tracer makes this nearly free.
 * An exception ends the span as an error and is rethrown.
 */
export async function inSpan<T>(name: string, options: SpanOptions, fn: (span: Span) => Promise<T>): Promise<T> {
  // Looked up per span: a provider registered (or replaced) after start-up is picked up.
  const tracer = trace.getTracer(TRACER_NAME);
  const parent = options.carrier ? propagation.extract(context.active(), options.carrier, headerGetter) : context.active();
  return tracer.startActiveSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, ...(options.attributes ? { attributes: options.attributes } : {}) }, parent, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Records where a call ended up on its span: its Holdline identity, and an error status when it was refused or failed. */
export function recordSubmitOutcome(span: Span, outcome: SubmitOutcome): void {
  if (!span.isRecording()) return;
  const call = 'call' in outcome ? outcome.call : undefined;
  const envelope = outcome.kind === 'accepted' ? undefined : outcome.envelope;
  span.setAttribute(SPAN_ATTRIBUTES.traceId, call?.trace_id ?? envelope!.trace_id);
  if (call?.call_id) span.setAttribute(SPAN_ATTRIBUTES.callId, call.call_id);
  if (call?.workflow_id) span.setAttribute(SPAN_ATTRIBUTES.workflowId, call.workflow_id);
  span.setAttribute(SPAN_ATTRIBUTES.outcome, outcome.kind === 'completed' ? outcome.envelope.status : outcome.kind);
  if (envelope?.status === 'error') {
    span.setAttribute(SPAN_ATTRIBUTES.errorCode, envelope.error_code);
    span.setStatus({ code: SpanStatusCode.ERROR, message: envelope.error_code });
  }
}

const headerGetter = {
  keys: (carrier: Readonly<Record<string, unknown>>) => Object.keys(carrier),
  get: (carrier: Readonly<Record<string, unknown>>, key: string) => {
    const value = carrier[key];
    return typeof value === 'string' || Array.isArray(value) ? (value as string | string[]) : undefined;
  },
};

export { SpanKind, type Span } from '@opentelemetry/api';
