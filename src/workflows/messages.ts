import { defineSignal } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Everything a caller of `toolCallWorkflow` needs besides the function's type:
 * its name, task queue, signals and search attributes. Defined once here.
 */
export const TOOL_CALL_WORKFLOW = 'toolCallWorkflow';
export const DEFAULT_TASK_QUEUE = 'holdline-tools';

export interface ApprovalDecision {
  approved: boolean;
  /** The user who decided, from their token. */
  decidedBy: string;
  /** `owner`: the user who made the call; `approver`: someone holding the approver scope. */
  decidedAs?: 'owner' | 'approver';
}

/** The user's answer to a tool that needs approval; only the first one counts. */
export const approvalSignal = defineSignal<[ApprovalDecision]>('approval');

/** Where a call stands, for the Temporal UI and for readers of a running call. */
export type CallStatus = 'running' | 'awaiting_approval' | 'ok' | 'error' | 'timeout' | 'cancelled';

/** Search attributes every call carries, so the Temporal UI can find calls by tool, tenant, session and status. */
export const searchAttributes = {
  tool: defineSearchAttributeKey('HoldlineTool', SearchAttributeType.KEYWORD),
  tenant: defineSearchAttributeKey('HoldlineTenant', SearchAttributeType.KEYWORD),
  session: defineSearchAttributeKey('HoldlineSession', SearchAttributeType.KEYWORD),
  status: defineSearchAttributeKey('HoldlineStatus', SearchAttributeType.KEYWORD),
} as const;
