import { randomBytes } from 'node:crypto';
import type { Principal } from '../gateway';
import { GatewayRejection } from '../gateway';
import { RealtimeSession, type SessionServices } from './realtime-session';
import type { SessionRecords } from './records';

const SESSION_ID = /^sess_[A-Za-z0-9]{8,64}$/;

/** A session this user cannot resume: it never existed, has no trace left, or is someone else's. */
function unknownSession(): GatewayRejection {
  return new GatewayRejection('INVALID_ARGUMENTS', 'No realtime session with this session_id to resume; open a new session', { httpStatus: 404 });
}

export interface SessionStoreOptions {
  /** How long a session waits for its client to come back. */
  resumeWindowMs: number;
  /** Sessions one user may have attached (connected or connecting) on this server at once. */
  maxSessionsPerUser: number;
}

interface Held {
  session: RealtimeSession;
  /** A client holds the session, or an upgrade for one is under way: nobody else may attach. */
  attached: boolean;
  /** Never had a client: a failed upgrade forgets it at once instead of keeping it for a resume. */
  fresh: boolean;
  expiry?: NodeJS.Timeout;
  /** Provider calls (sideband) this session attached to, and whether it holds the claim (else shares it). */
  providerCalls: Map<string, boolean>;
}

/**
 * The sessions of this server, and their resume window. A session a client
 * left stays here for `resumeWindowMs`; one this server never had (it
 * restarted, or another server ran it) is rebuilt from its records, where every
 * call carries its session and the ledger lists the results already delivered.
 *
 * Attaching is decided synchronously in `open()`, before its first await, so
 * of two concurrent resumes of one session exactly one wins; the other is
 * refused with 409 until the winner lets go (`release` or `abandon`).
 */
export class SessionStore {
  private readonly sessions = new Map<string, Held>();
  private readonly renewals: NodeJS.Timeout;

  constructor(
    private readonly services: SessionServices,
    private readonly records: SessionRecords,
    readonly options: SessionStoreOptions,
  ) {
    // A provider call claim ends a resume window after its last renewal: renew well within it.
    this.renewals = setInterval(() => this.renewProviderCalls(), Math.max(1_000, Math.floor(options.resumeWindowMs / 3)));
    this.renewals.unref();
  }

  get resumeWindowMs(): number {
    return this.options.resumeWindowMs;
  }

  /** Sessions this server holds, attached or waiting for a resume. */
  get size(): number {
    return this.sessions.size;
  }

  /** Sessions of this user with a client attached or attaching. */
  attachedOf(owner: Pick<Principal, 'tenantId' | 'userId'>): number {
    let count = 0;
    for (const held of this.sessions.values()) if (held.attached && sameOwner(held.session.principal, owner)) count++;
    return count;
  }

  /** A new session, or the one the client asks to resume (its own only), attached to the caller. */
  async open(principal: Principal, resumeId: string | undefined): Promise<{ session: RealtimeSession; resumed: boolean }> {
    if (resumeId !== undefined && !SESSION_ID.test(resumeId)) throw new GatewayRejection('INVALID_ARGUMENTS', 'session_id is not a Holdline session id');
    const held = resumeId ? this.sessions.get(resumeId) : undefined;
    // Someone else's session answers exactly as one that does not exist.
    if (held && !sameOwner(held.session.principal, principal)) throw unknownSession();
    if (held?.attached) throw new GatewayRejection('IDEMPOTENCY_CONFLICT', 'This session already has a client connected', { httpStatus: 409 });
    if (this.attachedOf(principal) >= this.options.maxSessionsPerUser) {
      throw new GatewayRejection('RATE_LIMITED', `At most ${this.options.maxSessionsPerUser} realtime sessions per user at once; close one first`, {
        retryAfterMs: 1_000,
      });
    }
    if (held) {
      clearTimeout(held.expiry);
      delete held.expiry;
      held.attached = true;
      return { session: held.session, resumed: true };
    }
    if (!resumeId) {
      const session = new RealtimeSession(`sess_${randomBytes(12).toString('hex')}`, principal, this.services);
      this.sessions.set(session.id, { session, attached: true, fresh: true, providerCalls: new Map() });
      return { session, resumed: false };
    }
    // Held before the first await: a concurrent resume of the same id meets it attached.
    const session = new RealtimeSession(resumeId, principal, this.services);
    this.sessions.set(resumeId, { session, attached: true, fresh: false, providerCalls: new Map() });
    try {
      const [listed, ledger] = await Promise.all([this.records.callsOf(principal, resumeId, Date.now() - this.options.resumeWindowMs), this.records.ledgerOf(resumeId)]);
      // The ledger has every call recorded once Temporal took it; the listing adds any whose record was lost in a crash.
      const calls = [...new Map([...listed, ...ledger.calls].map((call) => [call.modelCallId, call])).values()];
      if (ledger.owner ? !sameOwner(ledger.owner, principal) : calls.length === 0) throw unknownSession();
      session.restore(calls, ledger.delivered);
    } catch (error) {
      session.dispose();
      this.sessions.delete(resumeId);
      throw error;
    }
    return { session, resumed: true };
  }

  /** Notes a provider call the session attached to; `claimed` when the session owns the claim. */
  holdProviderCall(session: RealtimeSession, providerCallId: string, claimed: boolean): void {
    this.sessions.get(session.id)?.providerCalls.set(providerCallId, claimed);
  }

  /** The client left: keep the session for the resume window, then let it go. */
  release(session: RealtimeSession): void {
    const held = this.sessions.get(session.id);
    if (!held || held.session !== session) return;
    held.attached = false;
    held.fresh = false;
    clearTimeout(held.expiry);
    held.expiry = setTimeout(() => this.forget(held), this.options.resumeWindowMs);
    held.expiry.unref();
  }

  /**
   * The upgrade failed before a client attached: a new session is forgotten
   * at once (nothing stays behind); a resumed one goes back to its window.
   */
  abandon(session: RealtimeSession): void {
    const held = this.sessions.get(session.id);
    if (!held || held.session !== session) return;
    if (held.fresh) this.forget(held);
    else this.release(session);
  }

  /** Forgets every session and lets the records' writes under way settle. */
  async close(): Promise<void> {
    clearInterval(this.renewals);
    for (const held of this.sessions.values()) {
      clearTimeout(held.expiry);
      held.session.dispose();
    }
    this.sessions.clear();
    await this.records.flush();
  }

  private forget(held: Held): void {
    clearTimeout(held.expiry);
    held.session.dispose();
    this.sessions.delete(held.session.id);
    for (const [providerCallId, claimed] of held.providerCalls) if (claimed) this.records.releaseProviderCall(providerCallId);
  }

  private renewProviderCalls(): void {
    for (const held of this.sessions.values()) {
      for (const providerCallId of held.providerCalls.keys()) {
        this.records.claimProviderCall(providerCallId, held.session.principal, held.session.id).then(
          (claim) => {
            if (claim !== 'refused') held.providerCalls.set(providerCallId, claim === 'claimed');
          },
          () => undefined,
        );
      }
    }
  }
}

function sameOwner(a: Pick<Principal, 'tenantId' | 'userId'>, b: Pick<Principal, 'tenantId' | 'userId'>): boolean {
  return a.tenantId === b.tenantId && a.userId === b.userId;
}
