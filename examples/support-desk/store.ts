import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { z } from 'zod';
import type { lookupOrder } from './tools';

/**
 * The orders and payments the example tools act on: an embedded SQLite
 * database in the data directory, so state survives restarts. Every query is
 * scoped by tenant; nothing here can reach another tenant's orders.
 *
 * Refund money invariant, under any number of workers on one file: for every
 * order, recorded refunds + money held by reservations <= total, and the
 * provider moves money only under a live reservation of the same key. Each
 * check and the write it guards are one IMMEDIATE transaction, so writers on
 * other connections wait rather than interleave.
 */

/** An order as the store keeps it: what `lookup_order` returns, plus the tenant it belongs to. */
export type Order = z.infer<typeof lookupOrder.output> & { tenant_id: string };
export type OrderState = Order['state'];

/** The payment provider's record of money it moved, one per idempotency key. */
export interface Payment {
  idempotency_key: string;
  order_id: string;
  amount_cents: number;
}

/** A refund as the ledger records it. */
export interface Refund {
  refund_id: string;
  idempotency_key: string;
  order_id: string;
  amount_cents: number;
}

/** Money of an order set aside for one call's refund, counted against the balance until recorded or released. */
export interface Reservation {
  idempotency_key: string;
  order_id: string;
  amount_cents: number;
}

export type ReserveResult =
  | { reserved: Reservation }
  /** The provider already moved money under this key: record it, check nothing. */
  | { paid: Payment }
  | { refused: 'not-found' | 'nothing-to-refund' | 'voided' }
  | { refused: 'exceeds-balance'; balanceCents: number };

/** Where an order's money stands; what tests and audits check the invariants on. */
export interface RefundAccount {
  total_cents: number;
  /** Recorded refunds, as the order row counts them. */
  refunded_cents: number;
  /** Held by reservations not yet recorded. */
  reserved_cents: number;
  /** What the payment provider moved, and how many times. */
  provider_cents: number;
  provider_count: number;
  /** What the refunds ledger holds, and how many rows. */
  ledger_cents: number;
  ledger_count: number;
}

export interface OrderStoreOptions {
  /**
   * How long a reservation without a provider payment holds money. An attempt
   * renews it each time it runs; one whose call ended without releasing it (a
   * call terminated by hand, say) frees the money after this. Default 10 minutes.
   */
  reservationTtlMs?: number;
  /** The clock, in ms; tests move it. Default `Date.now`. */
  now?: () => number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS orders (
  tenant_id TEXT NOT NULL, order_id TEXT NOT NULL, state TEXT NOT NULL, items TEXT NOT NULL,
  total_cents INTEGER NOT NULL, refunded_cents INTEGER NOT NULL DEFAULT 0, currency TEXT NOT NULL,
  placed_at TEXT NOT NULL, PRIMARY KEY (tenant_id, order_id));
-- The payment provider's ledger: one payment per idempotency key, as a real provider would dedupe.
CREATE TABLE IF NOT EXISTS provider_refunds (
  idempotency_key TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, order_id TEXT NOT NULL,
  amount_cents INTEGER NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS refunds (
  idempotency_key TEXT PRIMARY KEY, refund_id TEXT NOT NULL UNIQUE, tenant_id TEXT NOT NULL,
  order_id TEXT NOT NULL, amount_cents INTEGER NOT NULL, created_at TEXT NOT NULL);
-- Money set aside by a refund between its balance check and its ledger row. A row with a
-- provider payment holds its money whatever expires_at says, until the refund is recorded.
CREATE TABLE IF NOT EXISTS refund_reservations (
  idempotency_key TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, order_id TEXT NOT NULL,
  amount_cents INTEGER NOT NULL, expires_at INTEGER NOT NULL, created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS refund_reservations_by_order ON refund_reservations (tenant_id, order_id);
-- Keys of calls that ended having committed nothing: nothing may be committed under them afterwards.
CREATE TABLE IF NOT EXISTS voided_keys (
  idempotency_key TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cancellations (
  idempotency_key TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, order_id TEXT NOT NULL,
  previous_state TEXT NOT NULL, created_at TEXT NOT NULL);
`;

export const DEFAULT_RESERVATION_TTL_MS = 10 * 60_000;

type Awaitable<T> = T | Promise<T>;

/**
 * What the tools need of a store, kept by SQLite (`OrderStore`, embedded,
 * answers at once) or PostgreSQL (`PostgresOrderStore`, over the network):
 * callers await every answer. Both keep the same invariants; see each class.
 */
export interface SupportStore {
  findOrder(tenantId: string, orderId: string): Awaitable<Order | undefined>;
  findRefund(tenantId: string, idempotencyKey: string): Awaitable<Refund | undefined>;
  findProviderRefund(tenantId: string, idempotencyKey: string): Awaitable<Payment | undefined>;
  reserveRefund(tenantId: string, orderId: string, amountCents: number | undefined, idempotencyKey: string): Awaitable<ReserveResult>;
  providerRefund(tenantId: string, orderId: string, amountCents: number, idempotencyKey: string): Awaitable<Payment | 'no-reservation'>;
  recordRefund(tenantId: string, payment: Payment): Awaitable<{ refund: Refund; order: Order }>;
  releaseReservation(tenantId: string, idempotencyKey: string, options?: { voidKey?: boolean }): Awaitable<'released' | Payment>;
  cancelOrder(tenantId: string, orderId: string, idempotencyKey: string): Awaitable<CancelResult>;
  settleCancellation(tenantId: string, idempotencyKey: string): Awaitable<{ previous: OrderState; order: Order } | 'nothing-committed'>;
  countProviderRefunds(filter?: { idempotencyKey?: string; orderId?: string }): Awaitable<number>;
  refundAccount(tenantId: string, orderId: string): Awaitable<RefundAccount | undefined>;
  close(): Awaitable<void>;
}

export type CancelResult = { previous: OrderState; order: Order } | 'not-cancellable' | 'not-found' | 'voided';

const item = (sku: string, name: string, quantity = 1) => ({ sku, name, quantity });

/** The demo data every new store starts with. */
export const SEED: Omit<Order, 'refunded_cents'>[] = [
  { tenant_id: 'acme', order_id: 'A-1001', state: 'placed', items: [item('HP-01', 'Wireless headphones')], total_cents: 12_900, currency: 'USD', placed_at: '2026-11-20T10:00:00Z' },
  { tenant_id: 'acme', order_id: 'A-1002', state: 'shipped', items: [item('KB-02', 'Mechanical keyboard'), item('MS-01', 'Mouse')], total_cents: 15_800, currency: 'USD', placed_at: '2026-11-18T09:30:00Z' },
  { tenant_id: 'acme', order_id: 'A-1003', state: 'delivered', items: [item('MN-27', '27" monitor')], total_cents: 32_000, currency: 'USD', placed_at: '2026-11-10T15:12:00Z' },
  { tenant_id: 'acme', order_id: 'A-1004', state: 'placed', items: [item('CB-03', 'USB-C cable', 3)], total_cents: 2_700, currency: 'USD', placed_at: '2026-11-22T08:05:00Z' },
  { tenant_id: 'acme', order_id: 'A-1005', state: 'delivered', items: [item('DK-01', 'Standing desk')], total_cents: 54_900, currency: 'USD', placed_at: '2026-11-01T12:00:00Z' },
  { tenant_id: 'globex', order_id: 'G-2001', state: 'placed', items: [item('GX-10', 'Espresso machine')], total_cents: 45_000, currency: 'EUR', placed_at: '2026-11-21T07:45:00Z' },
  { tenant_id: 'globex', order_id: 'G-2002', state: 'shipped', items: [item('GX-11', 'Grinder')], total_cents: 18_000, currency: 'EUR', placed_at: '2026-11-19T11:20:00Z' },
  { tenant_id: 'globex', order_id: 'G-2003', state: 'delivered', items: [item('GX-12', 'Milk jug', 2)], total_cents: 3_000, currency: 'EUR', placed_at: '2026-11-12T16:00:00Z' },
  { tenant_id: 'globex', order_id: 'G-2004', state: 'placed', items: [item('GX-13', 'Descaler', 4)], total_cents: 4_400, currency: 'EUR', placed_at: '2026-11-23T09:10:00Z' },
  { tenant_id: 'globex', order_id: 'G-2005', state: 'delivered', items: [item('GX-14', 'Tamper')], total_cents: 2_500, currency: 'EUR', placed_at: '2026-11-05T13:30:00Z' },
];

interface OrderRow extends Omit<Order, 'items' | 'state'> {
  items: string;
  state: string;
}

export class OrderStore implements SupportStore {
  private readonly db: Database.Database;
  private readonly reservationTtlMs: number;
  private readonly now: () => number;

  /** Opens (and on first use creates and seeds) the store; `:memory:` for a throwaway one. */
  constructor(
    readonly path: string,
    options: OrderStoreOptions = {},
  ) {
    this.reservationTtlMs = options.reservationTtlMs ?? DEFAULT_RESERVATION_TTL_MS;
    this.now = options.now ?? Date.now;
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    this.seedIfEmpty();
  }

  close(): void {
    this.db.close();
  }

  findOrder(tenantId: string, orderId: string): Order | undefined {
    const row = this.db.prepare('SELECT * FROM orders WHERE tenant_id = ? AND order_id = ?').get(tenantId, orderId) as OrderRow | undefined;
    return row && { ...row, state: row.state as OrderState, items: JSON.parse(row.items) as Order['items'] };
  }

  findRefund(tenantId: string, idempotencyKey: string): Refund | undefined {
    return this.db
      .prepare('SELECT refund_id, idempotency_key, order_id, amount_cents FROM refunds WHERE tenant_id = ? AND idempotency_key = ?')
      .get(tenantId, idempotencyKey) as Refund | undefined;
  }

  /** The payment provider's record for a key: did it move money under this key? */
  findProviderRefund(tenantId: string, idempotencyKey: string): Payment | undefined {
    return this.db
      .prepare('SELECT idempotency_key, order_id, amount_cents FROM provider_refunds WHERE tenant_id = ? AND idempotency_key = ?')
      .get(tenantId, idempotencyKey) as Payment | undefined;
  }

  /**
   * Checks the balance and sets the amount aside for the key, in one
   * transaction. The balance is the total less recorded refunds and other
   * keys' reservations. A key that already holds a reservation keeps it (and
   * its amount) without a new check; one under which the provider already
   * paid gets that payment back, to be recorded.
   */
  reserveRefund(tenantId: string, orderId: string, amountCents: number | undefined, idempotencyKey: string): ReserveResult {
    const reserve = this.db.transaction((): ReserveResult => {
      if (this.isVoided(tenantId, idempotencyKey)) return { refused: 'voided' };
      const paid = this.findProviderRefund(tenantId, idempotencyKey);
      if (paid) return { paid };
      const now = this.now();
      this.db
        .prepare(
          `DELETE FROM refund_reservations WHERE tenant_id = ? AND order_id = ? AND expires_at <= ?
             AND idempotency_key NOT IN (SELECT idempotency_key FROM provider_refunds)`,
        )
        .run(tenantId, orderId, now);
      const held = this.reservationOf(tenantId, idempotencyKey);
      if (held && held.order_id === orderId) {
        this.db.prepare('UPDATE refund_reservations SET expires_at = ? WHERE idempotency_key = ?').run(now + this.reservationTtlMs, idempotencyKey);
        return { reserved: held };
      }
      const order = this.findOrder(tenantId, orderId);
      if (!order) return { refused: 'not-found' };
      const balance = order.total_cents - order.refunded_cents - this.reservedCents(tenantId, orderId, idempotencyKey);
      if (balance <= 0) return { refused: 'nothing-to-refund' };
      const amount = amountCents ?? balance;
      if (amount > balance) return { refused: 'exceeds-balance', balanceCents: balance };
      this.db
        .prepare('INSERT OR REPLACE INTO refund_reservations VALUES (?, ?, ?, ?, ?, ?)')
        .run(idempotencyKey, tenantId, orderId, amount, now + this.reservationTtlMs, new Date(now).toISOString());
      return { reserved: { idempotency_key: idempotencyKey, order_id: orderId, amount_cents: amount } };
    });
    return reserve.immediate();
  }

  /**
   * The payment provider's side: moves the money once per idempotency key. A
   * repeat with the same key returns the first payment, whatever amount it
   * asks. It moves money only under a live reservation of that key for that
   * order and amount; without one it moves nothing.
   */
  providerRefund(tenantId: string, orderId: string, amountCents: number, idempotencyKey: string): Payment | 'no-reservation' {
    const pay = this.db.transaction((): Payment | 'no-reservation' => {
      const paid = this.findProviderRefund(tenantId, idempotencyKey);
      if (paid) return paid;
      const held = this.db
        .prepare('SELECT amount_cents, expires_at FROM refund_reservations WHERE tenant_id = ? AND idempotency_key = ? AND order_id = ?')
        .get(tenantId, idempotencyKey, orderId) as { amount_cents: number; expires_at: number } | undefined;
      if (!held || held.amount_cents !== amountCents || held.expires_at <= this.now()) return 'no-reservation';
      this.db
        .prepare('INSERT INTO provider_refunds VALUES (?, ?, ?, ?, ?)')
        .run(idempotencyKey, tenantId, orderId, amountCents, new Date(this.now()).toISOString());
      return { idempotency_key: idempotencyKey, order_id: orderId, amount_cents: amountCents };
    });
    return pay.immediate();
  }

  /** Records a payment as a refund against its order, once per idempotency key; its reservation ends in the same transaction. */
  recordRefund(tenantId: string, payment: Payment): { refund: Refund; order: Order } {
    const record = this.db.transaction(() => {
      const existing = this.findRefund(tenantId, payment.idempotency_key);
      if (!existing) {
        const refundId = `R-${payment.idempotency_key.slice(-12).replace(/[^A-Za-z0-9]/g, '')}-${this.now().toString(36)}`;
        this.db
          .prepare('INSERT INTO refunds VALUES (?, ?, ?, ?, ?, ?)')
          .run(payment.idempotency_key, refundId, tenantId, payment.order_id, payment.amount_cents, new Date(this.now()).toISOString());
        this.db
          .prepare(
            `UPDATE orders SET refunded_cents = refunded_cents + ?,
               state = CASE WHEN refunded_cents + ? >= total_cents THEN 'refunded' ELSE state END
             WHERE tenant_id = ? AND order_id = ?`,
          )
          .run(payment.amount_cents, payment.amount_cents, tenantId, payment.order_id);
      }
      this.db.prepare('DELETE FROM refund_reservations WHERE tenant_id = ? AND idempotency_key = ?').run(tenantId, payment.idempotency_key);
      return { refund: this.findRefund(tenantId, payment.idempotency_key)!, order: this.findOrder(tenantId, payment.order_id)! };
    });
    return record.immediate();
  }

  /**
   * Gives a key's reserved money back, unless the provider already moved it:
   * then its payment comes back, to be recorded. With `voidKey` the key is
   * closed for good in the same transaction: nothing can be reserved or paid
   * under it afterwards, so "nothing was committed" stays true.
   */
  releaseReservation(tenantId: string, idempotencyKey: string, options: { voidKey?: boolean } = {}): 'released' | Payment {
    const release = this.db.transaction((): 'released' | Payment => {
      const paid = this.findProviderRefund(tenantId, idempotencyKey);
      if (paid) return paid;
      this.db.prepare('DELETE FROM refund_reservations WHERE tenant_id = ? AND idempotency_key = ?').run(tenantId, idempotencyKey);
      if (options.voidKey) this.voidKey(tenantId, idempotencyKey);
      return 'released';
    });
    return release.immediate();
  }

  /** Cancels an order once per idempotency key; returns the state it had before. */
  cancelOrder(
    tenantId: string,
    orderId: string,
    idempotencyKey: string,
  ): CancelResult {
    const cancel = this.db.transaction(() => {
      const done = this.findCancellation(tenantId, idempotencyKey);
      if (done) return done;
      if (this.isVoided(tenantId, idempotencyKey)) return 'voided' as const;
      const order = this.findOrder(tenantId, orderId);
      if (!order) return 'not-found' as const;
      if (order.state !== 'placed') return 'not-cancellable' as const;
      this.db.prepare("UPDATE orders SET state = 'cancelled' WHERE tenant_id = ? AND order_id = ?").run(tenantId, orderId);
      this.db.prepare('INSERT INTO cancellations VALUES (?, ?, ?, ?, ?)').run(idempotencyKey, tenantId, orderId, order.state, new Date(this.now()).toISOString());
      return { previous: order.state, order: this.findOrder(tenantId, orderId)! };
    });
    return cancel.immediate();
  }

  /** The cancellation a key made, if it made one; otherwise the key is voided, so none can be made under it later. */
  settleCancellation(tenantId: string, idempotencyKey: string): { previous: OrderState; order: Order } | 'nothing-committed' {
    const settle = this.db.transaction(() => {
      const done = this.findCancellation(tenantId, idempotencyKey);
      if (done) return done;
      this.voidKey(tenantId, idempotencyKey);
      return 'nothing-committed' as const;
    });
    return settle.immediate();
  }

  /** How many times the provider moved money for a key: the side-effect count tests assert on. */
  countProviderRefunds(filter: { idempotencyKey?: string; orderId?: string } = {}): number {
    const row = this.db
      .prepare('SELECT COUNT(*) AS n FROM provider_refunds WHERE (? IS NULL OR idempotency_key = ?) AND (? IS NULL OR order_id = ?)')
      .get(filter.idempotencyKey ?? null, filter.idempotencyKey ?? null, filter.orderId ?? null, filter.orderId ?? null) as { n: number };
    return row.n;
  }

  /** An order's money as every table sees it, read in one transaction. */
  refundAccount(tenantId: string, orderId: string): RefundAccount | undefined {
    const read = this.db.transaction((): RefundAccount | undefined => {
      const order = this.findOrder(tenantId, orderId);
      if (!order) return undefined;
      const sum = (table: string) =>
        this.db.prepare(`SELECT COUNT(*) AS n, COALESCE(SUM(amount_cents), 0) AS cents FROM ${table} WHERE tenant_id = ? AND order_id = ?`).get(tenantId, orderId) as {
          n: number;
          cents: number;
        };
      const provider = sum('provider_refunds');
      const ledger = sum('refunds');
      return {
        total_cents: order.total_cents,
        refunded_cents: order.refunded_cents,
        reserved_cents: this.reservedCents(tenantId, orderId),
        provider_cents: provider.cents,
        provider_count: provider.n,
        ledger_cents: ledger.cents,
        ledger_count: ledger.n,
      };
    });
    return read();
  }

  /** Money of an order held by reservations: live ones, and any the provider already paid. */
  private reservedCents(tenantId: string, orderId: string, exceptKey?: string): number {
    const row = this.db
      .prepare(
        `SELECT COALESCE(SUM(amount_cents), 0) AS cents FROM refund_reservations
          WHERE tenant_id = ? AND order_id = ? AND idempotency_key IS NOT ?
            AND (expires_at > ? OR idempotency_key IN (SELECT idempotency_key FROM provider_refunds))`,
      )
      .get(tenantId, orderId, exceptKey ?? null, this.now()) as { cents: number };
    return row.cents;
  }

  private reservationOf(tenantId: string, idempotencyKey: string): Reservation | undefined {
    return this.db
      .prepare('SELECT idempotency_key, order_id, amount_cents FROM refund_reservations WHERE tenant_id = ? AND idempotency_key = ?')
      .get(tenantId, idempotencyKey) as Reservation | undefined;
  }

  private findCancellation(tenantId: string, idempotencyKey: string): { previous: OrderState; order: Order } | undefined {
    const done = this.db
      .prepare('SELECT order_id, previous_state FROM cancellations WHERE tenant_id = ? AND idempotency_key = ?')
      .get(tenantId, idempotencyKey) as { order_id: string; previous_state: OrderState } | undefined;
    return done && { previous: done.previous_state, order: this.findOrder(tenantId, done.order_id)! };
  }

  private isVoided(tenantId: string, idempotencyKey: string): boolean {
    return this.db.prepare('SELECT 1 FROM voided_keys WHERE tenant_id = ? AND idempotency_key = ?').get(tenantId, idempotencyKey) !== undefined;
  }

  private voidKey(tenantId: string, idempotencyKey: string): void {
    this.db.prepare('INSERT OR IGNORE INTO voided_keys VALUES (?, ?, ?)').run(idempotencyKey, tenantId, new Date(this.now()).toISOString());
  }

  /** Seeds a new store. Several workers may open one store at once: the check and the inserts are one transaction. */
  private seedIfEmpty(): void {
    const insert = this.db.prepare('INSERT OR IGNORE INTO orders VALUES (?, ?, ?, ?, ?, 0, ?, ?)');
    this.db
      .transaction(() => {
        const { n } = this.db.prepare('SELECT COUNT(*) AS n FROM orders').get() as { n: number };
        if (n > 0) return;
        for (const o of SEED) insert.run(o.tenant_id, o.order_id, o.state, JSON.stringify(o.items), o.total_cents, o.currency, o.placed_at);
      })
      .immediate();
  }
}
