import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { errorEnvelope, okEnvelope } from '../contracts/envelope-builders';
import type { CallSummary } from '../contracts/calls';
import type { AcceptedEnvelope, ErrorEnvelope, ResultEnvelope } from '../contracts/envelope';
import { outcomeOf } from '../contracts/error-codes';
import { ToolFailure } from '../contracts/errors';
import type { ToolFallback, ToolSpec } from '../contracts/tool-spec';
import { checkArguments } from './arguments';
import type { Principal, TokenVerifier } from './auth';
import { CircuitBreaker } from './breaker';
import { fingerprintOf, idempotencyKeyOf, workflowIdOf, type KeySource } from './idempotency';
import { GatewayMetrics } from './metrics';
import { limitersOf } from './limits';
import { redactArguments } from './redact';
import type { FunctionTool, ToolRegistry } from './registry';
import { TenantPolicy } from './tenant-policy';
import { GatewayRejection } from './rejection';
import { CallResults, isShutdown, type CallRef } from './results';
import { CallPlacement, type Admitted, type LogContext, type PreparedCall } from './placement';
import type { TemporalCalls } from './temporal-calls';
import type { CallFeed } from './call-feed';
import { inSpan, recordSubmitOutcome, SPAN_ATTRIBUTES, type Span } from './tracing';
import { ToolBreakers, ToolRefusal, type ToolBreakerSettings } from './tool-breakers';
import { Admission, AdmissionShed, type AdmissionSettings, type Sample, type Ticket } from './admission';
import { isBackendFailure } from './temporal-calls';


export interface GatewayLimits {
  maxArgumentBytes: number;
  sessionMaxInFlight: number;
  tenantRatePerSec: number;
  tenantBurst: number;
}

export interface GatewayOptions {
  registry: ToolRegistry;
  calls: TemporalCalls;
  verifier: TokenVerifier;
  logger: Logger;
  limits: GatewayLimits;
  /** Default: a new registry of its own. */
  metrics?: GatewayMetrics;
  /** How long the breaker stays open before probing Temporal again. */
  breakerCooldownMs: number;
  /** Consecutive backend failures that open the breaker. Default 3. */
  breakerThreshold?: number;
  /** Fallbacks by tool name; only read tools may have one. */
  fallbacks?: Readonly<Record<string, ToolFallback>>;
  /** Which tenant may use which tool, and how tightly. Default: every tenant, every tool, as declared. */
  tenantPolicy?: TenantPolicy;
  /** Told of every call this gateway starts, for live readers. Default: none. */
  feed?: CallFeed;
  /**
   * Redis shared by every server: tenant rates and session in-flight caps hold
   * across the cluster (each decision falls back to this process while Redis
   * does not answer). Owned by the caller. Default: none, limits per process.
   */
  limitsRedis?: Redis;
  /** Per-tool circuit breakers and in-flight bounds (see `ToolBreakers`). Default: as `TOOL_BREAKER_DEFAULTS`. */
  toolBreakers?: ToolBreakerSettings;
  /** Admission of new calls (adaptive limit, queue, degradation); with `limitsRedis`, informed by the other servers. Default: adaptive, as configured by default. */
  admission?: AdmissionSettings;
}

/** Who is calling: a bearer token still to verify, or a principal a session already verified. */
export type Caller = { token: string | undefined } | { principal: Principal };

export interface ToolCallRequest {
  tool: unknown;
  /** An object, or the JSON string a model emits. */
  arguments: unknown;
  caller: Caller;
  /** The conversation the call belongs to; default `http-<user>`. */
  sessionId?: string;
  key: KeySource;
}

export type { CallRef } from './results';

export type SubmitOutcome =
  | { kind: 'completed'; envelope: ResultEnvelope; call: CallRef }
  | {
      kind: 'accepted';
      ack: AcceptedEnvelope;
      call: CallRef;
      completion: Promise<ResultEnvelope>;
      /** The validated arguments with sensitive fields masked: what a user approving the call is shown. */
      redactedArguments: Record<string, unknown>;
      /** The call waits for the user's approval before it runs (its declaration or its tenant's policy says so). */
      awaitingApproval: boolean;
    }
  | { kind: 'rejected'; envelope: ErrorEnvelope; httpStatus: number; retryAfterMs?: number }
  /**
   * Temporal did not answer the start, and could not say afterwards whether the
   * call exists: it may be running. Not a failure: submit again with the same
   * key to attach to it (or to start it, if it never began).
   */
  | { kind: 'unknown'; envelope: ErrorEnvelope; call: CallRef; httpStatus: number; retryAfterMs: number };

/** A conversation id from a caller: bounded, and safe in logs, keys and search attributes. */
const SESSION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The tool gateway: every call passes authentication → tool lookup → size →
 * strict validation → scopes → idempotency (a duplicate attaches here, free)
 * → policy → start, and comes back as exactly one envelope. Nothing a caller
 * sends is looked at before its token is verified, and nothing runs unless
 * every step passes.
 */
export class Gateway {
  readonly metrics: GatewayMetrics;
  readonly breaker: CircuitBreaker;
  /** One breaker per tool, fed by its calls' final envelopes: a failing downstream is answered at once. */
  readonly toolBreakers: ToolBreakers;
  /** Admission of new calls; its state is in `/readyz` and the metrics. Closed by its owner with `close()`. */
  readonly admission: Admission;
  private readonly results: CallResults;
  private readonly placement: CallPlacement;
  private readonly tenants: TenantPolicy;

  constructor(private readonly options: GatewayOptions) {
    this.tenants = options.tenantPolicy ?? new TenantPolicy();
    this.metrics = options.metrics ?? new GatewayMetrics();
    this.results = new CallResults(options.calls, options.logger);
    this.breaker = new CircuitBreaker({
      failureThreshold: options.breakerThreshold ?? 3,
      cooldownMs: options.breakerCooldownMs,
      probe: () => options.calls.ping(),
      onStateChange: (state) => {
        this.metrics.setBreaker(state);
        options.logger.warn({ breaker: state }, state === 'closed' ? 'Temporal answers again; calls flow' : `Temporal circuit breaker ${state}`);
      },
    });
    this.metrics.setBreaker('closed');
    const limiters = limitersOf(options.limits, options.limitsRedis ? { redis: options.limitsRedis, metrics: this.metrics, logger: options.logger } : undefined);
    this.admission = new Admission({ ...options.admission, registry: this.metrics.registry, logger: options.logger, ...(options.limitsRedis ? { redis: options.limitsRedis } : {}) });
    this.toolBreakers = new ToolBreakers({ ...options.toolBreakers, registry: this.metrics.registry, logger: options.logger, tools: options.registry.specs().map((spec) => spec.name) });
    this.placement = new CallPlacement({
      calls: options.calls,
      breaker: this.breaker,
      toolBreakers: this.toolBreakers,
      rateLimiter: limiters.rate,
      inFlight: limiters.inFlight,
      logger: options.logger,
    });
    for (const name of Object.keys(options.fallbacks ?? {})) {
      const spec = options.registry.get(name);
      if (!spec) throw new Error(`fallback for unknown tool "${name}"`);
      if (spec.sideEffect !== 'read') throw new Error(`tool "${name}" has side effects; only read tools may have a fallback`);
    }
  }

  get registry(): ToolRegistry {
    return this.options.registry;
  }

  get calls(): TemporalCalls {
    return this.options.calls;
  }

  /** The tools this caller may call: their tenant's policy allows them and their scopes cover them. */
  catalogFor(principal: Principal): FunctionTool[] {
    return this.options.registry.functionTools((spec) => this.visibleTo(principal, spec));
  }

  private visibleTo(principal: Principal, spec: ToolSpec): boolean {
    return this.tenants.allows(principal.tenantId, spec.name) && spec.scopes.every((scope) => principal.scopes.has(scope));
  }

  async authenticate(caller: Caller): Promise<Principal> {
    return 'principal' in caller ? caller.principal : this.options.verifier.verify(caller.token);
  }

  /** The final envelope of a call; see `CallResults`. */
  completionOf(call: CallRef): Promise<ResultEnvelope> {
    return this.results.completionOf(call);
  }

  /** One span per call (`holdline.gateway.submit`): the workflow start and the workflow's own spans hang below it. */
  async submit(request: ToolCallRequest): Promise<SubmitOutcome> {
    return inSpan('holdline.gateway.submit', {}, async (span) => {
      const outcome = await this.submitTraced(request, span);
      recordSubmitOutcome(span, outcome);
      return outcome;
    });
  }

  private async submitTraced(request: ToolCallRequest, span: Span): Promise<SubmitOutcome> {
    const startedAt = performance.now();
    const traceId = newTraceId();
    span.setAttribute(SPAN_ATTRIBUTES.traceId, traceId);
    // Until the caller is authenticated and the tool is known, nothing they sent is logged or counted by name.
    const context: LogContext = { trace_id: traceId, tool: UNKNOWN_TOOL_LABEL };
    let admitted: Admitted | undefined;
    try {
      const principal = await this.authenticate(request.caller);
      Object.assign(context, { tenant: principal.tenantId, user: principal.userId });
      span.setAttribute(SPAN_ATTRIBUTES.tenant, principal.tenantId);
      const spec = this.toolOf(request.tool, principal, context);
      context.tool = spec.name;
      span.setAttribute(SPAN_ATTRIBUTES.tool, spec.name);
      const args = checkArguments(spec, request.arguments, this.options.limits.maxArgumentBytes);
      const redacted = redactArguments(spec, args);
      context.arguments = redacted;
      const missing = spec.scopes.filter((scope) => !principal.scopes.has(scope));
      if (missing.length) throw new GatewayRejection('FORBIDDEN', `${spec.name} needs the scope ${missing.join(' and ')}`);
      admitted = { spec, args, principal };
      const sessionId = sessionIdOf(request.sessionId, principal);
      context.session = sessionId;
      const callId = idempotencyKeyOf(request.key);
      const call: PreparedCall = {
        spec,
        args,
        redacted,
        principal,
        sessionId,
        callId,
        workflowId: workflowIdOf(principal, callId),
        fingerprint: fingerprintOf(spec, args),
        plan: this.tenants.planFor(principal.tenantId, spec),
        traceId,
        startedAt,
        context,
      };
      Object.assign(context, { call_id: call.callId, workflow_id: call.workflowId });
      return await this.place(call);
    } catch (error) {
      return this.rejection(error, context, startedAt, admitted);
    }
  }

  /** The tool a caller names; one their tenant may not use is, to them, a tool that does not exist. */
  private toolOf(name: unknown, principal: Principal, context: LogContext): ToolSpec {
    const allowed = typeof name === 'string' && this.tenants.allows(principal.tenantId, name);
    const spec = allowed ? this.options.registry.get(name) : undefined;
    if (spec) return spec;
    const shown = typeof name === 'string' ? name.slice(0, 64) : '';
    context.requested_tool = shown;
    const unavailable = allowed ? this.options.registry.unavailable(name) : undefined;
    if (unavailable) throw new GatewayRejection('UNKNOWN_TOOL', `The tool "${shown}" is unavailable: ${unavailable}`);
    const known = this.options.registry.specs().filter((candidate) => this.tenants.allows(principal.tenantId, candidate.name));
    throw new GatewayRejection('UNKNOWN_TOOL', `No tool named "${shown}"; known tools: ${known.map((candidate) => candidate.name).join(', ') || 'none'}`);
  }

  /**
   * Starts the call, or attaches to the one its key already names. A duplicate
   * (running or finished) attaches without taking a rate-limit token or an
   * in-flight slot, and duplicates arriving together share one start.
   */
  private async place(call: PreparedCall): Promise<SubmitOutcome> {
    // A duplicate of a call this server knows attaches without admission; a new call holds a permit while Holdline works on it.
    const ticket = this.placement.knows(call.workflowId) ? undefined : await this.admit(call);
    const admittedAt = performance.now();
    // The limit learns from each call's latency: its result, or its ack and the work after it (see `Ticket.holdUntil`).
    let sample: Sample | undefined;
    let held = false;
    try {
      const { placed, leader } = await this.placement.place(call);
      if (placed.kind === 'unknown') {
        sample = { kind: 'dropped' };
        return this.unknownOutcome(call);
      }
      const started = placed.kind === 'started' && leader;
      const answer = started
        ? await this.answerStarted(call, placed.release)
        : await this.answerAttached(call, placed.kind === 'started' ? { fingerprint: placed.fingerprint, trace_id: placed.trace_id, closed: false } : placed);
      if (ticket && started && answer.kind === 'accepted' && !answer.awaitingApproval) {
        ticket.holdUntil(answer.completion.then((envelope) => envelope.status === 'ok'));
        held = true;
      } else sample = { kind: 'answered', latencyMs: performance.now() - admittedAt };
      return answer;
    } catch (error) {
      if (sample === undefined && isBackendFailure(error)) sample = { kind: 'dropped' };
      throw error;
    } finally {
      if (!held) ticket?.release(sample);
    }
  }

  /** A permit for a new call, or RATE_LIMITED (answered from the tool's fallback when it has one). */
  private async admit(call: PreparedCall): Promise<Ticket> {
    try {
      return await this.admission.admit(call.spec.name, call.spec.priority);
    } catch (error) {
      if (!(error instanceof AdmissionShed)) throw error;
      throw new GatewayRejection('RATE_LIMITED', `Holdline is at capacity and did not run ${call.spec.name}; try again in a moment`, {
        retryAfterMs: SHED_RETRY_AFTER_MS,
        details: { shed: error.reason },
        cause: error,
      });
    }
  }

  private async answerStarted(call: PreparedCall, release: () => void): Promise<SubmitOutcome> {
    const ref = this.refOf(call, call.traceId);
    this.metrics.inFlight.inc();
    const completion = this.results.completionOf(ref);
    this.options.feed?.started(ref, startedSummaryOf(call), completion);
    const settle = () => {
      release();
      this.metrics.inFlight.dec();
    };
    completion.then(
      (envelope) => {
        settle();
        this.toolBreakers.settle(call.workflowId, envelope);
        this.recordOutcome(envelope, call.context, call.startedAt);
      },
      (error: unknown) => {
        settle();
        this.toolBreakers.abandon(call.workflowId);
        if (!isShutdown(error)) this.options.logger.error({ ...call.context, err: error }, 'waiting for a result failed');
      },
    );
    return this.answer(call, ref, completion, false);
  }

  private async answerAttached(call: PreparedCall, existing: { fingerprint: string; trace_id: string; closed: boolean }): Promise<SubmitOutcome> {
    if (existing.fingerprint !== call.fingerprint) {
      throw new GatewayRejection('IDEMPOTENCY_CONFLICT', `The key ${call.callId} was already used for a call with other arguments; use a new key`);
    }
    const ref = this.refOf(call, existing.trace_id);
    this.options.logger.debug({ ...call.context, trace_id: ref.trace_id }, 'duplicate call attached to its workflow');
    return this.answer(call, ref, this.results.completionOf(ref), existing.closed);
  }

  /** The result if it comes within the tool's ack window (at once for a finished call), else a truthful ack. */
  private async answer(call: PreparedCall, ref: CallRef, completion: Promise<ResultEnvelope>, closed: boolean): Promise<SubmitOutcome> {
    const { spec, plan } = call;
    completion.then(
      () => this.placement.closed(ref.workflow_id),
      () => undefined,
    );
    const waitMs = plan.needsApproval ? 0 : this.admission.ackWindowMs(spec.budget.ackAfterMs);
    const envelope = closed ? await completion : await settleWithin(completion, waitMs);
    const ackSeconds = (performance.now() - call.startedAt) / 1000;
    if (envelope) {
      this.metrics.ackLatency.observe({ tool: spec.name, kind: 'result' }, ackSeconds);
      return { kind: 'completed', envelope, call: ref };
    }
    this.metrics.ackLatency.observe({ tool: spec.name, kind: 'ack' }, ackSeconds);
    const message = plan.needsApproval ? `Waiting for the user's approval before running ${spec.name}` : `Working on ${spec.name}; the result will follow`;
    return { kind: 'accepted', ack: { status: 'accepted', message, ...ref }, call: ref, completion, redactedArguments: call.redacted, awaitingApproval: plan.needsApproval };
  }

  private unknownOutcome(call: PreparedCall): SubmitOutcome {
    const ref = this.refOf(call, call.traceId);
    const envelope = errorEnvelope(
      'BACKEND_UNAVAILABLE',
      `Temporal did not confirm the call; it may have started. Retry with the same key (${call.callId}) to attach to it; it never runs twice`,
      call.traceId,
      { tool: call.spec.name, call_id: call.callId, details: { outcome: 'unknown' } },
    );
    this.recordOutcome(envelope, call.context, call.startedAt, true);
    return { kind: 'unknown', envelope, call: ref, httpStatus: 503, retryAfterMs: 1_000 };
  }

  private refOf(call: PreparedCall, traceId: string): CallRef {
    return { call_id: call.callId, workflow_id: call.workflowId, trace_id: traceId, tool: call.spec.name };
  }

  private async rejection(error: unknown, context: LogContext, startedAt: number, admitted: Admitted | undefined): Promise<SubmitOutcome> {
    if (admitted && error instanceof ToolRefusal) return this.refuseTool(error, admitted, context, startedAt);
    if (admitted && error instanceof GatewayRejection && (error.code === 'BACKEND_UNAVAILABLE' || error.cause instanceof AdmissionShed)) {
      const answered = await this.tryFallback(admitted, context, startedAt);
      if (answered) return answered;
    }
    const rejection =
      error instanceof GatewayRejection
        ? error
        : isShutdown(error)
          ? new GatewayRejection('BACKEND_UNAVAILABLE', 'Holdline is restarting; ask for the result again with the same key', { cause: error })
          : new GatewayRejection('INTERNAL', 'Holdline failed to handle the call', { cause: error });
    if (!(error instanceof GatewayRejection) && !isShutdown(error)) this.options.logger.error({ ...context, err: error }, 'unexpected error in the gateway');
    // A stranger's request names nothing back: no tool, no call id, no schema details.
    const known = context.tenant !== undefined;
    const envelope = {
      ...errorEnvelope(rejection.code, rejection.message, context.trace_id, {
        ...(known && context.tool !== UNKNOWN_TOOL_LABEL ? { tool: context.tool } : {}),
        ...(known && context.call_id ? { call_id: context.call_id } : {}),
        ...(known && rejection.details !== undefined ? { details: rejection.details } : {}),
      }),
      ...(rejection.code === 'RATE_LIMITED' && rejection.retryAfterMs !== undefined ? { retry_after_ms: rejection.retryAfterMs } : {}),
    };
    this.recordOutcome(envelope, context, startedAt, true);
    return { kind: 'rejected', envelope, httpStatus: rejection.httpStatus, ...(rejection.retryAfterMs ? { retryAfterMs: rejection.retryAfterMs } : {}) };
  }

  /** A call its tool's breaker refused: the tool's fallback answers it, else a fast retryable TOOL_FAILED. Nothing started. */
  private async refuseTool(refusal: ToolRefusal, admitted: Admitted, context: LogContext, startedAt: number): Promise<SubmitOutcome> {
    const answered = await this.tryFallback(admitted, context, startedAt);
    this.toolBreakers.refused(refusal.tool, answered ? 'fallback' : 'failed');
    if (answered) return answered;
    const envelope = refusal.envelope(context.trace_id, context.call_id);
    this.recordOutcome(envelope, context, startedAt, true);
    return { kind: 'rejected', envelope, httpStatus: refusal.httpStatus, retryAfterMs: refusal.retryAfterMs };
  }

  /** Answers a read tool from its fallback while Temporal is unreachable. */
  private async tryFallback({ spec, args, principal }: Admitted, context: LogContext, startedAt: number): Promise<SubmitOutcome | undefined> {
    const fallback = this.options.fallbacks?.[spec.name];
    if (!fallback) return undefined;
    const call: CallRef = { call_id: context.call_id ?? '', workflow_id: '', trace_id: context.trace_id, tool: spec.name };
    let envelope: ResultEnvelope;
    try {
      const data = spec.output.parse(await fallback(args, principal));
      const confidence = spec.fallbackConfidence;
      envelope = okEnvelope(data, context.trace_id, { tool: spec.name, fallback: true, ...(confidence !== undefined ? { confidence } : {}) });
    } catch (error) {
      if (!(error instanceof ToolFailure)) throw error;
      envelope = errorEnvelope('TOOL_FAILED', error.message, context.trace_id, { tool: spec.name, details: { type: error.type, fallback: true } });
    }
    this.recordOutcome(envelope, { ...context, fallback: true }, startedAt);
    return { kind: 'completed', envelope, call };
  }

  /** One log line and one counter per call outcome; labelled only with registry tool names. */
  private recordOutcome(envelope: ResultEnvelope, context: LogContext, startedAt: number, rejected = false): void {
    const outcome = rejected ? 'rejected' : outcomeOf(envelope);
    const errorCode = envelope.status === 'error' ? envelope.error_code : '';
    const durationMs = Math.round(performance.now() - startedAt);
    this.metrics.calls.inc({ tool: context.tool, outcome, error_code: errorCode });
    if (!rejected) this.metrics.completionLatency.observe({ tool: context.tool, outcome }, durationMs / 1000);
    const level = outcome === 'ok' ? 'info' : rejected && envelope.status === 'error' && !envelope.retryable ? 'info' : 'warn';
    this.options.logger[level](
      { ...context, status: outcome, error_code: errorCode || undefined, duration_ms: durationMs, attempts: envelope.attempts },
      'tool call finished',
    );
  }
}

/** A call as live readers first see it, the moment its start is durable. */
function startedSummaryOf(call: PreparedCall): CallSummary {
  return {
    call_id: call.callId,
    workflow_id: call.workflowId,
    tool: call.spec.name,
    tenant_id: call.principal.tenantId,
    user_id: call.principal.userId,
    session_id: call.sessionId,
    status: call.plan.needsApproval ? 'awaiting_approval' : 'running',
    started_at: new Date(Date.now() - (performance.now() - call.startedAt)).toISOString(),
    cancellable: call.plan.needsApproval || call.plan.cancellable,
    arguments: call.redacted,
  };
}

/** When a shed caller may try again: long enough for the spike to pass, short enough for a voice turn. */
const SHED_RETRY_AFTER_MS = 1_000;

/** The metric and log label of a call whose tool is not (yet) known to be a registry tool. */
const UNKNOWN_TOOL_LABEL = 'unknown';

function sessionIdOf(sessionId: string | undefined, principal: Principal): string {
  if (sessionId === undefined) return `http-${principal.userId}`.slice(0, 128);
  if (!SESSION_ID.test(sessionId)) {
    throw new GatewayRejection('INVALID_ARGUMENTS', 'Holdline-Session must be 1–128 characters of letters, digits, ".", "_", ":" or "-"');
  }
  return sessionId;
}


export function newTraceId(): string {
  return `tool-req-${randomBytes(8).toString('hex')}`;
}

/** The promise's value if it settles within `ms`, else undefined. */
export async function settleWithin<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  if (ms <= 0) return undefined;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(resolve, ms, undefined)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
