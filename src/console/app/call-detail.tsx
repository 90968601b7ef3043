import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, callPath, type Api } from './api';
import { duration, elapsed, STATUS_LABEL, temporalLink, time } from './format';
import type { ProgressStep, SeenProgress } from './live';
import { isFinished, type CallStatus, type CallSummary, type Identity, type ResultEnvelope, type RunningCallView, type ServerInfo, type ToolProgress } from './types';

interface Props {
  api: Api;
  me: Identity | undefined;
  info: ServerInfo | undefined;
  /** The call as the list knows it; kept current by the live stream while the detail is open. */
  call: CallSummary;
  /** The progress the live list saw for this call before the detail opened. */
  seen: SeenProgress;
  onClose: () => void;
}

/**
 * One call: arguments, progress timeline, attempts, final envelope, and the
 * acts its state allows (approve or deny, cancel). Opened as a modal dialog so
 * focus stays inside and Escape closes it.
 */
export function CallDetail({ api, me, info, call, seen, onClose }: Props) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [view, setView] = useState<RunningCallView>();
  const [envelope, setEnvelope] = useState<ResultEnvelope>();
  const [steps, setSteps] = useState<ProgressStep[]>(() => (seen.steps.length > 0 ? [...seen.steps] : call.progress ? [{ ...call.progress, at: Date.now() }] : []));
  const [error, setError] = useState<string>();
  const [acting, setActing] = useState<string>();
  const [done, setDone] = useState<string>();

  useEffect(() => {
    const element = dialog.current;
    if (element && !element.open) element.showModal();
    const onCancel = () => onClose();
    element?.addEventListener('close', onCancel);
    return () => element?.removeEventListener('close', onCancel);
  }, []);

  // The call's own event stream: its progress as it comes, and its final envelope.
  useEffect(() => {
    const stop = new AbortController();
    const load = async () => {
      try {
        const answer = await api.get<RunningCallView | ResultEnvelope>(callPath(call.call_id, call.user_id, me), stop.signal);
        if (answer.status === 'ok' || answer.status === 'error') setEnvelope(answer);
        else setView(answer);
        if (answer.status === 'ok' || answer.status === 'error') return;
        await api.stream(
          callPath(call.call_id, call.user_id, me, '/events'),
          (message) => {
            const event = JSON.parse(message.data) as { type: string; progress?: ToolProgress; result?: ResultEnvelope };
            if (event.type === 'tool_call.progress' && event.progress) {
              const progress = event.progress;
              setSteps((old) => (old.length > 0 && sameStep(old[old.length - 1]!, progress) ? old : [...old, { ...progress, at: Date.now() }]));
            } else if (event.result) setEnvelope(event.result);
          },
          stop.signal,
        );
      } catch (failure) {
        if (!stop.signal.aborted) setError(failure instanceof ApiError ? failure.message : 'The call could not be loaded: try again.');
      }
    };
    void load();
    return () => stop.abort();
  }, [call.workflow_id]);

  const status: CallStatus = envelope ? statusOf(envelope) : (view?.status ?? call.status);
  const finished = isFinished(status);
  const attempts = envelope?.attempts ?? view?.attempt ?? call.attempts;
  const link = temporalLink(info?.temporal_ui_url, info?.namespace, call.workflow_id);
  const pct = steps[steps.length - 1]?.pct ?? call.progress?.pct ?? 0;

  const act = async (what: 'approve' | 'deny' | 'cancel') => {
    setActing(what);
    setError(undefined);
    try {
      if (what === 'cancel') await api.post(callPath(call.call_id, call.user_id, me, '/cancel'), {});
      else await api.post(callPath(call.call_id, call.user_id, me, '/approval'), { approved: what === 'approve' });
      setDone(what === 'approve' ? 'Approved: the call continues.' : what === 'deny' ? 'Denied: the call ends without running.' : 'Cancel requested: the call stops at its next safe point.');
      if (what === 'approve') setView((old) => (old ? { ...old, status: 'running' } : old));
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.message : 'That did not go through: try again.');
    } finally {
      setActing(undefined);
    }
  };

  const titleId = `detail-${call.workflow_id}`;
  return (
    <dialog ref={dialog} class="detail" aria-labelledby={titleId}>
      <header>
        <h2 id={titleId}>
          {call.tool} <span class="mono">{call.call_id}</span>
        </h2>
        <button type="button" onClick={() => dialog.current?.close()} aria-label="Close call details">
          ✕
        </button>
      </header>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      {done ? (
        <p class="notice" role="status">
          {done}
        </p>
      ) : null}
      <dl class="facts">
        <dt>Status</dt>
        <dd>
          <span class={`badge ${status}`}>{STATUS_LABEL[status]}</span>
        </dd>
        <dt>User</dt>
        <dd>{call.user_id}</dd>
        <dt>Session</dt>
        <dd class="mono">{call.session_id ?? '—'}</dd>
        <dt>Started</dt>
        <dd>{time(call.started_at)}</dd>
        <dt>Duration</dt>
        <dd>{duration(envelope?.duration_ms ?? elapsed(call))}</dd>
        <dt>Attempts</dt>
        <dd>{attempts ?? '—'}</dd>
        <dt>Workflow</dt>
        <dd class="mono">{call.workflow_id}</dd>
      </dl>
      {!finished ? (
        <div class="actions" role="group" aria-label="Act on this call">
          {status === 'awaiting_approval' ? (
            <>
              <button type="button" class="approve" disabled={acting !== undefined} onClick={() => void act('approve')}>
                Approve
              </button>
              <button type="button" class="deny" disabled={acting !== undefined} onClick={() => void act('deny')}>
                Deny
              </button>
            </>
          ) : null}
          {call.cancellable !== false ? (
            <button type="button" class="cancel" disabled={acting !== undefined} onClick={() => void act('cancel')}>
              Cancel call
            </button>
          ) : null}
        </div>
      ) : null}
      {link ? (
        <p>
          <a href={link} target="_blank" rel="noopener noreferrer">
            Open this workflow in the Temporal UI
          </a>
        </p>
      ) : (
        <p class="hint">This server does not say where its Temporal UI is (set it up with the embedded dev server, or look the workflow id up in your cluster's UI).</p>
      )}
      <section aria-labelledby={`${titleId}-args`}>
        <h3 id={`${titleId}-args`}>Arguments</h3>
        {call.arguments ? (
          <pre tabIndex={0} role="region" aria-label="Arguments (redacted)">{JSON.stringify(call.arguments, null, 2)}</pre>
        ) : (
          <p class="hint">No arguments were recorded for this call; its workflow's memo in the Temporal UI has what was kept.</p>
        )}
      </section>
      <section aria-labelledby={`${titleId}-progress`}>
        <h3 id={`${titleId}-progress`}>Progress</h3>
        {!finished && status === 'running' ? <progress max={100} value={pct} aria-label="Progress of this call" /> : null}
        {steps.length === 0 ? (
          <p class="hint">
            {!finished
              ? 'No progress reported yet.'
              : seen.fromStart
                ? 'This call reported no progress.'
                : 'No progress was seen by this page: progress shows while a call runs in the live list, and is not kept after it ends.'}
          </p>
        ) : (
          <ol class="timeline" aria-label="Progress timeline">
            {steps.map((step, index) => (
              <li key={index}>
                <span class="mono">{new Date(step.at).toLocaleTimeString()}</span> {step.pct}% · {step.stage} · {step.message}
              </li>
            ))}
          </ol>
        )}
      </section>
      <section aria-labelledby={`${titleId}-result`}>
        <h3 id={`${titleId}-result`}>Result</h3>
        {envelope ? <pre tabIndex={0} role="region" aria-label="Final envelope">{JSON.stringify(envelope, null, 2)}</pre> : <p class="hint">Not finished yet.</p>}
      </section>
    </dialog>
  );
}

const sameStep = (a: ToolProgress, b: ToolProgress) => a.pct === b.pct && a.stage === b.stage && a.message === b.message;

function statusOf(envelope: ResultEnvelope): CallStatus {
  if (envelope.status === 'ok') return 'ok';
  if (envelope.error_code === 'TIMEOUT') return 'timeout';
  if (envelope.error_code === 'CANCELLED') return 'cancelled';
  return 'error';
}
