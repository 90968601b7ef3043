/**
 * The API shapes the console reads. Types only, from the server's contracts
 * (src/contracts), so the browser bundle carries no schema library.
 */
import type { CallStatusName, CallStreamEvent, CallSummary } from '../../contracts/calls';
import type { ErrorEnvelope, OkEnvelope, ResultEnvelope, ToolProgress } from '../../contracts/envelope';

export type { CallStreamEvent, CallSummary, ErrorEnvelope, OkEnvelope, ResultEnvelope, ToolProgress };
export type CallStatus = CallStatusName;

/** GET /v1/tool-calls/:id of a call still running (a finished one answers its envelope). */
export interface RunningCallView {
  call_id: string;
  workflow_id: string;
  trace_id: string;
  tool: string;
  status: 'running' | 'awaiting_approval';
  progress?: ToolProgress;
  attempt?: number;
}

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
