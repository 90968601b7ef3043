import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { Principal } from '../gateway';
import { GatewayRejection, parseWorkflowId, realtimeKeyPrefix } from '../gateway';
import type { CallMemo } from '../gateway/temporal-calls';
import { searchAttributes } from '../workflows/messages';
import { RealtimeSession, type RestoredCall, type SessionServices } from './realtime-session';

const SESSION_ID = /^sess_[A-Za-z0-9]{8,64}$/;

/**
 * The sessions of this server, and their resume window. A session a client
 * left stays here for `resumeWindowMs`; one this server never had (it
 * restarted, or another server ran it) is rebuilt from Temporal, where every
 * call carries its session as a search attribute.
 */
export class SessionStore {
  private readonly sessions = new Map<string, { session: RealtimeSession; expiry?: NodeJS.Timeout }>();

  constructor(
    private readonly services: SessionServices,
    private readonly temporal: Client,
    readonly resumeWindowMs: number,
  ) {}

  /** A new session, or the one the client asks to resume (its own only). */
  async open(principal: Principal, resumeId: string | undefined): Promise<{ session: RealtimeSession; resumed: boolean }> {
    if (!resumeId) {
      const session = new RealtimeSession(`sess_${randomBytes(12).toString('hex')}`, principal, this.services);
      this.sessions.set(session.id, { session });
      return { session, resumed: false };
    }
    if (!SESSION_ID.test(resumeId)) throw new GatewayRejection('INVALID_ARGUMENTS', 'session_id is not a Holdline session id');
    const held = this.sessions.get(resumeId);
    if (held) {
      const owner = held.session.principal;
      if (owner.tenantId !== principal.tenantId || owner.userId !== principal.userId) {
        throw new GatewayRejection('FORBIDDEN', 'This session belongs to someone else');
      }
      if (held.session.connected) throw new GatewayRejection('IDEMPOTENCY_CONFLICT', 'This session already has a client connected', { httpStatus: 409 });
      clearTimeout(held.expiry);
      delete held.expiry;
      return { session: held.session, resumed: true };
    }
    const session = new RealtimeSession(resumeId, principal, this.services);
    session.restore(await this.callsInTemporal(principal, resumeId));
    this.sessions.set(resumeId, { session });
    return { session, resumed: true };
  }

  /** The client left: keep the session for the resume window, then let it go. */
  release(session: RealtimeSession): void {
    const held = this.sessions.get(session.id);
    if (!held) return;
    clearTimeout(held.expiry);
    held.expiry = setTimeout(() => {
      session.dispose();
      this.sessions.delete(session.id);
    }, this.resumeWindowMs);
    held.expiry.unref();
  }

  close(): void {
    for (const { session, expiry } of this.sessions.values()) {
      clearTimeout(expiry);
      session.dispose();
    }
    this.sessions.clear();
  }

  /** The session's calls still running, or closed within the resume window, by this principal. */
  private async callsInTemporal(principal: Principal, sessionId: string): Promise<RestoredCall[]> {
    const query = `${searchAttributes.session.name} = "${sessionId}" AND ${searchAttributes.tenant.name} = "${principal.tenantId}"`;
    const keyPrefix = realtimeKeyPrefix(sessionId);
    const since = Date.now() - this.resumeWindowMs;
    const calls: RestoredCall[] = [];
    for await (const info of this.temporal.workflow.list({ query })) {
      const memo = info.memo as unknown as CallMemo | undefined;
      const identity = parseWorkflowId(info.workflowId);
      if (!memo || !identity || identity.tenantId !== principal.tenantId || identity.userId !== principal.userId) continue;
      const { callId } = identity;
      if (!callId.startsWith(keyPrefix)) continue;
      if (info.status.name !== 'RUNNING' && (info.closeTime?.getTime() ?? 0) < since) continue;
      const tool = info.typedSearchAttributes.get(searchAttributes.tool) ?? '';
      calls.push({ modelCallId: callId.slice(keyPrefix.length), ref: { call_id: callId, workflow_id: info.workflowId, trace_id: memo.trace_id, tool } });
    }
    return calls;
  }
}
