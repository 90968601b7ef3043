import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * The orders and payments the example tools act on: an embedded SQLite
 * database in the data directory, so state survives restarts. Every query is
 * scoped by tenant; nothing here can reach another tenant's orders.
 */

export type OrderState = 'placed' | 'shipped' | 'delivered' | 'cancelled' | 'refunded';

export interface Order {
  tenant_id: string;
  order_id: string;
  state: OrderState;
  items: { sku: string; name: string; quantity: number }[];
  total_cents: number;
  refunded_cents: number;
  currency: string;
  placed_at: string;
}

export interface Payment {
  idempotency_key: string;
  order_id: string;
  amount_cents: number;
}

export interface Refund {
  refund_id: string;
  idempotency_key: string;
  order_id: string;
  amount_cents: number;
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
CREATE TABLE IF NOT EXISTS cancellations (
  idempotency_key TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, order_id TEXT NOT NULL,
  previous_state TEXT NOT NULL, created_at TEXT NOT NULL);
`;

const item = (sku: string, name: string, quantity = 1) => ({ sku, name, quantity });

/** The demo data every new store starts with. */
const SEED: Omit<Order, 'refunded_cents'>[] = [
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

export class OrderStore {
  private readonly db: Database.Database;

  /** Opens (and on first use creates and seeds) the store; `:memory:` for a throwaway one. */
  constructor(readonly path: string) {
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

  /**
   * The payment provider's side: moves the money once per idempotency key. A
   * repeat with the same key returns the first payment, whatever amount it asks.
   */
  providerRefund(tenantId: string, orderId: string, amountCents: number, idempotencyKey: string): Payment {
    this.db
      .prepare('INSERT OR IGNORE INTO provider_refunds VALUES (?, ?, ?, ?, ?)')
      .run(idempotencyKey, tenantId, orderId, amountCents, new Date().toISOString());
    return this.db
      .prepare('SELECT idempotency_key, order_id, amount_cents FROM provider_refunds WHERE idempotency_key = ?')
      .get(idempotencyKey) as Payment;
  }

  /** Records a refund against its order, once per idempotency key. */
  recordRefund(tenantId: string, payment: Payment): { refund: Refund; order: Order } {
    const record = this.db.transaction(() => {
      const existing = this.findRefund(tenantId, payment.idempotency_key);
      if (!existing) {
        const refundId = `R-${payment.idempotency_key.slice(-12).replace(/[^A-Za-z0-9]/g, '')}-${Date.now().toString(36)}`;
        this.db
          .prepare('INSERT INTO refunds VALUES (?, ?, ?, ?, ?, ?)')
          .run(payment.idempotency_key, refundId, tenantId, payment.order_id, payment.amount_cents, new Date().toISOString());
        this.db
          .prepare(
            `UPDATE orders SET refunded_cents = refunded_cents + ?,
               state = CASE WHEN refunded_cents + ? >= total_cents THEN 'refunded' ELSE state END
             WHERE tenant_id = ? AND order_id = ?`,
          )
          .run(payment.amount_cents, payment.amount_cents, tenantId, payment.order_id);
      }
      return { refund: this.findRefund(tenantId, payment.idempotency_key)!, order: this.findOrder(tenantId, payment.order_id)! };
    });
    return record.immediate();
  }

  /** Cancels an order once per idempotency key; returns the state it had before. */
  cancelOrder(tenantId: string, orderId: string, idempotencyKey: string): { previous: OrderState; order: Order } | 'not-cancellable' | 'not-found' {
    const cancel = this.db.transaction(() => {
      const done = this.db
        .prepare('SELECT previous_state FROM cancellations WHERE tenant_id = ? AND idempotency_key = ?')
        .get(tenantId, idempotencyKey) as { previous_state: OrderState } | undefined;
      const order = this.findOrder(tenantId, orderId);
      if (!order) return 'not-found' as const;
      if (done) return { previous: done.previous_state, order };
      if (order.state !== 'placed') return 'not-cancellable' as const;
      this.db.prepare("UPDATE orders SET state = 'cancelled' WHERE tenant_id = ? AND order_id = ?").run(tenantId, orderId);
      this.db.prepare('INSERT INTO cancellations VALUES (?, ?, ?, ?, ?)').run(idempotencyKey, tenantId, orderId, order.state, new Date().toISOString());
      return { previous: order.state, order: this.findOrder(tenantId, orderId)! };
    });
    return cancel.immediate();
  }

  /** How many times the provider moved money for a key: the side-effect count tests assert on. */
  countProviderRefunds(filter: { idempotencyKey?: string; orderId?: string } = {}): number {
    const row = this.db
      .prepare('SELECT COUNT(*) AS n FROM provider_refunds WHERE (? IS NULL OR idempotency_key = ?) AND (? IS NULL OR order_id = ?)')
      .get(filter.idempotencyKey ?? null, filter.idempotencyKey ?? null, filter.orderId ?? null, filter.orderId ?? null) as { n: number };
    return row.n;
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
