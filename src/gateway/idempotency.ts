import { createHash, randomUUID } from 'node:crypto';
import type { ToolSpec } from '../contracts/tool-spec';
import { GatewayRejection } from './rejection';

/**
 * A call's identity, built and parsed here only. The idempotency key is the
 * call id callers see; the workflow id scopes it to its caller,
 * `<tenant>/<user>/<key>` (the user percent-encoded), so two tenants, or two
 * users of one tenant, can never share, attach to or learn of each other's
 * call through a key. The fingerprint tells a true duplicate (attach to it)
 * from a reused key (conflict), as Stripe's idempotency keys do.
 */
export interface CallOwner {
  tenantId: string;
  userId: string;
}

export interface CallIdentity extends CallOwner {
  callId: string;
  workflowId: string;
}

const KEY = /^[\x21-\x7e]{1,200}$/;

/** Where a key comes from: the caller's header, a realtime model's call id, or nowhere (a fresh one). */
export type KeySource =
  | { kind: 'explicit'; key: string }
  | { kind: 'realtime'; sessionId: string; modelCallId: string }
  | { kind: 'none' };

/** 1–200 printable ASCII characters without spaces: what an explicit key (and so a call id) may be. */
export function isValidKey(key: string): boolean {
  return KEY.test(key);
}

export function idempotencyKeyOf(source: KeySource): string {
  switch (source.kind) {
    case 'explicit':
      if (!isValidKey(source.key)) {
        throw new GatewayRejection('INVALID_ARGUMENTS', 'Idempotency-Key must be 1–200 printable ASCII characters without spaces');
      }
      return source.key;
    case 'realtime':
      return realtimeKeyPrefix(source.sessionId) + source.modelCallId;
    case 'none':
      return `call-${randomUUID()}`;
  }
}

/** Every realtime call of a session has a key that starts with this. */
export function realtimeKeyPrefix(sessionId: string): string {
  return `rt-${sessionId}-`;
}

export function workflowIdOf(owner: CallOwner, callId: string): string {
  return `${owner.tenantId}/${encodeURIComponent(owner.userId)}/${callId}`;
}

/** What every workflow id of one user's calls starts with (`<tenant>/<user>/`), or of a whole tenant's (`<tenant>/`). */
export function workflowIdPrefixOf(owner: { tenantId: string; userId?: string | undefined }): string {
  return owner.userId === undefined ? `${owner.tenantId}/` : workflowIdOf({ tenantId: owner.tenantId, userId: owner.userId }, '');
}

/** The identity a workflow id was built from, or undefined if it is not a Holdline call's id. */
export function parseWorkflowId(workflowId: string): CallIdentity | undefined {
  const first = workflowId.indexOf('/');
  const second = first < 0 ? -1 : workflowId.indexOf('/', first + 1);
  if (first <= 0 || second <= first + 1 || second === workflowId.length - 1) return undefined;
  let userId: string;
  try {
    userId = decodeURIComponent(workflowId.slice(first + 1, second));
  } catch {
    return undefined;
  }
  return { tenantId: workflowId.slice(0, first), userId, callId: workflowId.slice(second + 1), workflowId };
}

export function fingerprintOf(spec: ToolSpec, args: Record<string, unknown>): string {
  return createHash('sha256').update(`${spec.name}\n${spec.version}\n${canonicalJson(args)}`).digest('hex');
}

/** JSON with object keys sorted at every depth, so equal arguments hash equal. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
