/**
 * The API shapes the console reads. They mirror the server's zod contracts
 * (src/contracts: envelope.ts, events.ts, calls.ts) as plain types, so the
 * browser bundle carries no schema library.
 */
export type CallStatus = 'running' | 'awaiting_approval' | 'ok' | 'error' | 'timeout' | 'cancelled';

export interface ToolProgress {
  stage: string;
  pct: number;
  message: string;
}

export interface CallSummary {
  call_id: string;
  workflow_id: string;
  tool: string;
  tenant_id: string;
  user_id: string;
  session_id?: string | null;
  status: CallStatus;
  started_at: string;
  closed_at?: string;
  duration_ms?: number;
  attempts?: number;
  progress?: ToolProgress;
  cancellable?: boolean;
}

export interface OkEnvelope {
  status: 'ok';
  data: unknown;
  trace_id: string;
  attempts?: number;
  duration_ms?: number;
  [field: string]: unknown;
}

export interface ErrorEnvelope {
  status: 'error';
  error_code: string;
  message: string;
  retryable: boolean;
  trace_id: string;
  attempts?: number;
  duration_ms?: number;
  [field: string]: unknown;
}

export type ResultEnvelope = OkEnvelope | ErrorEnvelope;

/** GET /v1/tool-calls/:id of a call still running (a finished one answers its envelope). */
export interface RunningCallView {
  call_id: string;
  workflow_id: string;
  trace_id: string;
  tool: string;
  status: 'running' | 'awaiting_approval';
  progress?: ToolProgress;
  attempt?: number;
  /** The arguments as the audit memo keeps them (sensitive fields redacted), when the server includes them. */
  arguments?: Record<string, unknown>;
}

/** GET /v1/events, one `data:` each. */
export type CallStreamEvent =
  | { type: 'calls.snapshot'; calls: CallSummary[] }
  | { type: 'call.started'; call: CallSummary }
  | { type: 'call.progress'; call_id: string; workflow_id: string; progress: ToolProgress }
  | { type: 'call.status'; call_id: string; workflow_id: string; status: CallStatus }
  | { type: 'call.finished'; call: CallSummary; result: ResultEnvelope };

export interface ServerInfo {
  temporal_ui_url?: string;
  namespace: string;
  version: string;
}

/** Who a token speaks for, read from its (unverified) claims for display only. */
export interface Identity {
  tenant: string;
  user: string;
  scopes: string[];
}

export const isFinished = (status: CallStatus): boolean => status !== 'running' && status !== 'awaiting_approval';
