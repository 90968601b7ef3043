import { implementTool, NOTHING_COMMITTED, ToolFailure, type ToolImplementation } from 'holdline';
import type { SupportStore } from './store';
import { cancelOrder, lookupOrder, refundOrder } from './tools';
import { orderNotFound } from './errors';
import { DEFAULT_REFUND_TIMINGS, refundOrderHandler, type RefundTimings } from './refund-order';

export interface SupportToolDeps {
  /** SQLite (`OrderStore`) or PostgreSQL (`PostgresOrderStore`). */
  store: SupportStore;
  refundTimings?: Partial<RefundTimings>;
  /**
   * Milliseconds each store request of the tools waits first, read at each
   * request: a slow database, for tests and benchmarks of a slow downstream.
   * The fallback reads without it, as a replica would. Default 0.
   */
  storeDelayMs?: number | (() => number);
}

/** The example tools of a customer-support voice agent, on the given store. */
export function createSupportTools({ store: primary, refundTimings, storeDelayMs }: SupportToolDeps): ToolImplementation[] {
  const store = storeDelayMs ? delayed(primary, typeof storeDelayMs === 'number' ? () => storeDelayMs : storeDelayMs) : primary;
  const lookup = implementTool(lookupOrder, async ({ order_id }, ctx) => readOrder(store, ctx.tenantId, order_id), {
    // While Temporal is unreachable (or the tool's breaker is open) the server answers from the store directly: a read, deterministic.
    fallback: async ({ order_id }, caller) => readOrder(primary, caller.tenantId, order_id),
  });

  const refund = implementTool(refundOrder, refundOrderHandler(store, { ...DEFAULT_REFUND_TIMINGS, ...refundTimings }));

  const cancel = implementTool(cancelOrder, async ({ order_id }, ctx) => {
    const result = ctx.settling ? await store.settleCancellation(ctx.tenantId, ctx.idempotencyKey) : await store.cancelOrder(ctx.tenantId, order_id, ctx.idempotencyKey);
    if (result === 'not-found') throw orderNotFound(order_id);
    if (result === 'not-cancellable') {
      const state = (await store.findOrder(ctx.tenantId, order_id))?.state;
      throw new ToolFailure('ORDER_NOT_CANCELLABLE', `Order ${order_id} is ${state} and can no longer be cancelled`);
    }
    if (result === 'nothing-committed' || result === 'voided') {
      throw new ToolFailure(NOTHING_COMMITTED, `Order ${order_id} was not cancelled`);
    }
    return { order_id, state: result.order.state, previous_state: result.previous };
  });

  return [lookup, refund, cancel];
}

/** The store, each request waiting `delayMs()` first. */
function delayed(store: SupportStore, delayMs: () => number): SupportStore {
  return new Proxy(store, {
    get(target, name, receiver) {
      const value: unknown = Reflect.get(target, name, receiver);
      if (typeof value !== 'function' || name === 'close') return value;
      return async (...args: unknown[]) => {
        const ms = delayMs();
        if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/** An order as the caller's tenant may see it; another tenant's order is "not found". */
export async function readOrder(store: SupportStore, tenantId: string, orderId: string) {
  const order = await store.findOrder(tenantId, orderId);
  if (!order) throw orderNotFound(orderId);
  const { tenant_id: _tenant, ...visible } = order;
  return visible;
}
