import type { Logger } from 'pino';
import type { PendingEnvelope, ResultEnvelope, ToolProgress } from '../contracts/envelope';
import { terminalEventOf, type CallFields, type ToolCallEvent } from '../contracts/events';
import { inSpan, isShutdown, newTraceId, recordSubmitOutcome, SPAN_ATTRIBUTES, SpanKind, type CallControl, type CallRef, type Gateway, type Principal, type ProgressHub, type SubmitOutcome } from '../gateway';
import { errorEnvelope } from '../contracts/envelope-builders';
import { ModelTurns } from './model-turns';
import { progressNote, resultNote, type CancelNote } from './notes';
import {
  functionCallOf,
  modelCommands,
  parseClientEvent,
  parseModelEvent,
  type FunctionCall,
  type ModelCommand,
  type ToolCallApprove,
} from './protocol';
import type { RestoredCall, SessionRecords } from './records';
import type { Transport } from './transport';

export interface SessionServices {
  gateway: Gateway;
  control: CallControl;
  hub: ProgressHub;
  logger: Logger;
  /** At most one spoken progress update per this many ms. */
  spokenProgressEveryMs: number;
  /** Where deliveries are recorded, so a rebuilt session does not announce them again. */
  records: SessionRecords;
}

/**
 * A function call this session made, from the model's call id to its durable
 * call. `finished` means its one terminal answer is decided (given to the
 * model, or waiting for the next model connection).
 */
interface TrackedCall {
  modelCallId: string;
  tool: string;
  ref?: CallRef;
  cancellable: boolean;
  cancelRequested: boolean;
  finished: boolean;
  unsubscribe?: () => void;
}

/** A result the model has not heard yet, for the next model connection. */
interface PendingNote {
  modelCallId: string;
  /** Recorded in the ledger once given to the model: the call has a workflow a rebuilt session would find. */
  durable: boolean;
  text: string;
}

/**
 * One conversation between a client and a realtime model, with Holdline in
 * the middle: it relays events both ways, runs every function call the model
 * makes through the gateway, and gives the model exactly one terminal output
 * per call. The session outlives its connections: a client that reconnects
 * within the resume window gets what finished while it was away.
 */
export class RealtimeSession {
  private client: Transport | undefined;
  private model: Transport | undefined;
  private readonly turns: ModelTurns;
  private readonly calls = new Map<string, TrackedCall>();
  /** Client events that found no client; sent on the next connect. */
  private readonly clientBacklog: ToolCallEvent[] = [];
  /** Results that found no model; given to the next model connection. */
  private readonly modelBacklog: PendingNote[] = [];
  private lastSpokenProgressAt = 0;
  private disposed = false;
  private readonly log: Logger;

  constructor(
    readonly id: string,
    readonly principal: Principal,
    private readonly services: SessionServices,
  ) {
    this.turns = new ModelTurns((command) => this.model?.send(command));
    this.log = services.logger.child({ session: id, tenant: principal.tenantId, user: principal.userId });
  }

  get connected(): boolean {
    return this.client !== undefined;
  }

  /** Binds a client and a model connection; installs the tools and flushes what waited. */
  connect(client: Transport, model: Transport, resumeWindowMs: number, resumed: boolean): void {
    this.client = client;
    this.model = model;
    this.turns.reset();
    client.send({ type: 'tool_call.session', session_id: this.id, resumed, resume_window_ms: resumeWindowMs });
    model.send(this.sessionUpdate({}));
    for (const event of this.clientBacklog.splice(0)) client.send(event);
    const notes = this.modelBacklog.splice(0);
    for (const note of notes) this.noteToModel(note);
    if (notes.length) this.turns.requestResponse();
    this.log.info({ resumed }, 'realtime session connected');
  }

  /** The client left: drop the model connection; calls go on and wait for a resume. */
  clientClosed(): void {
    this.client = undefined;
    const model = this.model;
    this.model = undefined;
    model?.close(1000, 'client disconnected');
    this.log.info('realtime client disconnected');
  }

  /** The model connection dropped while the client was still here. */
  modelClosed(code: number, reason: string): void {
    if (!this.model) return;
    this.model = undefined;
    this.log.warn({ code, reason }, 'model connection dropped');
    const client = this.client;
    client?.send({
      type: 'error',
      error: {
        type: 'holdline_error',
        code: 'model_connection_lost',
        message: `The connection to the model was lost (${code}). Running tool calls continue; reconnect with session_id=${this.id} to resume.`,
      },
    });
    client?.close(1011, 'model connection lost');
  }

  onClientFrame(data: string | Buffer, isBinary: boolean): void {
    if (isBinary) return this.clientError('binary_frame', 'Binary frames are not accepted: send JSON events as text');
    const text = data.toString();
    const parsed = parseClientEvent(text);
    switch (parsed.kind) {
      case 'invalid':
        return this.clientError('invalid_event', parsed.reason);
      case 'unknown':
        return this.toModelRaw(text);
      case 'event': {
        const { event } = parsed;
        if (event.type === 'tool_call.approve') return void this.approve(event);
        if (event.type === 'session.update') return this.model?.send(this.sessionUpdate(event.session));
        this.toModelRaw(text);
        this.bargeIn('response.cancel');
      }
    }
  }

  onModelFrame(text: string): void {
    this.client?.send(relayable(text));
    const parsed = parseModelEvent(text);
    if (parsed.kind !== 'event') {
      if (parsed.kind === 'invalid') this.log.warn({ reason: parsed.reason }, 'model sent an event Holdline could not read');
      return;
    }
    const { event } = parsed;
    if (event.type === 'response.created') this.turns.responseStarted();
    else if (event.type === 'response.done') this.turns.responseDone();
    else if (event.type === 'input_audio_buffer.speech_started') this.bargeIn('speech_started');
    const call = functionCallOf(event);
    if (call) {
      this.runFunctionCall(call).catch((error: unknown) => {
        // The gateway answers every call with an envelope; this is a bug, and the model must still hear back.
        this.log.error({ err: error, call_id: call.callId }, 'function call failed inside Holdline');
        this.toModel(modelCommands.functionOutput(call.callId, errorEnvelope('INTERNAL', 'The tool call failed inside Holdline', newTraceId(), { tool: call.name })));
        this.turns.requestResponse();
      });
    }
  }

  /**
   * Takes up calls found in Temporal after this server restarted. A call whose
   * result the model already has (`delivered`, from the ledger) is remembered,
   * so a repeat of it is ignored, but never announced again.
   */
  restore(calls: readonly RestoredCall[], delivered: ReadonlySet<string>): void {
    for (const { modelCallId, ref } of calls) {
      if (this.calls.has(modelCallId)) continue;
      const spec = this.services.gateway.registry.get(ref.tool);
      const finished = delivered.has(modelCallId);
      const tracked: TrackedCall = { modelCallId, tool: ref.tool, ref, cancellable: spec?.cancellable ?? false, cancelRequested: false, finished };
      this.calls.set(modelCallId, tracked);
      if (!finished) this.follow(tracked, ref, this.services.gateway.completionOf(ref));
    }
  }

  /** Stops following calls; they go on in Temporal. */
  dispose(): void {
    this.disposed = true;
    for (const call of this.calls.values()) call.unsubscribe?.();
  }

  private async runFunctionCall(call: FunctionCall): Promise<void> {
    // A model or network repeat of the same call within the session: the first one answers.
    if (this.calls.has(call.callId)) return;
    const spec = this.services.gateway.registry.get(call.name);
    const tracked: TrackedCall = { modelCallId: call.callId, tool: call.name, cancellable: spec?.cancellable ?? false, cancelRequested: false, finished: false };
    this.calls.set(call.callId, tracked);

    let outcome = await this.submitCall(call);
    let pendingSent = false;
    if (outcome.kind === 'unknown') {
      // Temporal could not say whether the call started: it may be running. The model hears
      // "pending", never a failure, and the session keeps asking until Temporal answers.
      tracked.ref = outcome.call;
      const fields = this.fieldsOf(tracked, outcome.call);
      const message = 'Waiting for the tool service to confirm the call; the result will follow';
      this.toClient({ type: 'tool_call.accepted', ...fields, message });
      this.toModel(modelCommands.functionOutput(call.callId, { status: 'pending', message, call_id: call.callId, trace_id: outcome.call.trace_id, tool: call.name }));
      this.turns.requestResponse();
      this.lastSpokenProgressAt = Date.now();
      pendingSent = true;
      const settled = await this.resubmitUntilKnown(call);
      if (!settled) return;
      outcome = settled;
    }
    if (outcome.kind === 'rejected') {
      const ref: CallRef = tracked.ref ?? { call_id: call.callId, workflow_id: '', trace_id: outcome.envelope.trace_id, tool: call.name };
      if (pendingSent) return this.deliverFinal(tracked, ref, outcome.envelope);
      tracked.finished = true;
      this.toModel(modelCommands.functionOutput(call.callId, outcome.envelope));
      this.turns.requestResponse();
      this.toClient(terminalEventOf(this.fieldsOf(tracked, ref), outcome.envelope));
      return;
    }
    tracked.ref = outcome.call;
    const fields = this.fieldsOf(tracked, outcome.call);
    if (outcome.kind === 'completed') {
      if (pendingSent) return this.deliverFinal(tracked, outcome.call, outcome.envelope);
      tracked.finished = true;
      this.toClient({ type: 'tool_call.accepted', ...fields, message: 'Completed within its ack window' });
      this.toModel(modelCommands.functionOutput(call.callId, outcome.envelope));
      // A rebuilt session finds this closed call in Temporal: the ledger says the model has it.
      if (outcome.call.workflow_id) this.services.records.recordDelivery(this.id, this.principal, call.callId);
      this.turns.requestResponse();
      this.toClient(terminalEventOf(fields, outcome.envelope));
      return;
    }
    if (outcome.kind !== 'accepted') return;
    // A rebuild after a crash finds the call in the ledger at once, before Temporal's visibility lists it.
    if (outcome.call.workflow_id) this.services.records.recordCall(this.id, this.principal, { modelCallId: call.callId, ref: outcome.call });
    if (!pendingSent) this.toClient({ type: 'tool_call.accepted', ...fields, message: outcome.ack.message });
    if (outcome.awaitingApproval) {
      this.toClient({ type: 'tool_call.approval_requested', ...fields, arguments: outcome.redactedArguments });
    }
    if (!pendingSent) {
      const pending: PendingEnvelope = { status: 'pending', message: outcome.ack.message, call_id: call.callId, trace_id: outcome.call.trace_id, tool: call.name };
      this.toModel(modelCommands.functionOutput(call.callId, pending));
      this.turns.requestResponse();
      // The model is about to say it is working on it: the next spoken update waits a full interval.
      this.lastSpokenProgressAt = Date.now();
    }
    this.follow(tracked, outcome.call, outcome.completion);
  }

  /** One span per function call the model makes (each resubmission too), the gateway's below it. */
  private submitCall(call: FunctionCall): Promise<SubmitOutcome> {
    const attributes = { [SPAN_ATTRIBUTES.session]: this.id, [SPAN_ATTRIBUTES.tenant]: this.principal.tenantId, [SPAN_ATTRIBUTES.tool]: call.name.slice(0, 64) };
    return inSpan('realtime function_call', { kind: SpanKind.SERVER, attributes }, async (span) => {
      const outcome = await this.services.gateway.submit({
        tool: call.name,
        arguments: call.arguments,
        caller: { principal: this.principal },
        sessionId: this.id,
        key: { kind: 'realtime', sessionId: this.id, modelCallId: call.callId },
      });
      recordSubmitOutcome(span, outcome);
      return outcome;
    });
  }

  /**
   * Submits the same call (same key: it never runs twice) until Temporal says
   * where it stands: attached to the call that did start, or started now.
   * Undefined when the session ended first.
   */
  private async resubmitUntilKnown(call: FunctionCall): Promise<Exclude<SubmitOutcome, { kind: 'unknown' }> | undefined> {
    for (let attempt = 0; !this.disposed; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 250 * 2 ** Math.min(attempt, 5))));
      if (this.disposed) return undefined;
      const outcome = await this.submitCall(call);
      if (outcome.kind === 'unknown') continue;
      // Still unreachable (the breaker is open): keep following rather than report a failure.
      if (outcome.kind === 'rejected' && outcome.envelope.error_code === 'BACKEND_UNAVAILABLE') continue;
      return outcome;
    }
    return undefined;
  }

  /** Streams a running call's progress and delivers its final envelope. */
  private follow(tracked: TrackedCall, ref: CallRef, completion: Promise<ResultEnvelope>): void {
    tracked.unsubscribe = this.services.hub.subscribe(ref, (update) => {
      if (update.kind === 'progress') this.progressed(tracked, ref, update.progress);
    });
    completion.then(
      (envelope) => this.deliverFinal(tracked, ref, envelope),
      (error: unknown) => {
        // Shutting down: the call goes on in Temporal and is delivered on resume.
        if (!isShutdown(error)) this.log.error({ err: error, call_id: ref.call_id }, 'waiting for a result failed');
      },
    );
  }

  private progressed(tracked: TrackedCall, ref: CallRef, progress: ToolProgress): void {
    if (tracked.finished) return;
    this.client?.send({ type: 'tool_call.progress', ...this.fieldsOf(tracked, ref), progress });
    const now = Date.now();
    if (!this.model || this.turns.busy || now - this.lastSpokenProgressAt < this.services.spokenProgressEveryMs) return;
    this.lastSpokenProgressAt = now;
    this.model.send(modelCommands.systemNote(progressNote(tracked.tool, tracked.modelCallId, progress)));
    this.turns.requestResponse();
  }

  private deliverFinal(tracked: TrackedCall, ref: CallRef, envelope: ResultEnvelope): void {
    // After dispose another server (or a rebuild) speaks for the session and delivers the result.
    if (tracked.finished || this.disposed) return;
    tracked.finished = true;
    tracked.unsubscribe?.();
    this.toClient(terminalEventOf(this.fieldsOf(tracked, ref), envelope));
    const cancel: CancelNote = !tracked.cancelRequested
      ? undefined
      : envelope.status === 'error' && envelope.error_code === 'CANCELLED'
        ? 'cancelled_without_effect'
        : envelope.status === 'ok'
          ? 'completed_before_cancel'
          : undefined;
    const note: PendingNote = { modelCallId: tracked.modelCallId, durable: ref.workflow_id !== '', text: resultNote(tracked.tool, tracked.modelCallId, envelope, cancel) };
    if (!this.model?.isOpen) {
      this.modelBacklog.push(note);
      return;
    }
    this.noteToModel(note);
    this.turns.requestResponse();
  }

  /** Gives the model a result, then records that it has it: a crash in between repeats it, never loses it. */
  private noteToModel(note: PendingNote): void {
    this.model?.send(modelCommands.systemNote(note.text));
    if (note.durable) this.services.records.recordDelivery(this.id, this.principal, note.modelCallId);
  }

  /** The user spoke over the model, or the client cancelled the response: stop what may stop. */
  private bargeIn(reason: string): void {
    for (const call of this.calls.values()) {
      if (call.finished || !call.ref || !call.cancellable || call.cancelRequested) continue;
      call.cancelRequested = true;
      this.log.info({ call_id: call.ref.call_id, tool: call.tool, reason }, 'barge-in: cancelling tool call');
      this.services.control.cancel({ principal: this.principal }, { callId: call.ref.call_id }).catch((error: unknown) => {
        this.log.warn({ err: error, call_id: call.ref?.call_id }, 'barge-in cancel failed');
      });
    }
  }

  private async approve(event: ToolCallApprove): Promise<void> {
    const call = this.calls.get(event.call_id);
    if (!call?.ref || call.finished) {
      this.log.warn({ call_id: event.call_id }, 'ignored an approval for a call that is not a running call of this session');
      return;
    }
    try {
      await this.services.control.approve({ principal: this.principal }, { callId: call.ref.call_id }, event.approved);
      this.log.info({ call_id: call.ref.call_id, approved: event.approved }, 'approval delivered');
    } catch (error) {
      this.log.warn({ err: error, call_id: call.ref.call_id }, 'approval could not be delivered');
      this.clientError('approval_failed', `The approval for ${event.call_id} could not be delivered: ${(error as Error).message}`);
    }
  }

  /** Holdline owns the tools: whatever the client sends, the registry's tools this user may call are installed. */
  private sessionUpdate(session: Record<string, unknown>): ModelCommand {
    return {
      type: 'session.update',
      session: { type: 'realtime', ...session, tools: this.services.gateway.catalogFor(this.principal), tool_choice: 'auto' },
    } as ModelCommand;
  }

  private fieldsOf(tracked: TrackedCall, ref: CallRef): CallFields {
    return { call_id: tracked.modelCallId, workflow_id: ref.workflow_id, trace_id: ref.trace_id, tool: tracked.tool };
  }

  private toClient(event: ToolCallEvent): void {
    if (this.client) this.client.send(event);
    else if (event.type !== 'tool_call.progress') this.clientBacklog.push(event);
  }

  private toModel(command: ModelCommand): void {
    this.model?.send(command);
  }

  private toModelRaw(text: string): void {
    this.model?.send(JSON.parse(text) as object);
  }

  private clientError(code: string, message: string): void {
    this.client?.send({ type: 'error', error: { type: 'invalid_request_error', code, message } });
  }
}

/** Model frames go to the client as they came. */
function relayable(text: string): object {
  try {
    return JSON.parse(text) as object;
  } catch {
    return { type: 'error', error: { type: 'holdline_error', code: 'model_sent_invalid_json', message: 'The model sent a frame that is not JSON' } };
  }
}
