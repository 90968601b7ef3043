import { setTimeout as delay } from 'node:timers/promises';
import { ToolFailure } from '../../contracts/errors';
import type { ToolContext, ToolHandler } from '../../contracts/tool-spec';
import type { refundOrder } from '../../contracts/tools/support';
import type { Order, OrderStore, Refund } from '../store';
import { orderNotFound } from './errors';

export interface RefundTimings {
  /** Length of the verify stage; contacting the provider takes 1.5×, recording 0.5×. */
  stageMs: number;
  /** How often progress is reported while a stage runs. */
  progressEveryMs: number;
}

export const DEFAULT_REFUND_TIMINGS: RefundTimings = { stageMs: 1_000, progressEveryMs: 200 };

/**
 * Refunds in three stages: verify, contact the payment provider, record.
 * Cancellable until the provider moves the money; from then on it finishes.
 * The idempotency key goes to the provider and the ledger, so an attempt
 * retried after a crash never refunds twice.
 */
export function refundOrderHandler(store: OrderStore, timings: RefundTimings): ToolHandler<typeof refundOrder> {
  return async (args, ctx) => {
    const done = store.findRefund(ctx.tenantId, ctx.idempotencyKey);
    if (done) return refundResult(done, store.findOrder(ctx.tenantId, done.order_id)!);

    await stage(ctx, timings, { stage: 'verify', from: 0, to: 25, length: 1, message: `Checking order ${args.order_id}`, cancellable: true });
    const order = store.findOrder(ctx.tenantId, args.order_id);
    if (!order) throw orderNotFound(args.order_id);
    const balance = order.total_cents - order.refunded_cents;
    const amount = args.amount_cents ?? balance;
    if (balance <= 0) throw new ToolFailure('NOTHING_TO_REFUND', `Order ${args.order_id} is already fully refunded`);
    if (amount > balance) {
      throw new ToolFailure('REFUND_EXCEEDS_BALANCE', `At most ${balance} cents of order ${args.order_id} can still be refunded`);
    }

    await stage(ctx, timings, { stage: 'payment', from: 25, to: 75, length: 1.5, message: 'Contacting the payment provider', cancellable: true });
    // The money moves here: from now on the refund completes even if cancelled.
    const payment = store.providerRefund(ctx.tenantId, args.order_id, amount, ctx.idempotencyKey);

    await stage(ctx, timings, { stage: 'record', from: 75, to: 100, length: 0.5, message: 'Recording the refund', cancellable: false });
    const { refund, order: updated } = store.recordRefund(ctx.tenantId, payment);
    ctx.progress({ stage: 'done', pct: 100, message: 'Refund complete' });
    return refundResult(refund, updated);
  };
}

function refundResult(refund: Refund, order: Order) {
  return { refund_id: refund.refund_id, order_id: refund.order_id, amount_cents: refund.amount_cents, refunded_total_cents: order.refunded_cents, state: order.state };
}

interface Stage {
  stage: string;
  from: number;
  to: number;
  /** In multiples of `stageMs`. */
  length: number;
  message: string;
  cancellable: boolean;
}

async function stage(ctx: ToolContext, timings: RefundTimings, s: Stage): Promise<void> {
  const total = Math.max(1, Math.round(s.length * timings.stageMs));
  const ticks = Math.max(1, Math.ceil(total / timings.progressEveryMs));
  for (let tick = 0; tick < ticks; tick++) {
    ctx.progress({ stage: s.stage, pct: Math.round(s.from + ((s.to - s.from) * tick) / ticks), message: s.message });
    const wait = Math.min(timings.progressEveryMs, total - tick * timings.progressEveryMs);
    // ctx.sleep throws once the call is cancelled; a plain delay does not.
    await (s.cancellable ? ctx.sleep(wait) : delay(wait));
  }
}
