import { Component } from 'preact';
import { duration, elapsed, shortSession, STATUS_LABEL } from './format';
import type { CallSummary } from './types';

interface RowProps {
  call: CallSummary;
  onOpen: (call: CallSummary) => void;
}

/** One call. Renders again only when its call object changes (the live store replaces a changed call). */
class CallRow extends Component<RowProps> {
  override shouldComponentUpdate(next: RowProps): boolean {
    return next.call !== this.props.call;
  }

  override render({ call, onOpen }: RowProps) {
    const running = call.status === 'running' || call.status === 'awaiting_approval';
    const pct = call.progress?.pct ?? 0;
    return (
      <tr class={`call status-${call.status}`} data-workflow-id={call.workflow_id}>
        <td>
          <button type="button" class="link" onClick={() => onOpen(call)} aria-label={`Details of ${call.tool} call ${call.call_id}`}>
            {call.tool}
          </button>
        </td>
        <td>{call.user_id}</td>
        <td title={call.session_id ?? ''}>{shortSession(call.session_id)}</td>
        <td>
          <span class={`badge ${call.status}`}>{STATUS_LABEL[call.status] ?? call.status}</span>
        </td>
        <td class="num">{call.attempts ?? '—'}</td>
        <td class="num">{duration(elapsed(call))}</td>
        <td>
          {running && call.status === 'running' ? (
            <span class="bar">
              <progress max={100} value={pct} aria-label={`Progress of ${call.tool} ${call.call_id}`} />
              <span class="pct">{pct}%</span>
            </span>
          ) : null}
          {call.status === 'awaiting_approval' ? <span class="hint">Needs a decision</span> : null}
        </td>
      </tr>
    );
  }
}

/** A table of calls (the live window, or a page of history). */
export function CallsTable({ calls, caption, onOpen, empty }: { calls: CallSummary[]; caption: string; onOpen: (call: CallSummary) => void; empty: string }) {
  return (
    <div class="table-wrap">
      <table>
        <caption class="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Tool</th>
            <th scope="col">User</th>
            <th scope="col">Session</th>
            <th scope="col">Status</th>
            <th scope="col">Attempts</th>
            <th scope="col">Duration</th>
            <th scope="col">Progress</th>
          </tr>
        </thead>
        <tbody>
          {calls.length === 0 ? (
            <tr>
              <td colSpan={7} class="empty">
                {empty}
              </td>
            </tr>
          ) : (
            calls.map((call) => <CallRow key={call.workflow_id} call={call} onOpen={onOpen} />)
          )}
        </tbody>
      </table>
    </div>
  );
}
