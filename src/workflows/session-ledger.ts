import { condition, continueAsNew, defineQuery, defineSignal, setHandler, workflowInfo } from '@temporalio/workflow';
import type { SessionCall } from '../contracts/tool-call';

/**
 * Two small records a realtime session keeps in Temporal, so that what one
 * server knows of a session survives it and any other server can read it.
 *
 * The session ledger (`session-ledger/<session id>`) lists the calls the
 * session started and the model call ids whose result it has delivered to the
 * model. A server records each call once Temporal has it, and each delivery,
 * with signal-with-start; a server that rebuilds the session after a restart
 * reads both and announces only the results not delivered. The calls are also
 * found through Temporal's visibility (each carries its session as a search
 * attribute), but visibility lags behind a start, by seconds on a busy server:
 * a rebuild right after a crash could miss a call there, never in the ledger. The signals are the
 * ledger's truth: they are durable once Temporal accepts them, with or without
 * a worker, and a reader may take them from the history (no worker needed) or
 * from `deliveredQuery`. The ledger ends after `idleMs` without a signal. That
 * loses nothing a reader needs as long as `idleMs` exceeds the resume window:
 * a session is rebuilt only with calls running or closed within the window,
 * and a call is delivered after it closes, so every delivery a rebuild can
 * meet was signalled within the window, to the run that is still open (a later
 * signal-with-start opens a fresh run).
 *
 * The provider call claim (`provider-call/<provider call id>`) makes the first
 * session that attaches to a provider's call (sideband) its owner: starting the
 * workflow is the atomic claim, its memo names the owner, and it lives while
 * the owning session renews it (`renewSignal`), ending `ttlMs` after the last
 * renewal or at once on `releaseSignal`.
 */

export const SESSION_LEDGER_WORKFLOW = 'sessionLedgerWorkflow';
export const PROVIDER_CALL_CLAIM_WORKFLOW = 'providerCallClaimWorkflow';

export interface SessionLedgerInput {
  tenantId: string;
  userId: string;
  /** How long the ledger stays open after its last signal; longer than the resume window. */
  idleMs: number;
  /** Deliveries carried over from the previous run (continue-as-new). */
  delivered?: string[];
  /** Calls carried over from the previous run (continue-as-new). */
  calls?: SessionCall[];
}


export interface ProviderCallClaimInput {
  tenantId: string;
  userId: string;
  sessionId: string;
  ttlMs: number;
}

/** A result (by the model's call id) reached the model. */
export const deliveredSignal = defineSignal<[string]>('delivered');
/** The session started a call: Temporal has its workflow. */
export const startedSignal = defineSignal<[SessionCall]>('started');
export const deliveredQuery = defineQuery<string[]>('delivered');
export const renewSignal = defineSignal('renew');
export const releaseSignal = defineSignal('release');

export const sessionLedgerId = (sessionId: string): string => `session-ledger/${sessionId}`;
export const providerCallClaimId = (providerCallId: string): string => `provider-call/${encodeURIComponent(providerCallId)}`;

export async function sessionLedgerWorkflow(input: SessionLedgerInput): Promise<void> {
  const delivered = new Set(input.delivered ?? []);
  const calls = new Map((input.calls ?? []).map((call) => [call.modelCallId, call]));
  let signals = 0;
  setHandler(deliveredSignal, (callId) => {
    delivered.add(callId);
    signals++;
  });
  setHandler(startedSignal, (call) => {
    calls.set(call.modelCallId, call);
    signals++;
  });
  setHandler(deliveredQuery, () => [...delivered]);
  for (;;) {
    const seen = signals;
    if (!(await condition(() => signals !== seen, input.idleMs))) return;
    if (workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof sessionLedgerWorkflow>({ ...input, delivered: [...delivered], calls: [...calls.values()] });
    }
  }
}

export async function providerCallClaimWorkflow(input: ProviderCallClaimInput): Promise<void> {
  let renewals = 0;
  let released = false;
  setHandler(renewSignal, () => {
    renewals++;
  });
  setHandler(releaseSignal, () => {
    released = true;
  });
  for (;;) {
    const seen = renewals;
    const woke = await condition(() => released || renewals !== seen, input.ttlMs);
    if (!woke || released) return;
  }
}
