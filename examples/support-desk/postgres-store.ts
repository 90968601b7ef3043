import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import {
  DEFAULT_RESERVATION_TTL_MS,
  SEED,
  type CancelResult,
  type Order,
  type OrderState,
  type OrderStoreOptions,
  type Payment,
  type Refund,
  type RefundAccount,
  type Reservation,
  type ReserveResult,
  type SupportStore,
} from './store';

/**
 * The example store on PostgreSQL, for workers on several machines: the same
 * tables, answers and invariants as the SQLite `OrderStore`.
 *
 * Every check and the write it guards run in one SERIALIZABLE transaction,
 * retried from the start when PostgreSQL reports a serialization failure or a
 * deadlock; so the outcome is that of the transactions run one after another,
 * which is what SQLite's IMMEDIATE transactions give on one file. Primary keys
 * on the idempotency key hold one payment, one refund, one reservation and one
 * cancellation per key whatever happens.
 */

type Row = Record<string, unknown>;
type Query = <R extends Row = Row>(text: string, values?: unknown[]) => Promise<R[]>;

/** Serialization failure, deadlock, unique violation (two first inserts of one key): run the transaction again. */
const RETRYABLE = new Set(['40001', '40P01', '23505']);
const MAX_TRANSACTION_ATTEMPTS = 60;

/** Schema changes, in order; each runs once per database, in its own transaction. */
const MIGRATIONS: { version: number; name: string; up: (query: Query) => Promise<unknown> }[] = [
  {
    version: 1,
    name: 'orders, payments, refunds, reservations, voided keys, cancellations',
    up: (query) =>
      query(`
        CREATE TABLE orders (
          tenant_id TEXT NOT NULL, order_id TEXT NOT NULL, state TEXT NOT NULL, items JSONB NOT NULL,
          total_cents INTEGER NOT NULL, refunded_cents INTEGER NOT NULL DEFAULT 0, currency TEXT NOT NULL,
          placed_at TEXT NOT NULL, PRIMARY KEY (tenant_id, order_id),
          CHECK (refunded_cents BETWEEN 0 AND total_cents));
        -- The payment provider's ledger: one payment per idempotency key, as a real provider would dedupe.
        CREATE TABLE provider_refunds (
          idempotency_key TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, order_id TEXT NOT NULL,
          amount_cents INTEGER NOT NULL, created_at TEXT NOT NULL);
        CREATE INDEX provider_refunds_by_order ON provider_refunds (tenant_id, order_id);
        CREATE TABLE refunds (
          idempotency_key TEXT PRIMARY KEY, refund_id TEXT NOT NULL UNIQUE, tenant_id TEXT NOT NULL,
          order_id TEXT NOT NULL, amount_cents INTEGER NOT NULL, created_at TEXT NOT NULL);
        CREATE INDEX refunds_by_order ON refunds (tenant_id, order_id);
        -- Money set aside by a refund between its balance check and its ledger row (see store.ts).
        CREATE TABLE refund_reservations (
          idempotency_key TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, order_id TEXT NOT NULL,
          amount_cents INTEGER NOT NULL, expires_at BIGINT NOT NULL, created_at TEXT NOT NULL);
        CREATE INDEX refund_reservations_by_order ON refund_reservations (tenant_id, order_id);
        CREATE TABLE voided_keys (
          idempotency_key TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, created_at TEXT NOT NULL);
        CREATE TABLE cancellations (
          idempotency_key TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, order_id TEXT NOT NULL,
          previous_state TEXT NOT NULL, created_at TEXT NOT NULL);`),
  },
  {
    version: 2,
    name: 'demo orders',
    up: (query) =>
      query(
        `INSERT INTO orders (tenant_id, order_id, state, items, total_cents, currency, placed_at)
         SELECT tenant_id, order_id, state, items, total_cents, currency, placed_at
           FROM jsonb_to_recordset($1::jsonb)
             AS s(tenant_id TEXT, order_id TEXT, state TEXT, items JSONB, total_cents INTEGER, currency TEXT, placed_at TEXT)
         ON CONFLICT DO NOTHING`,
        [JSON.stringify(SEED)],
      ),
  },
];

/** Any constant will do, as long as nothing else in the database takes this advisory lock. */
const MIGRATION_LOCK = 0x686f6c64; // "hold"

/**
 * Brings the database's schema up to date. Workers starting at once take
 * turns under an advisory lock; each migration commits with its row in
 * `schema_migrations`, so it runs once. Returns the versions this call applied.
 */
export async function migrateOrderStore(pool: pg.Pool): Promise<number[]> {
  const client = await pool.connect();
  const query: Query = async (text, values) => (await client.query(text, values)).rows;
  const applied: number[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())',
      );
      const done = new Set((await query<{ version: number }>('SELECT version FROM schema_migrations')).map((row) => row.version));
      for (const migration of MIGRATIONS) {
        if (done.has(migration.version)) continue;
        await client.query('BEGIN');
        try {
          await migration.up(query);
          await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK');
          throw error;
        }
        applied.push(migration.version);
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
  return applied;
}

export interface PostgresOrderStoreOptions extends OrderStoreOptions {
  /** Connections this store may open. Default 10 (pg's default). */
  maxConnections?: number;
}

export class PostgresOrderStore implements SupportStore {
  private readonly reservationTtlMs: number;
  private readonly now: () => number;

  private constructor(
    private readonly pool: pg.Pool,
    options: OrderStoreOptions,
  ) {
    this.reservationTtlMs = options.reservationTtlMs ?? DEFAULT_RESERVATION_TTL_MS;
    this.now = options.now ?? Date.now;
  }

  /** Connects, and migrates the schema (seeding the demo orders on a new database). */
  static async open(url: string, options: PostgresOrderStoreOptions = {}): Promise<PostgresOrderStore> {
    const pool = new pg.Pool({ connectionString: url, max: options.maxConnections ?? 10 });
    // An idle connection that drops (a server restart) must not crash the process; the next query reconnects.
    pool.on('error', () => undefined);
    try {
      await migrateOrderStore(pool);
    } catch (error) {
      await pool.end();
      throw error;
    }
    return new PostgresOrderStore(pool, options);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  findOrder(tenantId: string, orderId: string): Promise<Order | undefined> {
    return this.orderOf(this.query, tenantId, orderId);
  }

  async findRefund(tenantId: string, idempotencyKey: string): Promise<Refund | undefined> {
    return this.refundOf(this.query, tenantId, idempotencyKey);
  }

  async findProviderRefund(tenantId: string, idempotencyKey: string): Promise<Payment | undefined> {
    return this.paymentOf(this.query, tenantId, idempotencyKey);
  }

  /** As `OrderStore.reserveRefund`: the balance check and the reservation are one transaction. */
  reserveRefund(tenantId: string, orderId: string, amountCents: number | undefined, idempotencyKey: string): Promise<ReserveResult> {
    return this.transaction(async (q): Promise<ReserveResult> => {
      if (await this.isVoided(q, tenantId, idempotencyKey)) return { refused: 'voided' };
      const paid = await this.paymentOf(q, tenantId, idempotencyKey);
      if (paid) return { paid };
      const now = this.now();
      await q(
        `DELETE FROM refund_reservations WHERE tenant_id = $1 AND order_id = $2 AND expires_at <= $3
           AND idempotency_key NOT IN (SELECT idempotency_key FROM provider_refunds)`,
        [tenantId, orderId, now],
      );
      const [held] = await q<Reservation & Row>(
        'SELECT idempotency_key, order_id, amount_cents FROM refund_reservations WHERE tenant_id = $1 AND idempotency_key = $2',
        [tenantId, idempotencyKey],
      );
      if (held && held.order_id === orderId) {
        await q('UPDATE refund_reservations SET expires_at = $2 WHERE idempotency_key = $1', [idempotencyKey, now + this.reservationTtlMs]);
        return { reserved: held };
      }
      const order = await this.orderOf(q, tenantId, orderId);
      if (!order) return { refused: 'not-found' };
      const balance = order.total_cents - order.refunded_cents - (await this.reservedCents(q, tenantId, orderId, idempotencyKey));
      if (balance <= 0) return { refused: 'nothing-to-refund' };
      const amount = amountCents ?? balance;
      if (amount > balance) return { refused: 'exceeds-balance', balanceCents: balance };
      await q(
        `INSERT INTO refund_reservations VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (idempotency_key) DO UPDATE SET tenant_id = EXCLUDED.tenant_id, order_id = EXCLUDED.order_id,
           amount_cents = EXCLUDED.amount_cents, expires_at = EXCLUDED.expires_at, created_at = EXCLUDED.created_at`,
        [idempotencyKey, tenantId, orderId, amount, now + this.reservationTtlMs, new Date(now).toISOString()],
      );
      return { reserved: { idempotency_key: idempotencyKey, order_id: orderId, amount_cents: amount } };
    });
  }

  /** As `OrderStore.providerRefund`: once per key, and only under a live reservation of that key, order and amount. */
  providerRefund(tenantId: string, orderId: string, amountCents: number, idempotencyKey: string): Promise<Payment | 'no-reservation'> {
    return this.transaction(async (q): Promise<Payment | 'no-reservation'> => {
      const paid = await this.paymentOf(q, tenantId, idempotencyKey);
      if (paid) return paid;
      const [held] = await q<{ amount_cents: number; expires_at: string }>(
        'SELECT amount_cents, expires_at FROM refund_reservations WHERE tenant_id = $1 AND idempotency_key = $2 AND order_id = $3',
        [tenantId, idempotencyKey, orderId],
      );
      if (!held || held.amount_cents !== amountCents || Number(held.expires_at) <= this.now()) return 'no-reservation';
      await q('INSERT INTO provider_refunds VALUES ($1, $2, $3, $4, $5)', [idempotencyKey, tenantId, orderId, amountCents, new Date(this.now()).toISOString()]);
      return { idempotency_key: idempotencyKey, order_id: orderId, amount_cents: amountCents };
    });
  }

  /** As `OrderStore.recordRefund`: once per key; its reservation ends in the same transaction. */
  recordRefund(tenantId: string, payment: Payment): Promise<{ refund: Refund; order: Order }> {
    return this.transaction(async (q) => {
      const existing = await this.refundOf(q, tenantId, payment.idempotency_key);
      if (!existing) {
        const refundId = `R-${payment.idempotency_key.slice(-12).replace(/[^A-Za-z0-9]/g, '')}-${this.now().toString(36)}`;
        await q('INSERT INTO refunds VALUES ($1, $2, $3, $4, $5, $6)', [
          payment.idempotency_key,
          refundId,
          tenantId,
          payment.order_id,
          payment.amount_cents,
          new Date(this.now()).toISOString(),
        ]);
        await q(
          `UPDATE orders SET refunded_cents = refunded_cents + $1,
             state = CASE WHEN refunded_cents + $1 >= total_cents THEN 'refunded' ELSE state END
           WHERE tenant_id = $2 AND order_id = $3`,
          [payment.amount_cents, tenantId, payment.order_id],
        );
      }
      await q('DELETE FROM refund_reservations WHERE tenant_id = $1 AND idempotency_key = $2', [tenantId, payment.idempotency_key]);
      return { refund: (await this.refundOf(q, tenantId, payment.idempotency_key))!, order: (await this.orderOf(q, tenantId, payment.order_id))! };
    });
  }

  /** As `OrderStore.releaseReservation`. */
  releaseReservation(tenantId: string, idempotencyKey: string, options: { voidKey?: boolean } = {}): Promise<'released' | Payment> {
    return this.transaction(async (q): Promise<'released' | Payment> => {
      const paid = await this.paymentOf(q, tenantId, idempotencyKey);
      if (paid) return paid;
      await q('DELETE FROM refund_reservations WHERE tenant_id = $1 AND idempotency_key = $2', [tenantId, idempotencyKey]);
      if (options.voidKey) await this.voidKey(q, tenantId, idempotencyKey);
      return 'released';
    });
  }

  /** As `OrderStore.cancelOrder`. */
  cancelOrder(tenantId: string, orderId: string, idempotencyKey: string): Promise<CancelResult> {
    return this.transaction(async (q): Promise<CancelResult> => {
      const done = await this.cancellationOf(q, tenantId, idempotencyKey);
      if (done) return done;
      if (await this.isVoided(q, tenantId, idempotencyKey)) return 'voided';
      const order = await this.orderOf(q, tenantId, orderId);
      if (!order) return 'not-found';
      if (order.state !== 'placed') return 'not-cancellable';
      await q("UPDATE orders SET state = 'cancelled' WHERE tenant_id = $1 AND order_id = $2", [tenantId, orderId]);
      await q('INSERT INTO cancellations VALUES ($1, $2, $3, $4, $5)', [idempotencyKey, tenantId, orderId, order.state, new Date(this.now()).toISOString()]);
      return { previous: order.state, order: (await this.orderOf(q, tenantId, orderId))! };
    });
  }

  /** As `OrderStore.settleCancellation`. */
  settleCancellation(tenantId: string, idempotencyKey: string): Promise<{ previous: OrderState; order: Order } | 'nothing-committed'> {
    return this.transaction(async (q) => {
      const done = await this.cancellationOf(q, tenantId, idempotencyKey);
      if (done) return done;
      await this.voidKey(q, tenantId, idempotencyKey);
      return 'nothing-committed' as const;
    });
  }

  async countProviderRefunds(filter: { idempotencyKey?: string; orderId?: string } = {}): Promise<number> {
    const [row] = await this.query<{ n: number }>(
      'SELECT COUNT(*)::int AS n FROM provider_refunds WHERE ($1::text IS NULL OR idempotency_key = $1) AND ($2::text IS NULL OR order_id = $2)',
      [filter.idempotencyKey ?? null, filter.orderId ?? null],
    );
    return row!.n;
  }

  /** An order's money as every table sees it, read in one transaction. */
  refundAccount(tenantId: string, orderId: string): Promise<RefundAccount | undefined> {
    return this.transaction(async (q): Promise<RefundAccount | undefined> => {
      const order = await this.orderOf(q, tenantId, orderId);
      if (!order) return undefined;
      const sum = async (table: string) =>
        (await q<{ n: number; cents: number }>(
          `SELECT COUNT(*)::int AS n, COALESCE(SUM(amount_cents), 0)::int AS cents FROM ${table} WHERE tenant_id = $1 AND order_id = $2`,
          [tenantId, orderId],
        ))[0]!;
      const provider = await sum('provider_refunds');
      const ledger = await sum('refunds');
      return {
        total_cents: order.total_cents,
        refunded_cents: order.refunded_cents,
        reserved_cents: await this.reservedCents(q, tenantId, orderId),
        provider_cents: provider.cents,
        provider_count: provider.n,
        ledger_cents: ledger.cents,
        ledger_count: ledger.n,
      };
    });
  }

  private readonly query: Query = async (text, values) => (await this.pool.query(text, values)).rows;

  /** Runs `work` in a SERIALIZABLE transaction, from the start again while PostgreSQL says it must. */
  private async transaction<T>(work: (query: Query) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
        const result = await work(async (text, values) => (await client.query(text, values)).rows);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
        const code = (error as { code?: string }).code;
        if (!code || !RETRYABLE.has(code) || attempt >= MAX_TRANSACTION_ATTEMPTS) throw error;
      } finally {
        client.release(broken);
      }
      // Jittered backoff, so the transactions that collided do not collide again.
      await delay(Math.random() * Math.min(50, 2 * attempt));
    }
  }

  private async orderOf(q: Query, tenantId: string, orderId: string): Promise<Order | undefined> {
    const [row] = await q<Order>('SELECT * FROM orders WHERE tenant_id = $1 AND order_id = $2', [tenantId, orderId]);
    return row;
  }

  private async refundOf(q: Query, tenantId: string, idempotencyKey: string): Promise<Refund | undefined> {
    const [row] = await q<Refund & Row>('SELECT refund_id, idempotency_key, order_id, amount_cents FROM refunds WHERE tenant_id = $1 AND idempotency_key = $2', [
      tenantId,
      idempotencyKey,
    ]);
    return row;
  }

  private async paymentOf(q: Query, tenantId: string, idempotencyKey: string): Promise<Payment | undefined> {
    const [row] = await q<Payment & Row>('SELECT idempotency_key, order_id, amount_cents FROM provider_refunds WHERE tenant_id = $1 AND idempotency_key = $2', [
      tenantId,
      idempotencyKey,
    ]);
    return row;
  }

  /** Money of an order held by reservations: live ones, and any the provider already paid. */
  private async reservedCents(q: Query, tenantId: string, orderId: string, exceptKey?: string): Promise<number> {
    const [row] = await q<{ cents: number }>(
      `SELECT COALESCE(SUM(amount_cents), 0)::int AS cents FROM refund_reservations
        WHERE tenant_id = $1 AND order_id = $2 AND idempotency_key IS DISTINCT FROM $3
          AND (expires_at > $4 OR idempotency_key IN (SELECT idempotency_key FROM provider_refunds))`,
      [tenantId, orderId, exceptKey ?? null, this.now()],
    );
    return row!.cents;
  }

  private async cancellationOf(q: Query, tenantId: string, idempotencyKey: string): Promise<{ previous: OrderState; order: Order } | undefined> {
    const [done] = await q<{ order_id: string; previous_state: OrderState }>(
      'SELECT order_id, previous_state FROM cancellations WHERE tenant_id = $1 AND idempotency_key = $2',
      [tenantId, idempotencyKey],
    );
    return done && { previous: done.previous_state, order: (await this.orderOf(q, tenantId, done.order_id))! };
  }

  private async isVoided(q: Query, tenantId: string, idempotencyKey: string): Promise<boolean> {
    return (await q('SELECT 1 FROM voided_keys WHERE tenant_id = $1 AND idempotency_key = $2', [tenantId, idempotencyKey])).length > 0;
  }

  private async voidKey(q: Query, tenantId: string, idempotencyKey: string): Promise<void> {
    await q('INSERT INTO voided_keys VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [idempotencyKey, tenantId, new Date(this.now()).toISOString()]);
  }
}
