import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CancelledFailure } from '@temporalio/activity';
import fc from 'fast-check';
import { startLocalPostgres, type LocalPostgres } from '../../src/cluster/postgres-server';
import { ToolFailure } from '../../src/contracts/errors';
import type { ToolContext } from '../../src/contracts/tool-spec';
import { PostgresOrderStore } from '../../examples/support-desk/postgres-store';
import { refundOrderHandler } from '../../examples/support-desk/refund-order';
import { OrderStore, type OrderStoreOptions, type SupportStore } from '../../examples/support-desk/store';
import { freePort } from '../support/ports';

let dir: string;
let postgres: LocalPostgres;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'holdline-store-'));
  chmodSync(dir, 0o755); // PostgreSQL runs as its own user when the tests run as root
  postgres = await startLocalPostgres({ port: await freePort(), dir: join(dir, 'postgres') });
}, 60_000);
afterAll(async () => {
  await postgres?.stop();
  rmSync(dir, { recursive: true, force: true });
});

let files = 0;
/** The same specification runs on both stores; `count` stores on one fresh file or database, as that many workers would open it. */
const kinds = [
  {
    kind: 'SQLite',
    propertyRuns: 100,
    open: async (count: number, options: OrderStoreOptions = {}): Promise<SupportStore[]> => {
      const path = join(dir, `orders-${++files}.sqlite`);
      return Array.from({ length: count }, () => new OrderStore(path, options));
    },
  },
  {
    kind: 'PostgreSQL',
    // Each run creates a database: fewer runs, the same interleavings code.
    propertyRuns: 12,
    open: async (count: number, options: OrderStoreOptions = {}): Promise<SupportStore[]> => {
      const url = await postgres.createDatabase(`orders_${process.pid}_${++files}`);
      const stores: SupportStore[] = [];
      for (let i = 0; i < count; i++) stores.push(await PostgresOrderStore.open(url, { ...options, maxConnections: 3 }));
      return stores;
    },
  },
];
const closeAll = (stores: SupportStore[]) => Promise.all(stores.map((store) => store.close()));
const key = (name: string) => `acme/alice/${name}`;

describe.each(kinds)('$kind store', ({ open: storesOnOneFile, propertyRuns }) => {
  describe('refunds', () => {
    it('reserves a balance once: 70% refunds under three keys, through three stores, leave two refused', async () => {
      const stores = await storesOnOneFile(3);
      const total = (await stores[0]!.findOrder('acme', 'A-1003'))!.total_cents;
      const amount = Math.round(total * 0.7);
      const results = await Promise.all(stores.map(async (store, i) => store.reserveRefund('acme', 'A-1003', amount, key(`r${i}`))));
      expect(results.filter((r) => 'reserved' in r)).toHaveLength(1);
      expect(results.filter((r) => 'refused' in r && r.refused === 'exceeds-balance')).toHaveLength(2);
      expect(await stores[2]!.refundAccount('acme', 'A-1003')).toMatchObject({ reserved_cents: amount, refunded_cents: 0, provider_count: 0 });
      await closeAll(stores);
    });

    it('gives a key its own reservation back without a second balance check', async () => {
      const [a, b] = await storesOnOneFile(2);
      const first = await a!.reserveRefund('acme', 'A-1004', undefined, key('all'));
      const again = await b!.reserveRefund('acme', 'A-1004', undefined, key('all'));
      expect(first).toEqual({ reserved: { idempotency_key: key('all'), order_id: 'A-1004', amount_cents: 2_700 } });
      expect(again).toEqual(first);
      expect(await b!.reserveRefund('acme', 'A-1004', 1, key('other'))).toEqual({ refused: 'nothing-to-refund' });
      await closeAll([a!, b!]);
    });

    it('has the provider move money only under a live reservation of that key, order and amount', async () => {
      let now = 1_000_000;
      const [store] = await storesOnOneFile(1, { reservationTtlMs: 60_000, now: () => now });
      expect(await store!.providerRefund('acme', 'A-1003', 500, key('none'))).toBe('no-reservation');
      await store!.reserveRefund('acme', 'A-1003', 500, key('held'));
      expect(await store!.providerRefund('acme', 'A-1003', 600, key('held'))).toBe('no-reservation');
      expect(await store!.providerRefund('acme', 'A-1002', 500, key('held'))).toBe('no-reservation');
      now += 60_000;
      expect(await store!.providerRefund('acme', 'A-1003', 500, key('held'))).toBe('no-reservation');
      expect(await store!.countProviderRefunds()).toBe(0);
      // An expired reservation holds nothing: the balance is whole again, and the key may reserve anew.
      expect((await store!.refundAccount('acme', 'A-1003'))!.reserved_cents).toBe(0);
      expect('reserved' in (await store!.reserveRefund('acme', 'A-1003', 500, key('held')))).toBe(true);
      expect(await store!.providerRefund('acme', 'A-1003', 500, key('held'))).toMatchObject({ amount_cents: 500 });
      await closeAll([store!]);
    });

    it('keeps money the provider moved held until it is recorded, expired or not, and never releases it', async () => {
      let now = 1_000_000;
      const [store] = await storesOnOneFile(1, { reservationTtlMs: 1_000, now: () => now });
      await store!.reserveRefund('acme', 'A-1004', 2_000, key('paid'));
      const payment = await store!.providerRefund('acme', 'A-1004', 2_000, key('paid'));
      now += 10_000;
      expect(await store!.releaseReservation('acme', key('paid'), { voidKey: true })).toEqual(payment);
      expect(await store!.reserveRefund('acme', 'A-1004', 1_000, key('late'))).toEqual({ refused: 'exceeds-balance', balanceCents: 700 });
      expect(await store!.reserveRefund('acme', 'A-1004', 500, key('paid'))).toEqual({ paid: payment });

      await store!.recordRefund('acme', payment as Exclude<typeof payment, 'no-reservation'>);
      await store!.recordRefund('acme', payment as Exclude<typeof payment, 'no-reservation'>);
      expect(await store!.refundAccount('acme', 'A-1004')).toEqual({
        total_cents: 2_700,
        refunded_cents: 2_000,
        reserved_cents: 0,
        provider_cents: 2_000,
        provider_count: 1,
        ledger_cents: 2_000,
        ledger_count: 1,
      });
      await closeAll([store!]);
    });

    it('closes a voided key for good: no reservation, no payment, no cancellation under it', async () => {
      const [store] = await storesOnOneFile(1);
      await store!.reserveRefund('acme', 'A-1003', 300, key('void'));
      expect(await store!.releaseReservation('acme', key('void'), { voidKey: true })).toBe('released');
      expect(await store!.providerRefund('acme', 'A-1003', 300, key('void'))).toBe('no-reservation');
      expect(await store!.reserveRefund('acme', 'A-1003', 300, key('void'))).toEqual({ refused: 'voided' });
      expect(await store!.settleCancellation('acme', key('cancel'))).toBe('nothing-committed');
      expect(await store!.cancelOrder('acme', 'A-1001', key('cancel'))).toBe('voided');
      expect((await store!.findOrder('acme', 'A-1001'))!.state).toBe('placed');
      await closeAll([store!]);
    });

    it('settles a cancellation that happened as that cancellation', async () => {
      const [store] = await storesOnOneFile(1);
      const done = await store!.cancelOrder('acme', 'A-1001', key('c'));
      expect(await store!.settleCancellation('acme', key('c'))).toEqual(done);
      await closeAll([store!]);
    });
  });

  /**
   * The real refund handler, many calls of a few orders at once, on several
   * stores of one file, in orders fast-check chooses. An attempt may complete,
   * be cancelled at one of its waits, or stall there as if its worker died (it
   * resumes, a zombie, after every call has answered). A call whose attempts
   * left its outcome unknown gets a settle attempt, as the workflow gives it.
   */
  describe('refunds under interleavings, cancels, stalled attempts and settling', () => {
    type Fate = { kind: 'complete' } | { kind: 'cancel' | 'stall'; at: number };
    const fate: fc.Arbitrary<Fate> = fc.oneof(
      fc.constant<Fate>({ kind: 'complete' }),
      fc.record({ kind: fc.constantFrom('cancel' as const, 'stall' as const), at: fc.integer({ min: 1, max: 4 }) }),
    );
    const call = fc.record({
      order: fc.constantFrom('A-1004', 'G-2005'),
      amount: fc.option(fc.integer({ min: 1, max: 2_000 }), { nil: undefined }),
      attempts: fc.array(fc.record({ fate, store: fc.nat(2) }), { minLength: 1, maxLength: 3 }),
      settleStore: fc.nat(2),
    });
    const tenantOf = (order: string) => (order.startsWith('A') ? 'acme' : 'globex');

    it('never moves more than an order holds, and a call answers ok exactly when its money moved', async () => {
      await fc.assert(
        fc.asyncProperty(fc.scheduler(), fc.array(call, { minLength: 2, maxLength: 6 }), async (s, calls) => {
          const stores = await storesOnOneFile(3);
          const observer = stores[0]!;
          let reopen!: () => void;
          const zombiesMayResume = new Promise<void>((resolve) => (reopen = resolve));
          const zombies: Promise<unknown>[] = [];
          const violations: string[] = [];

          const checkMoney = async () => {
            for (const [tenant, order] of [['acme', 'A-1004'], ['globex', 'G-2005']] as const) {
              const a = (await observer.refundAccount(tenant, order))!;
              if (a.provider_cents > a.total_cents || a.refunded_cents + a.reserved_cents > a.total_cents || a.ledger_cents !== a.refunded_cents) {
                violations.push(`${order}: ${JSON.stringify(a)}`);
              }
            }
          };

          const runCall = async (c: (typeof calls)[number], index: number): Promise<'ok' | 'error'> => {
            const tenantId = tenantOf(c.order);
            const contextOf = (f: Fate, settling: boolean, stalled: () => void): { ctx: ToolContext; pause: (ms: number) => Promise<void> } => {
              let waits = 0;
              const wait = async (cancellable: boolean) => {
                const n = ++waits;
                await s.schedule(Promise.resolve(), `call ${index}`);
                await checkMoney();
                if (f.kind === 'stall' && n === f.at) {
                  stalled();
                  await zombiesMayResume;
                }
                if (cancellable && f.kind === 'cancel' && n === f.at) throw new CancelledFailure('CANCELLED');
              };
              const ctx: ToolContext = {
                callId: `call-${index}`,
                idempotencyKey: `${tenantId}/alice/call-${index}`,
                traceId: `trace-${index}`,
                tenantId,
                userId: 'alice',
                sessionId: 's',
                settling,
                attempt: 1,
                signal: new AbortController().signal,
                progress: () => undefined,
                sleep: () => wait(true),
              };
              return { ctx, pause: () => wait(false) };
            };
            const attempt = (f: Fate, storeIndex: number, settling: boolean) => {
              let stalled!: () => void;
              const stall = new Promise<'stalled'>((resolve) => (stalled = () => resolve('stalled')));
              const { ctx, pause } = contextOf(f, settling, stalled);
              const handler = refundOrderHandler(stores[storeIndex]!, { stageMs: 1, progressEveryMs: 1, pause });
              const run = handler({ order_id: c.order, reason: 'property test', ...(c.amount ? { amount_cents: c.amount } : {}) }, ctx);
              const settled = run.then(
                () => 'ok' as const,
                (error: unknown) => error,
              );
              return Promise.race([settled, stall]).then((outcome) => {
                if (outcome === 'stalled') zombies.push(settled);
                return outcome;
              });
            };

            let unknown = false;
            for (const { fate: f, store } of c.attempts) {
              const outcome = await attempt(f, store, false);
              if (outcome === 'ok') return 'ok';
              if (outcome === 'stalled') unknown = true;
              else if (outcome instanceof ToolFailure && outcome.retryable) continue;
              else if (outcome instanceof ToolFailure || outcome instanceof CancelledFailure) break;
              else throw outcome;
            }
            if (!unknown) return 'error';
            const settled = await attempt({ kind: 'complete' }, c.settleStore, true);
            if (settled === 'ok') return 'ok';
            if (!(settled instanceof ToolFailure)) throw settled;
            return 'error';
          };

          try {
            const answers = await s.waitFor(Promise.all(calls.map(runCall)));
            reopen();
            await s.waitFor(Promise.all(zombies));
            await checkMoney();
            expect(violations).toEqual([]);
            for (const [index, answer] of answers.entries()) {
              const tenantId = tenantOf(calls[index]!.order);
              const k = `${tenantId}/alice/call-${index}`;
              const provider = await observer.countProviderRefunds({ idempotencyKey: k });
              const ledger = await observer.findRefund(tenantId, k);
              if (answer === 'ok') {
                expect([provider, ledger?.amount_cents !== undefined]).toEqual([1, true]);
              } else {
                expect([provider, ledger]).toEqual([0, undefined]);
              }
            }
            for (const [tenant, order] of [['acme', 'A-1004'], ['globex', 'G-2005']] as const) {
              const a = (await observer.refundAccount(tenant, order))!;
              expect(a.reserved_cents).toBe(0);
              expect(a.provider_cents).toBe(a.ledger_cents);
              expect(a.provider_count).toBe(a.ledger_count);
            }
          } finally {
            reopen();
            await closeAll(stores);
          }
        }),
        { numRuns: propertyRuns },
      );
    }, 60_000);
  });
});

describe('refunds from several processes on one file', () => {
  it('never reserve, pay or record more than the order holds', async () => {
    const path = join(dir, 'hammered.sqlite');
    new OrderStore(path).close();
    const script = join(__dirname, '../support/store-hammer.ts');
    type Did = { reserved: number; refused: number; paid_cents: number; released: number };
    const runs = Array.from(
      { length: 4 },
      (_, i) =>
        new Promise<Did>((resolve, reject) => {
          const child = spawn(process.execPath, ['--import', 'tsx', script, path, `p${i}`, '40'], { stdio: ['ignore', 'pipe', 'pipe'] });
          let stdout = '';
          let stderr = '';
          child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
          child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
          child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(stdout) as Did) : reject(new Error(`hammer ${i} exited ${code}: ${stderr}`))));
        }),
    );
    const did = await Promise.all(runs);
    const store = new OrderStore(path);
    const account = store.refundAccount('acme', 'A-1005')!;
    store.close();
    const paid = did.reduce((sum, d) => sum + d.paid_cents, 0);
    expect(account.provider_cents).toBeLessThanOrEqual(account.total_cents);
    expect(account).toMatchObject({ reserved_cents: 0, provider_cents: paid, refunded_cents: paid, ledger_cents: paid });
    expect(account.provider_count).toBe(account.ledger_count);
    // 160 attempts of up to 5% each: the balance ran out, so refusals were exercised too.
    expect(did.reduce((sum, d) => sum + d.refused, 0)).toBeGreaterThan(0);
  }, 60_000);
});
