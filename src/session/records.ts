import type { SessionCall } from '../contracts/tool-call';
import type { CallOwner } from '../gateway';

/** A call found again in Temporal when a session is rebuilt after a restart. */
export type RestoredCall = SessionCall;

/** What the session ledger holds: who owns the session, the calls it started, and whose results the model already has. */
export interface SessionLedger {
  /** Undefined when the session never recorded a call or a delivery (no ledger). */
  owner?: CallOwner;
  calls: readonly RestoredCall[];
  delivered: ReadonlySet<string>;
}

/** The first session to attach a provider call owns it; the same user may share it; anyone else is refused. */
export type ProviderCallClaim = 'claimed' | 'shared' | 'refused';

/**
 * What a session keeps outside this server's memory, so another server (or
 * this one after a restart) can take it up: its calls, the results it has
 * delivered, and the provider calls it owns. An interface, so the session
 * layer stays free of Temporal and unit tests can keep these in memory; the
 * runtime implements it on Temporal.
 */
export interface SessionRecords {
  /**
   * The session's calls by this owner, running or closed since `sinceMs` (epoch ms), found
   * through Temporal's visibility, which may not list a call started a moment ago: see `ledgerOf`.
   */
  callsOf(owner: CallOwner, sessionId: string, sinceMs: number): Promise<RestoredCall[]>;
  ledgerOf(sessionId: string): Promise<SessionLedger>;
  /** Records a call Temporal has (started, or found running), so a rebuild finds it at once; never throws (a failure is logged). */
  recordCall(sessionId: string, owner: CallOwner, call: RestoredCall): void;
  /** Records that the model has a call's result; never throws (a failure is logged). */
  recordDelivery(sessionId: string, owner: CallOwner, modelCallId: string): void;
  /** Claims, shares or is refused a provider call; renewing an owned claim is claiming it again. */
  claimProviderCall(providerCallId: string, owner: CallOwner, sessionId: string): Promise<ProviderCallClaim>;
  /** The owning session is gone; never throws. */
  releaseProviderCall(providerCallId: string): void;
  /** Resolves once the writes under way have settled. */
  flush(): Promise<void>;
}
