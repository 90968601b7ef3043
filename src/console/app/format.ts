import type { CallStatus, CallSummary } from './types';

export const STATUS_LABEL: Record<CallStatus, string> = {
  running: 'Running',
  awaiting_approval: 'Awaiting approval',
  ok: 'Done',
  error: 'Failed',
  timeout: 'Timed out',
  cancelled: 'Cancelled',
};

export function duration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1_000)} s`;
}

/** How long a call has taken: its recorded duration, or the time since it started while it runs. */
export function elapsed(call: CallSummary, now = Date.now()): number | undefined {
  if (call.duration_ms !== undefined) return call.duration_ms;
  const started = Date.parse(call.started_at);
  if (!Number.isFinite(started)) return undefined;
  const end = call.closed_at ? Date.parse(call.closed_at) : now;
  return Math.max(0, end - started);
}

export const time = (iso: string | undefined): string => (iso ? new Date(iso).toLocaleTimeString() : '—');

export const shortSession = (session: string | null | undefined): string => (session ? (session.length > 14 ? `${session.slice(0, 12)}…` : session) : '—');

/** The Temporal UI page of a call's workflow, when the server says where its UI is. */
export function temporalLink(base: string | undefined, namespace: string | undefined, workflowId: string): string | undefined {
  if (!base || !namespace) return undefined;
  return `${base.replace(/\/$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
