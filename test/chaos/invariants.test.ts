import { newCall, type ObservedCall } from '../../bench/chaos/calls';
import type { Cluster } from '../../bench/chaos/cluster';
import { checkTrial } from '../../bench/chaos/invariants';
import type { OrderMoney } from '../../bench/chaos/ledger';

/** A cluster whose ledger holds exactly `money` and whose provider paid `payments` per key. */
function fakeCluster(money: OrderMoney): Cluster {
  const count = (key?: string) => money.payments.filter((p) => p.key === key).length;
  return {
    store: { countProviderRefunds: ({ idempotencyKey }: { idempotencyKey?: string }) => count(idempotencyKey) },
    ledger: { money: () => money },
  } as unknown as Cluster;
}

const refund = (label: string, key: string, status: 'ok' | 'error', stream?: string[]): ObservedCall => ({
  ...newCall(label, { orderId: 'C-1', amountCents: 100 }),
  workflowId: key,
  final: status === 'ok' ? { status, data: { amount_cents: 100 } } : { status, error_code: 'TOOL_FAILED' },
  ...(stream ? { streamTerminals: stream } : {}),
});

describe('the chaos invariants', () => {
  it('pass a call that ended once, paid once and was recorded', () => {
    const cluster = fakeCluster({ totalCents: 500, refundedCents: 100, payments: [{ key: 'k1', amountCents: 100 }], refunds: [{ key: 'k1', amountCents: 100 }] });
    const outcome = checkTrial(cluster, [refund('one', 'k1', 'ok', ['completed'])], ['C-1']);
    expect(outcome).toEqual({ calls: 1, sideEffects: 1, terminalEnvelopes: 1, lost: 0, duplicated: 0, failures: [] });
  });

  it('name the key of a lost call, a duplicated envelope and money moved on failure', () => {
    const cluster = fakeCluster({
      totalCents: 500,
      refundedCents: 200,
      payments: [
        { key: 'k1', amountCents: 100 },
        { key: 'k2', amountCents: 100 },
      ],
      refunds: [
        { key: 'k1', amountCents: 100 },
        { key: 'k2', amountCents: 100 },
      ],
    });
    const lost = { ...newCall('lost one'), workflowId: 'k3' };
    const outcome = checkTrial(cluster, [refund('twice', 'k1', 'ok', ['completed', 'completed']), refund('failed', 'k2', 'error'), lost], ['C-1']);
    expect(outcome).toMatchObject({ calls: 3, lost: 1, duplicated: 1, terminalEnvelopes: 2 });
    expect(outcome.failures).toEqual([
      'duplicate envelope: twice [key k1] got 2 terminal events (completed, completed)',
      'money moved on failure: failed [key k2] ended TOOL_FAILED but the provider moved its money',
      'lost: lost one [key k3] has no terminal envelope',
    ]);
  });

  it('catch an order refunded past its total and a payment the ledger never recorded', () => {
    const cluster = fakeCluster({
      totalCents: 150,
      refundedCents: 100,
      payments: [
        { key: 'k1', amountCents: 100 },
        { key: 'k2', amountCents: 100 },
      ],
      refunds: [{ key: 'k1', amountCents: 100 }],
    });
    const outcome = checkTrial(cluster, [refund('a', 'k1', 'ok'), refund('b', 'k2', 'ok')], ['C-1']);
    expect(outcome.failures).toEqual([
      'over-refund: order C-1 holds 150 cents, the provider refunded 200 under 2 keys (k1=100, k2=100)',
      'unrecorded payment: 100 cents of order C-1 under key k2 moved but never reached the ledger',
    ]);
  });
});
