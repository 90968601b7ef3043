import Database from 'better-sqlite3';

/**
 * The chaos run's view of the example store's SQLite file, opened beside the
 * worker's: it creates a fresh order for each trial and reads back what the
 * payment provider and the refunds ledger hold, to check the invariants.
 */
export interface OrderMoney {
  totalCents: number;
  /** The order row's refunded_cents. */
  refundedCents: number;
  /** Money the provider moved, one row per key. */
  payments: { key: string; amountCents: number }[];
  /** Refunds the ledger recorded, one row per key. */
  refunds: { key: string; amountCents: number }[];
}

export class Ledger {
  private readonly db: Database.Database;
  private nextOrder = 100_000 + Math.floor(Math.random() * 800_000);

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('busy_timeout = 5000');
  }

  /** A new order of `totalCents` for the tenant, delivered (so refundable) or placed (so cancellable), with an id no other trial uses. */
  newOrder(tenantId: string, totalCents: number, state: 'delivered' | 'placed' = 'delivered'): string {
    const orderId = `C-${this.nextOrder++}`;
    this.db
      .prepare(
        `INSERT INTO orders (tenant_id, order_id, state, items, total_cents, refunded_cents, currency, placed_at)
         VALUES (?, ?, ?, ?, ?, 0, 'USD', ?)`,
      )
      .run(tenantId, orderId, state, JSON.stringify([{ sku: 'CH-01', name: 'Chaos test item', quantity: 1 }]), totalCents, new Date().toISOString());
    return orderId;
  }

  money(tenantId: string, orderId: string): OrderMoney {
    const order = this.db.prepare('SELECT total_cents, refunded_cents FROM orders WHERE tenant_id = ? AND order_id = ?').get(tenantId, orderId) as
      | { total_cents: number; refunded_cents: number }
      | undefined;
    if (!order) throw new Error(`no order ${tenantId}/${orderId}`);
    const rows = (table: string) =>
      this.db.prepare(`SELECT idempotency_key AS key, amount_cents AS amountCents FROM ${table} WHERE tenant_id = ? AND order_id = ?`).all(tenantId, orderId) as {
        key: string;
        amountCents: number;
      }[];
    return { totalCents: order.total_cents, refundedCents: order.refunded_cents, payments: rows('provider_refunds'), refunds: rows('refunds') };
  }

  /** How many times the provider moved money under a key. */
  paymentsFor(key: string): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM provider_refunds WHERE idempotency_key = ?').get(key) as { n: number }).n;
  }

  close(): void {
    this.db.close();
  }
}
