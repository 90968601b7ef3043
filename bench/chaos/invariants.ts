import { TENANT, type Cluster } from './cluster';
import type { ObservedCall } from './calls';

/** What one trial counted, and each invariant it saw broken (empty when it passed). */
export interface TrialOutcome {
  calls: number;
  /** Payments the provider made for the trial's orders. */
  sideEffects: number;
  /** Calls that ended with a final envelope. */
  terminalEnvelopes: number;
  /** Calls without one. */
  lost: number;
  /** Extra terminal events delivered for a call, plus extra payments under one key. */
  duplicated: number;
  /** How the calls that did not end ok ended, e.g. `TOOL_FAILED/REFUND_EXCEEDS_BALANCE`. */
  errorKinds?: string[];
  failures: string[];
}

const STREAM_STATUS: Record<string, string> = { completed: 'ok', failed: 'error', cancelled: 'error' };

/**
 * The invariants every trial checks, once all its calls have ended:
 * - nothing lost: every call has a final envelope;
 * - exactly one terminal event on every stream followed, agreeing with the final envelope;
 * - exactly one payment per key whose call ended ok, none for a call that ended in error;
 * - no order refunded more than its total, and the ledger agrees with the provider.
 * Each failure names the invariant, the call and its key.
 */
export function checkTrial(cluster: Cluster, calls: readonly ObservedCall[], orderIds: readonly string[], failures: string[] = []): TrialOutcome {
  let terminalEnvelopes = 0;
  let lost = 0;
  let duplicated = 0;
  const what = (call: ObservedCall) => `${call.label} [key ${call.workflowId ?? 'unknown'}]`;
  const notes = (call: ObservedCall) => (call.notes.length ? ` (${call.notes.join('; ')})` : '');

  for (const call of calls) {
    if (call.final) terminalEnvelopes++;
    else {
      lost++;
      failures.push(`lost: ${what(call)} has no terminal envelope${notes(call)}`);
    }
    if (call.rejected) failures.push(`rejected: ${what(call)} answered ${call.rejections.join(', ')}`);

    if (call.streamTerminals) {
      const n = call.streamTerminals.length;
      if (n > 1) {
        duplicated += n - 1;
        failures.push(`duplicate envelope: ${what(call)} got ${n} terminal events (${call.streamTerminals.join(', ')})`);
      } else if (n === 0) failures.push(`silent stream: ${what(call)}'s event stream ended without a terminal event${notes(call)}`);
      const first = call.streamTerminals[0];
      if (first && call.final && STREAM_STATUS[first] !== call.final.status) {
        failures.push(`disagreeing envelopes: ${what(call)} streamed ${first} but its final envelope is ${call.final.status}`);
      }
    }

    if (call.refund && call.workflowId && call.final && !call.rejected) {
      const payments = cluster.store.countProviderRefunds({ idempotencyKey: call.workflowId });
      if (payments > 1) {
        duplicated += payments - 1;
        failures.push(`duplicate side effect: ${what(call)} moved money ${payments} times`);
      }
      if (call.final.status === 'ok' && payments === 0) failures.push(`phantom refund: ${what(call)} ended ok but the provider moved no money`);
      const amount = call.final.data?.amount_cents;
      if (call.final.status === 'ok' && typeof amount === 'number' && amount !== call.refund.amountCents) {
        failures.push(`wrong amount: ${what(call)} asked ${call.refund.amountCents} cents, its result says ${amount}`);
      }
      if (call.final.status === 'error' && payments > 0) {
        const type = (call.final.details as { type?: string } | undefined)?.type;
        failures.push(`money moved on failure: ${what(call)} ended ${call.final.error_code}${type ? `/${type}` : ''} but the provider moved its money`);
      }
    }
  }

  let sideEffects = 0;
  for (const orderId of orderIds) {
    const money = cluster.ledger.money(TENANT, orderId);
    sideEffects += money.payments.length;
    const paid = money.payments.reduce((sum, p) => sum + p.amountCents, 0);
    const recorded = money.refunds.reduce((sum, r) => sum + r.amountCents, 0);
    if (paid > money.totalCents) {
      failures.push(`over-refund: order ${orderId} holds ${money.totalCents} cents, the provider refunded ${paid} under ${money.payments.length} keys (${money.payments.map((p) => `${p.key}=${p.amountCents}`).join(', ')})`);
    }
    if (recorded !== money.refundedCents) failures.push(`ledger: order ${orderId} says ${money.refundedCents} cents refunded, its refund rows add up to ${recorded}`);
    const recordedKeys = new Set(money.refunds.map((r) => r.key));
    for (const payment of money.payments) {
      if (!recordedKeys.has(payment.key)) failures.push(`unrecorded payment: ${payment.amountCents} cents of order ${orderId} under key ${payment.key} moved but never reached the ledger`);
    }
  }
  const errorKinds = calls
    .filter((c) => c.final?.status === 'error')
    .map((c) => `${c.final!.error_code}${(c.final!.details as { type?: string } | undefined)?.type ? `/${(c.final!.details as { type: string }).type}` : ''}`);
  return { calls: calls.length, sideEffects, terminalEnvelopes, lost, duplicated, failures, ...(errorKinds.length ? { errorKinds } : {}) };
}
