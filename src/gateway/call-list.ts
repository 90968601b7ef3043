import { createHash } from 'node:crypto';
import type { WorkflowExecutionInfo } from '@temporalio/client';
import { CallStatusSchema, type CallList, type CallStatusName, type CallSummary } from '../contracts/calls';
import { searchAttributes, TOOL_CALL_WORKFLOW } from '../workflows/messages';
import type { Principal } from './auth';
import { OPERATOR_SCOPE } from './scopes';
import { readCallMemo } from './call-memo';
import { parseWorkflowId, workflowIdPrefixOf } from './idempotency';
import type { ToolRegistry } from './registry';
import { GatewayRejection } from './rejection';
import type { CallRef } from './results';
import type { TemporalCalls } from './temporal-calls';

/** Whose calls a reader sees: one user's, or (`userId` undefined) every call of the tenant. */
export interface CallScope {
  tenantId: string;
  userId?: string;
}

/**
 * The calls a principal may read: their own, or with the operator scope the
 * tenant's (narrowed to `user` when they name one). Without the scope a named
 * user changes nothing: a caller sees their own calls, never learns of others'.
 */
export function readScopeOf(principal: Principal, user?: string): CallScope {
  if (!principal.scopes.has(OPERATOR_SCOPE)) return { tenantId: principal.tenantId, userId: principal.userId };
  return user === undefined ? { tenantId: principal.tenantId } : { tenantId: principal.tenantId, userId: user };
}

export function inScope(scope: CallScope, owner: { tenantId: string; userId: string }): boolean {
  return owner.tenantId === scope.tenantId && (scope.userId === undefined || scope.userId === owner.userId);
}

export interface CallListRequest {
  status?: CallStatusName;
  tool?: string;
  session?: string;
  /** Only calls not closed yet (running or waiting for approval). */
  open?: boolean;
  /** 1–100. */
  pageSize: number;
  /** `next_page_token` of the page before. */
  pageToken?: string;
}

export const MAX_PAGE_SIZE = 100;

/**
 * One page of a scope's calls from Temporal visibility (the search attributes
 * every call carries), so the list outlives any server. Visibility lags a
 * call's start by a moment.
 */
export async function listCalls(calls: TemporalCalls, registry: ToolRegistry, scope: CallScope, request: CallListRequest): Promise<CallList> {
  const { entries, nextPageToken } = await listEntries(calls, registry, scope, request);
  return { calls: entries.map((entry) => entry.summary), ...(nextPageToken ? { next_page_token: nextPageToken } : {}) };
}

/** A listed call, and the reference its readers follow it by. */
export interface ListedCall {
  summary: CallSummary;
  ref: CallRef;
}

async function listEntries(
  calls: TemporalCalls,
  registry: ToolRegistry,
  scope: CallScope,
  request: CallListRequest,
): Promise<{ entries: ListedCall[]; nextPageToken?: string }> {
  const pageSize = Math.min(MAX_PAGE_SIZE, Math.max(1, Math.floor(request.pageSize)));
  const query = queryOf(scope, request);
  const token = request.pageToken === undefined ? undefined : decodePageToken(query, request.pageToken);
  const page = await calls.listPage(query, pageSize, token);
  const entries = page.executions.flatMap((info) => {
    const entry = entryOf(info, registry);
    // The query already asks for this scope; checking each call again costs nothing.
    return entry && inScope(scope, { tenantId: entry.summary.tenant_id, userId: entry.summary.user_id }) ? [entry] : [];
  });
  return { entries, ...(page.nextPageToken ? { nextPageToken: encodePageToken(query, page.nextPageToken) } : {}) };
}

/** Every open call of a scope, up to `limit`, newest first. */
export async function openCalls(calls: TemporalCalls, registry: ToolRegistry, scope: CallScope, limit: number): Promise<ListedCall[]> {
  const found: ListedCall[] = [];
  let pageToken: string | undefined;
  do {
    const page = await listEntries(calls, registry, scope, { open: true, pageSize: Math.min(MAX_PAGE_SIZE, limit - found.length), ...(pageToken ? { pageToken } : {}) });
    found.push(...page.entries);
    pageToken = page.nextPageToken;
  } while (pageToken && found.length < limit);
  return found.slice(0, limit);
}

function queryOf(scope: CallScope, request: CallListRequest): string {
  const clauses = [
    `WorkflowType = ${quote(TOOL_CALL_WORKFLOW)}`,
    `${searchAttributes.tenant.name} = ${quote(scope.tenantId)}`,
    `WorkflowId STARTS_WITH ${quote(workflowIdPrefixOf(scope))}`,
  ];
  if (request.status !== undefined) clauses.push(`${searchAttributes.status.name} = ${quote(request.status)}`);
  if (request.tool !== undefined) clauses.push(`${searchAttributes.tool.name} = ${quote(request.tool)}`);
  if (request.session !== undefined) clauses.push(`${searchAttributes.session.name} = ${quote(request.session)}`);
  if (request.open) clauses.push(`ExecutionStatus = 'Running'`);
  return clauses.join(' AND ');
}

/**
 * A string literal of the visibility query language. A quote is doubled; a
 * backslash or control character is refused, since the parser's handling of
 * backslashes differs between visibility stores. Values come from tokens and
 * filters, so no value can widen the query.
 */
export function quote(value: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\\\x00-\x1f\x7f]/.test(value)) throw new GatewayRejection('INVALID_ARGUMENTS', 'Filters may not contain backslashes or control characters');
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * Temporal's page token, prefixed with a digest of the query it continues.
 * Temporal answers a token it cannot read with a retried UNKNOWN error, so a
 * token from another list (or none at all) is refused here, at once.
 */
function encodePageToken(query: string, token: Uint8Array): string {
  return Buffer.concat([queryDigest(query), token]).toString('base64url');
}

function decodePageToken(query: string, token: string): Uint8Array {
  const bytes = /^[A-Za-z0-9_-]{1,4096}$/.test(token) ? Buffer.from(token, 'base64url') : Buffer.alloc(0);
  const digest = queryDigest(query);
  if (bytes.length <= digest.length || !bytes.subarray(0, digest.length).equals(digest)) {
    throw new GatewayRejection('INVALID_ARGUMENTS', 'page_token does not continue this list; ask again without it, with the same filters');
  }
  return bytes.subarray(digest.length);
}

function queryDigest(query: string): Buffer {
  return createHash('sha256').update(query).digest().subarray(0, 8);
}

/** A listed execution as a call, or undefined if it is not a Holdline call. */
function entryOf(info: WorkflowExecutionInfo, registry: ToolRegistry): ListedCall | undefined {
  const identity = parseWorkflowId(info.workflowId);
  const memo = readCallMemo(info.memo);
  if (info.type !== TOOL_CALL_WORKFLOW || !identity || !memo) return undefined;
  const attributes = info.typedSearchAttributes;
  const tool = attributes.get(searchAttributes.tool) ?? '';
  const closed = info.status.name !== 'RUNNING';
  const recorded = CallStatusSchema.safeParse(attributes.get(searchAttributes.status));
  let status: CallStatusName = recorded.success ? recorded.data : 'running';
  // A workflow stopped from outside (timed out, terminated) never recorded how it ended.
  if (closed && (status === 'running' || status === 'awaiting_approval')) status = info.status.name === 'TIMED_OUT' ? 'timeout' : info.status.name === 'CANCELLED' ? 'cancelled' : 'error';
  const closedAt = closed ? info.closeTime : undefined;
  const summary: CallSummary = {
    call_id: identity.callId,
    workflow_id: info.workflowId,
    tool,
    tenant_id: identity.tenantId,
    user_id: memo.user_id,
    session_id: attributes.get(searchAttributes.session) ?? '',
    status,
    started_at: info.startTime.toISOString(),
    ...(closedAt ? { closed_at: closedAt.toISOString(), duration_ms: Math.max(0, closedAt.getTime() - info.startTime.getTime()) } : {}),
    ...(closed ? {} : { cancellable: status === 'awaiting_approval' || (registry.get(tool)?.cancellable ?? false) }),
    arguments: memo.arguments,
  };
  return { summary, ref: { call_id: identity.callId, workflow_id: info.workflowId, trace_id: memo.trace_id, tool } };
}
