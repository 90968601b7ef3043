// One process of the multi-process store test: refunds order A-1005 under fresh keys, pausing
// between the steps so that other processes' transactions land in between. Prints what it did.
// Arguments: <store path, or a postgres:// URL> <key prefix> <attempts>.
import { setTimeout as delay } from 'node:timers/promises';
import { PostgresOrderStore } from '../../examples/support-desk/postgres-store';
import { OrderStore, type SupportStore } from '../../examples/support-desk/store';

async function main(): Promise<void> {
  const [path, prefix, attempts] = process.argv.slice(2);
  const store: SupportStore = path!.startsWith('postgres://') ? await PostgresOrderStore.open(path!) : new OrderStore(path!);
  const did = { reserved: 0, refused: 0, paid_cents: 0, released: 0 };
  for (let i = 0; i < Number(attempts); i++) {
    const key = `acme/alice/${prefix}-${i}`;
    const reserved = await store.reserveRefund('acme', 'A-1005', 1 + Math.floor(Math.random() * 2_745), key);
    if (!('reserved' in reserved)) {
      did.refused++;
      continue;
    }
    did.reserved++;
    await delay(Math.random() * 3);
    if (Math.random() < 0.2) {
      await store.releaseReservation('acme', key);
      did.released++;
      continue;
    }
    const payment = await store.providerRefund('acme', 'A-1005', reserved.reserved.amount_cents, key);
    if (payment === 'no-reservation') throw new Error(`the provider refused ${key}, which holds a reservation`);
    await delay(Math.random() * 3);
    await store.recordRefund('acme', payment);
    did.paid_cents += payment.amount_cents;
  }
  await store.close();
  process.stdout.write(`${JSON.stringify(did)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
