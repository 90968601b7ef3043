import { implementTool, NOTHING_COMMITTED, ToolFailure, type ToolImplementation } from 'holdline';
import type { SupportStore } from './store';
import { cancelOrder, lookupOrder, refundOrder } from './tools';
import { orderNotFound } from './errors';
import { DEFAULT_REFUND_TIMINGS, refundOrderHandler, type RefundTimings } from './refund-order';

export interface SupportToolDeps {
  /** SQLite (`OrderStore`) or PostgreSQL (`PostgresOrderStore`). */
  store: SupportStore;
  refundTimings?: Partial<RefundTimings>;
}

/** The example tools of a customer-support voice agent, on the given store. */
export function createSupportTools({ store, refundTimings }: SupportToolDeps): ToolImplementation[] {
  const lookup = implementTool(lookupOrder, async ({ order_id }, ctx) => readOrder(store, ctx.tenantId, order_id), {
    // While Temporal is unreachable the server answers from the store directly: a read, deterministic.
    fallback: async ({ order_id }, caller) => readOrder(store, caller.tenantId, order_id),
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

/** An order as the caller's tenant may see it; another tenant's order is "not found". */
export async function readOrder(store: SupportStore, tenantId: string, orderId: string) {
  const order = await store.findOrder(tenantId, orderId);
  if (!order) throw orderNotFound(orderId);
  const { tenant_id: _tenant, ...visible } = order;
  return visible;
}
