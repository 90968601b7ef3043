import { createHash, randomUUID } from 'node:crypto';
import type { ToolSpec } from '../contracts/tool-spec';
import { GatewayRejection } from './rejection';

/**
 * A call's identity. The idempotency key is the call id callers see; the
 * workflow id is the key namespaced by tenant, so two tenants can never share
 * a workflow. The fingerprint tells a true duplicate (attach to it) from a
 * reused key (conflict), as Stripe's idempotency keys do.
 */
export interface CallIdentity {
  callId: string;
  workflowId: string;
  fingerprint: string;
}

const KEY = /^[\x21-\x7e]{1,200}$/;

/** Where a key comes from: the caller's header, a realtime model's call id, or nowhere (a fresh one). */
export type KeySource =
  | { kind: 'explicit'; key: string }
  | { kind: 'realtime'; sessionId: string; modelCallId: string }
  | { kind: 'none' };

export function idempotencyKeyOf(source: KeySource): string {
  switch (source.kind) {
    case 'explicit':
      if (!KEY.test(source.key)) {
        throw new GatewayRejection('INVALID_ARGUMENTS', 'Idempotency-Key must be 1–200 printable ASCII characters without spaces');
      }
      return source.key;
    case 'realtime':
      return `rt-${source.sessionId}-${source.modelCallId}`;
    case 'none':
      return `call-${randomUUID()}`;
  }
}

export function workflowIdOf(tenantId: string, callId: string): string {
  return `${tenantId}/${callId}`;
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
