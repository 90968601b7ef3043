import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startLocalPostgres, type LocalPostgres } from '../../src/cluster/postgres-server';
import { ToolFailure } from '../../src/contracts/errors';
import type { ToolContext } from '../../src/contracts/tool-spec';
import supportDesk from '../../examples/support-desk';
import { migrateOrderStore, PostgresOrderStore } from '../../examples/support-desk/postgres-store';
import { refundOrderHandler } from '../../examples/support-desk/refund-order';
import { freePort } from '../support/ports';

/**
 * The example store on a real PostgreSQL, with real concurrency: several
 * pools (as several workers hold) and several processes on one database.
 */

let dir: string;
let postgres: LocalPostgres;
let databases = 0;
const freshDatabase = () => postgres.createDatabase(`store_${process.pid}_${++databases}`);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'holdline-pg-store-'));
  postgres = await startLocalPostgres({ port: await freePort(), dir });
}, 60_000);
afterAll(async () => {
  await postgres?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function contextOf(tenantId: string, idempotencyKey: string): ToolContext {
  return {
    callId: idempotencyKey,
    idempotencyKey,
    traceId: `trace-${idempotencyKey}`,
    tenantId,
    userId: 'alice',
    sessionId: 's',
    settling: false,
    attempt: 1,
    signal: new AbortController().signal,
    progress: () => undefined,
    sleep: () => Promise.resolve(),
  };
}

describe('migrations', () => {
  it('apply once when two workers start at once, and not again on the next start', async () => {
    const url = await freshDatabase();
    const pools = [0, 1, 2].map(() => new pg.Pool({ connectionString: url, max: 2 }));
    // pool.end() resolves before its connections have closed: one may still see the server's shutdown.
    for (const pool of pools) pool.on('error', () => undefined);
    try {
      const applied = await Promise.all(pools.map(migrateOrderStore));
      expect(applied.flat().sort()).toEqual([1, 2]);
      expect(await migrateOrderStore(pools[0]!)).toEqual([]);
      const { rows } = await pools[0]!.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      expect(rows.map((row) => row.version)).toEqual([1, 2]);
      const orders = await pools[0]!.query<{ n: number }>('SELECT COUNT(*)::int AS n FROM orders');
      expect(orders.rows[0]!.n).toBe(10);
    } finally {
      await Promise.all(pools.map((pool) => pool.end()));
    }
  }, 30_000);
});

describe('PostgresOrderStore', () => {
  it('answers as the SQLite store does: a key keeps its reservation, another key finds nothing left', async () => {
    const store = await PostgresOrderStore.open(await freshDatabase());
    try {
      expect(await store.findOrder('acme', 'A-1004')).toMatchObject({ order_id: 'A-1004', total_cents: 2_700, items: [{ sku: 'CB-03', quantity: 3 }] });
      expect(await store.findOrder('globex', 'A-1004')).toBeUndefined();
      const first = await store.reserveRefund('acme', 'A-1004', undefined, 'acme/alice/all');
      expect(first).toEqual({ reserved: { idempotency_key: 'acme/alice/all', order_id: 'A-1004', amount_cents: 2_700 } });
      expect(await store.reserveRefund('acme', 'A-1004', undefined, 'acme/alice/all')).toEqual(first);
      expect(await store.reserveRefund('acme', 'A-1004', 1, 'acme/alice/other')).toEqual({ refused: 'nothing-to-refund' });
      const payment = await store.providerRefund('acme', 'A-1004', 2_700, 'acme/alice/all');
      expect(payment).toMatchObject({ amount_cents: 2_700 });
      const { order } = await store.recordRefund('acme', payment as Exclude<typeof payment, 'no-reservation'>);
      expect(order).toMatchObject({ state: 'refunded', refunded_cents: 2_700 });
      expect(await store.cancelOrder('acme', 'A-1004', 'acme/alice/cancel')).toBe('not-cancellable');
    } finally {
      await store.close();
    }
  }, 30_000);

  it('refunds one order from two pools at once under many keys: never more than the total, one payment and one ledger row per key', async () => {
    const url = await freshDatabase();
    const stores = await Promise.all([PostgresOrderStore.open(url, { maxConnections: 4 }), PostgresOrderStore.open(url, { maxConnections: 4 })]);
    try {
      const total = (await stores[0]!.findOrder('acme', 'A-1003'))!.total_cents;
      const amount = 4_000; // 8 fit into 32,000; 24 calls ask
      const calls = Array.from({ length: 24 }, (_, i) => {
        const handler = refundOrderHandler(stores[i % 2]!, { stageMs: 1, progressEveryMs: 1 });
        return handler({ order_id: 'A-1003', amount_cents: amount, reason: 'hammer' }, contextOf('acme', `acme/alice/many-${i}`)).then(
          (result) => ({ ok: true as const, result }),
          (error: unknown) => ({ ok: false as const, error }),
        );
      });
      const answers = await Promise.all(calls);
      const ok = answers.filter((a) => a.ok);
      expect(ok).toHaveLength(total / amount);
      for (const a of answers) {
        if (!a.ok) expect([a.error instanceof ToolFailure, ['REFUND_EXCEEDS_BALANCE', 'NOTHING_TO_REFUND'].includes((a.error as ToolFailure).type)]).toEqual([true, true]);
      }
      expect(await stores[1]!.refundAccount('acme', 'A-1003')).toEqual({
        total_cents: total,
        refunded_cents: total,
        reserved_cents: 0,
        provider_cents: total,
        provider_count: ok.length,
        ledger_cents: total,
        ledger_count: ok.length,
      });
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  }, 30_000);

  it('runs one key from two workers at once as one refund: both find the same refund, the provider paid once', async () => {
    const url = await freshDatabase();
    const stores = await Promise.all([PostgresOrderStore.open(url, { maxConnections: 3 }), PostgresOrderStore.open(url, { maxConnections: 3 })]);
    try {
      for (let round = 0; round < 8; round++) {
        const key = `acme/alice/same-${round}`;
        const answers = await Promise.all(
          stores.map((store) => refundOrderHandler(store, { stageMs: 1, progressEveryMs: 1 })({ order_id: 'A-1005', amount_cents: 1_000, reason: 'retried' }, contextOf('acme', key)).catch((error: unknown) => error)),
        );
        // The second attempt either finds the first one's refund, or lost its reservation to it and is retried (as Temporal would).
        const refunds = answers.filter((a) => !(a instanceof Error));
        for (const a of answers) if (a instanceof Error) expect([a instanceof ToolFailure, (a as ToolFailure).type]).toEqual([true, 'RESERVATION_LOST']);
        expect(refunds.length).toBeGreaterThan(0);
        const retried = await refundOrderHandler(stores[1]!, { stageMs: 1, progressEveryMs: 1 })({ order_id: 'A-1005', amount_cents: 1_000, reason: 'retried' }, contextOf('acme', key));
        for (const refund of refunds) expect(refund).toEqual(retried);
        expect(await stores[0]!.countProviderRefunds({ idempotencyKey: key })).toBe(1);
      }
      expect(await stores[0]!.refundAccount('acme', 'A-1005')).toMatchObject({ refunded_cents: 8_000, provider_cents: 8_000, provider_count: 8, ledger_count: 8, reserved_cents: 0 });
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  }, 30_000);

  it('cancels an order once when two keys race for it', async () => {
    const url = await freshDatabase();
    const stores = await Promise.all([PostgresOrderStore.open(url), PostgresOrderStore.open(url)]);
    try {
      const results = await Promise.all(stores.map((store, i) => store.cancelOrder('globex', 'G-2001', `globex/bob/cancel-${i}`)));
      expect(results.filter((r) => typeof r === 'object')).toHaveLength(1);
      expect(results.filter((r) => r === 'not-cancellable')).toHaveLength(1);
      expect(await stores[0]!.settleCancellation('globex', 'globex/bob/cancel-0')).toEqual(results[0] === 'not-cancellable' ? 'nothing-committed' : results[0]);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  }, 30_000);
});

describe('refunds from several processes on one database', () => {
  it('never reserve, pay or record more than the order holds', async () => {
    const url = await freshDatabase();
    await (await PostgresOrderStore.open(url)).close();
    const script = join(__dirname, '../support/store-hammer.ts');
    type Did = { reserved: number; refused: number; paid_cents: number; released: number };
    const runs = Array.from(
      { length: 3 },
      (_, i) =>
        new Promise<Did>((resolve, reject) => {
          const child = spawn(process.execPath, ['--import', 'tsx', script, url, `p${i}`, '40'], { stdio: ['ignore', 'pipe', 'pipe'] });
          let stdout = '';
          let stderr = '';
          child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
          child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
          child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(stdout) as Did) : reject(new Error(`hammer ${i} exited ${code}: ${stderr}`))));
        }),
    );
    const did = await Promise.all(runs);
    const store = await PostgresOrderStore.open(url);
    const account = (await store.refundAccount('acme', 'A-1005'))!;
    await store.close();
    const paid = did.reduce((sum, d) => sum + d.paid_cents, 0);
    expect(account.provider_cents).toBeLessThanOrEqual(account.total_cents);
    expect(account).toMatchObject({ reserved_cents: 0, provider_cents: paid, refunded_cents: paid, ledger_cents: paid });
    expect(account.provider_count).toBe(account.ledger_count);
    // 120 attempts of up to 5% each: the balance ran out, so refusals were exercised too.
    expect(did.reduce((sum, d) => sum + d.refused, 0)).toBeGreaterThan(0);
  }, 60_000);
});

describe('the support-desk tools factory', () => {
  it('puts its store on PostgreSQL when HOLDLINE_DATABASE_URL is set', async () => {
    const url = await freshDatabase();
    const kit = await supportDesk({ role: 'all', dataDir: join(dir, 'unused'), env: { HOLDLINE_DATABASE_URL: url }, logger: undefined as never });
    try {
      const lookup = kit.tools.find((tool) => tool.spec.name === 'lookup_order')!;
      expect(lookup).toBeDefined();
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const { rows } = await client.query<{ n: number }>('SELECT COUNT(*)::int AS n FROM schema_migrations');
      await client.end();
      expect(rows[0]!.n).toBe(2);
    } finally {
      await kit.close?.();
    }
  }, 30_000);
});
