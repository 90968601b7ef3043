import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { errorEnvelope, okEnvelope } from '../contracts/envelope-builders';
import { ResultEnvelopeSchema, type AcceptedEnvelope, type ErrorEnvelope, type ResultEnvelope } from '../contracts/envelope';
import { outcomeOf } from '../contracts/error-codes';
import { ToolFailure } from '../contracts/errors';
import { executionPlanOf, type ToolSpec } from '../contracts/tool-spec';
import type { ToolCallInput } from '../contracts/tool-call';
import { checkArguments } from './arguments';
import type { Principal, TokenVerifier } from './auth';
import { CircuitBreaker } from './breaker';
import { fingerprintOf, idempotencyKeyOf, workflowIdOf, type KeySource } from './idempotency';
import { GatewayMetrics } from './metrics';
import { SessionInFlightLimiter, TenantRateLimiter } from './policy';
import { redactArguments } from './redact';
import type { ToolRegistry } from './registry';
import { GatewayRejection } from './rejection';
import { CallsClosedError, isBackendFailure, type CallMemo, type TemporalCalls } from './temporal-calls';

/** A read tool's answer when Temporal is unreachable; deterministic, no side effects. */
export type ToolFallback = (args: Record<string, unknown>, principal: Principal) => Promise<unknown>;

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

export interface CallRef {
  call_id: string;
  workflow_id: string;
  trace_id: string;
  tool: string;
}

export type SubmitOutcome =
  | { kind: 'completed'; envelope: ResultEnvelope; call: CallRef }
  | {
      kind: 'accepted';
      ack: AcceptedEnvelope;
      call: CallRef;
      completion: Promise<ResultEnvelope>;
      /** The validated arguments with sensitive fields masked: what a user approving the call is shown. */
      redactedArguments: Record<string, unknown>;
    }
  | { kind: 'rejected'; envelope: ErrorEnvelope; httpStatus: number; retryAfterMs?: number };

/**
 * The tool gateway: every call passes parse → tool lookup → size → strict
 * validation → authentication → scopes → policy → idempotency → start, and
 * comes back as exactly one envelope. Nothing runs unless every step passes.
 */
export class Gateway {
  readonly metrics: GatewayMetrics;
  readonly breaker: CircuitBreaker;
  private readonly rateLimiter: TenantRateLimiter;
  private readonly inFlight: SessionInFlightLimiter;
  /** Completions of calls this process started or attached to, so each result is awaited once. */
  private readonly completions = new Map<string, Promise<ResultEnvelope>>();

  constructor(private readonly options: GatewayOptions) {
    this.metrics = options.metrics ?? new GatewayMetrics();
    this.rateLimiter = new TenantRateLimiter(options.limits.tenantRatePerSec, options.limits.tenantBurst);
    this.inFlight = new SessionInFlightLimiter(options.limits.sessionMaxInFlight);
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

  async authenticate(caller: Caller): Promise<Principal> {
    return 'principal' in caller ? caller.principal : this.options.verifier.verify(caller.token);
  }

  async submit(request: ToolCallRequest): Promise<SubmitOutcome> {
    const startedAt = performance.now();
    const traceId = newTraceId();
    const toolName = typeof request.tool === 'string' ? request.tool : '';
    const context: LogContext = { trace_id: traceId, tool: toolName, session: request.sessionId };
    let admitted: Admitted | undefined;
    try {
      const spec = this.options.registry.get(toolName);
      if (!spec) {
        throw new GatewayRejection('UNKNOWN_TOOL', `No tool named "${toolName.slice(0, 64)}"; known tools: ${this.options.registry.names().join(', ')}`);
      }
      const args = checkArguments(spec, request.arguments, this.options.limits.maxArgumentBytes);
      const principal = await this.authenticate(request.caller);
      Object.assign(context, { tenant: principal.tenantId, user: principal.userId, arguments: redactArguments(spec, args) });
      const missing = spec.scopes.filter((scope) => !principal.scopes.has(scope));
      if (missing.length) throw new GatewayRejection('FORBIDDEN', `${spec.name} needs the scope ${missing.join(' and ')}`);
      admitted = { spec, args, principal };
      const sessionId = request.sessionId ?? `http-${principal.userId}`;
      context.session = sessionId;
      this.rateLimiter.take(principal.tenantId);
      const release = this.inFlight.acquire(`${principal.tenantId}/${sessionId}`);
      try {
        return await this.startOrAttach(spec, args, principal, sessionId, request.key, traceId, startedAt, context, release);
      } catch (error) {
        release();
        throw error;
      }
    } catch (error) {
      return this.rejection(error, context, startedAt, admitted);
    }
  }

  private async startOrAttach(
    spec: ToolSpec,
    args: Record<string, unknown>,
    principal: Principal,
    sessionId: string,
    key: KeySource,
    traceId: string,
    startedAt: number,
    context: LogContext,
    release: () => void,
  ): Promise<SubmitOutcome> {
    const callId = idempotencyKeyOf(key);
    const workflowId = workflowIdOf(principal, callId);
    const fingerprint = fingerprintOf(spec, args);
    Object.assign(context, { call_id: callId, workflow_id: workflowId });
    const input: ToolCallInput = {
      tool: spec.name,
      toolVersion: spec.version,
      arguments: args,
      callId,
      idempotencyKey: workflowId,
      traceId,
      tenantId: principal.tenantId,
      userId: principal.userId,
      sessionId,
      plan: executionPlanOf(spec),
    };
    const redacted = context.arguments ?? redactArguments(spec, args);
    const memo: CallMemo = { fingerprint, trace_id: traceId, user_id: principal.userId, tool_version: spec.version, arguments: redacted };

    await this.breaker.admit();
    let started;
    try {
      started = await this.options.calls.start(input, workflowId, memo);
      this.breaker.recordSuccess();
    } catch (error) {
      if (isBackendFailure(error)) this.breaker.recordFailure();
      throw error;
    }

    let call: CallRef = { call_id: callId, workflow_id: workflowId, trace_id: traceId, tool: spec.name };
    let completion: Promise<ResultEnvelope>;
    let closed = false;
    if (started.kind === 'existing') {
      release();
      if (started.memo.fingerprint !== fingerprint) {
        throw new GatewayRejection('IDEMPOTENCY_CONFLICT', `The key ${callId} was already used for a call with other arguments; use a new key`);
      }
      call = { ...call, trace_id: started.memo.trace_id };
      closed = started.closed;
      completion = this.completionOf(call);
      this.options.logger.debug({ ...context, trace_id: call.trace_id }, 'duplicate call attached to its workflow');
    } else {
      this.metrics.inFlight.inc();
      completion = this.completionOf(call);
      void completion.then((envelope) => {
        release();
        this.metrics.inFlight.dec();
        if (!this.options.calls.closed) this.recordOutcome(envelope, context, startedAt);
      });
    }

    const waitMs = spec.needsApproval ? 0 : spec.budget.ackAfterMs;
    const envelope = closed ? await completion : await settleWithin(completion, waitMs);
    const ackSeconds = (performance.now() - startedAt) / 1000;
    if (envelope) {
      this.metrics.ackLatency.observe({ tool: spec.name, kind: 'result' }, ackSeconds);
      return { kind: 'completed', envelope, call };
    }
    this.metrics.ackLatency.observe({ tool: spec.name, kind: 'ack' }, ackSeconds);
    const message = spec.needsApproval
      ? `Waiting for the user's approval before running ${spec.name}`
      : `Working on ${spec.name}; the result will follow`;
    return { kind: 'accepted', ack: { status: 'accepted', message, ...call }, call, completion, redactedArguments: redacted };
  }

  /** The final envelope of a call, awaited once per process however many readers ask. */
  completionOf(call: CallRef): Promise<ResultEnvelope> {
    let completion = this.completions.get(call.workflow_id);
    if (!completion) {
      completion = this.awaitResult(call);
      this.completions.set(call.workflow_id, completion);
      void completion.then(() => this.completions.delete(call.workflow_id));
    }
    return completion;
  }

  private async awaitResult(call: CallRef): Promise<ResultEnvelope> {
    let envelope: unknown;
    try {
      envelope = await this.options.calls.result(call.workflow_id);
    } catch (error) {
      if (error instanceof CallsClosedError || isBackendFailure(error)) {
        return errorEnvelope('BACKEND_UNAVAILABLE', 'The result could not be fetched; ask for it again shortly', call.trace_id, withIds(call));
      }
      this.options.logger.error({ ...call, err: error }, 'tool call workflow did not complete with an envelope');
      return errorEnvelope('INTERNAL', 'The tool call was stopped by an operator or failed inside Holdline', call.trace_id, withIds(call));
    }
    return this.checkedEnvelope(envelope, call);
  }

  /** Validates an envelope on its way out; one that breaks the contract becomes INTERNAL, and is logged. */
  checkedEnvelope(envelope: unknown, call: CallRef): ResultEnvelope {
    const parsed = ResultEnvelopeSchema.safeParse(envelope);
    if (parsed.success) return parsed.data;
    this.options.logger.error({ ...call, issues: parsed.error.issues }, 'envelope failed its schema');
    return errorEnvelope('INTERNAL', 'The tool call produced an invalid result', call.trace_id, withIds(call));
  }

  private async rejection(error: unknown, context: LogContext, startedAt: number, admitted: Admitted | undefined): Promise<SubmitOutcome> {
    if (admitted && error instanceof GatewayRejection && error.code === 'BACKEND_UNAVAILABLE') {
      const answered = await this.tryFallback(admitted, context, startedAt);
      if (answered) return answered;
    }
    const rejection =
      error instanceof GatewayRejection ? error : new GatewayRejection('INTERNAL', 'Holdline failed to handle the call', { cause: error });
    if (!(error instanceof GatewayRejection)) this.options.logger.error({ ...context, err: error }, 'unexpected error in the gateway');
    const ids = context.call_id ? { call_id: context.call_id } : {};
    const envelope = errorEnvelope(rejection.code, rejection.message, context.trace_id, {
      ...(context.tool ? { tool: context.tool } : {}),
      ...ids,
      ...(rejection.details !== undefined ? { details: rejection.details } : {}),
    });
    this.recordOutcome(envelope, context, startedAt, true);
    return { kind: 'rejected', envelope, httpStatus: rejection.httpStatus, ...(rejection.retryAfterMs ? { retryAfterMs: rejection.retryAfterMs } : {}) };
  }

  /** Answers a read tool from its fallback while Temporal is unreachable. */
  private async tryFallback({ spec, args, principal }: Admitted, context: LogContext, startedAt: number): Promise<SubmitOutcome | undefined> {
    const fallback = this.options.fallbacks?.[spec.name];
    if (!fallback) return undefined;
    const call: CallRef = { call_id: context.call_id ?? '', workflow_id: '', trace_id: context.trace_id, tool: spec.name };
    let envelope: ResultEnvelope;
    try {
      const data = spec.output.parse(await fallback(args, principal));
      envelope = okEnvelope(data, context.trace_id, { tool: spec.name, fallback: true });
    } catch (error) {
      if (!(error instanceof ToolFailure)) throw error;
      envelope = errorEnvelope('TOOL_FAILED', error.message, context.trace_id, { tool: spec.name, details: { type: error.type, fallback: true } });
    }
    this.recordOutcome(envelope, { ...context, fallback: true }, startedAt);
    return { kind: 'completed', envelope, call };
  }

  /** One log line and one counter per call outcome. */
  private recordOutcome(envelope: ResultEnvelope, context: LogContext, startedAt: number, rejected = false): void {
    const outcome = rejected ? 'rejected' : outcomeOf(envelope);
    const errorCode = envelope.status === 'error' ? envelope.error_code : '';
    const durationMs = Math.round(performance.now() - startedAt);
    this.metrics.calls.inc({ tool: context.tool || 'unknown', outcome, error_code: errorCode });
    if (!rejected) this.metrics.completionLatency.observe({ tool: context.tool, outcome }, durationMs / 1000);
    const level = outcome === 'ok' ? 'info' : rejected && envelope.status === 'error' && !envelope.retryable ? 'info' : 'warn';
    this.options.logger[level](
      { ...context, status: outcome, error_code: errorCode || undefined, duration_ms: durationMs, attempts: envelope.attempts },
      'tool call finished',
    );
  }
}

/** A call that passed validation, authentication and scopes. */
interface Admitted {
  spec: ToolSpec;
  args: Record<string, unknown>;
  principal: Principal;
}

interface LogContext {
  trace_id: string;
  tool: string;
  session?: string | undefined;
  tenant?: string;
  user?: string;
  call_id?: string;
  workflow_id?: string;
  arguments?: Record<string, unknown>;
  fallback?: boolean;
}

function withIds(call: CallRef) {
  return { tool: call.tool, call_id: call.call_id, workflow_id: call.workflow_id };
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
