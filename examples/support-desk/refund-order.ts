import { setTimeout as delay } from 'node:timers/promises';
import { NOTHING_COMMITTED, ToolFailure, type ToolContext, type ToolHandler } from 'holdline';
import type { Order, Payment, Refund, ReserveResult, SupportStore } from './store';
import type { refundOrder } from './tools';
import { orderNotFound } from './errors';

export interface RefundTimings {
  /** Length of the verify stage; contacting the provider takes 1.5×, recording 0.5×. */
  stageMs: number;
  /** How often progress is reported while a stage runs. */
  progressEveryMs: number;
  /** How a stage that must not be cancelled waits. Default: a timer; tests pass one that interleaves attempts. */
  pause?: (ms: number) => Promise<void>;
}

export const DEFAULT_REFUND_TIMINGS: RefundTimings = { stageMs: 1_000, progressEveryMs: 200 };

/**
 * Refunds in three stages: verify, contact the payment provider, record.
 *
 * Every attempt first asks the provider whether it already moved money under
 * the call's idempotency key; if so it goes straight to recording, with no
 * cancellable stage and no balance check (the money is already counted by its
 * reservation). Otherwise the amount is reserved in the same transaction as
 * the balance check, so concurrent refunds of one order under other keys
 * never add up to more than its total, and the provider pays only under that
 * reservation. Cancellable until the provider moves the money; an attempt
 * stopped before then releases its reservation. A settle attempt
 * (`ctx.settling`) records what the provider paid, or voids the key and fails
 * with NOTHING_COMMITTED.
 */
export function refundOrderHandler(store: SupportStore, timings: RefundTimings): ToolHandler<typeof refundOrder> {
  const record = async (ctx: ToolContext, payment: Payment) => {
    await stage(ctx, timings, { stage: 'record', from: 75, to: 100, length: 0.5, message: 'Recording the refund', cancellable: false });
    const { refund, order } = await store.recordRefund(ctx.tenantId, payment);
    ctx.progress({ stage: 'done', pct: 100, message: 'Refund complete' });
    return refundResult(refund, order);
  };

  return async (args, ctx) => {
    const done = await store.findRefund(ctx.tenantId, ctx.idempotencyKey);
    if (done) return refundResult(done, (await store.findOrder(ctx.tenantId, done.order_id))!);
    const paid = await store.findProviderRefund(ctx.tenantId, ctx.idempotencyKey);
    if (paid) return record(ctx, paid);

    if (ctx.settling) {
      // Close the key: a stray attempt still running can no longer reserve or pay under it.
      const released = await store.releaseReservation(ctx.tenantId, ctx.idempotencyKey, { voidKey: true });
      if (released !== 'released') return record(ctx, released);
      throw new ToolFailure(NOTHING_COMMITTED, `No refund of order ${args.order_id} was made`);
    }

    let reserved: ReserveResult;
    try {
      await stage(ctx, timings, { stage: 'verify', from: 0, to: 25, length: 1, message: `Checking order ${args.order_id}`, cancellable: true });
      reserved = await store.reserveRefund(ctx.tenantId, args.order_id, args.amount_cents, ctx.idempotencyKey);
      if ('reserved' in reserved) {
        await stage(ctx, timings, { stage: 'payment', from: 25, to: 75, length: 1.5, message: 'Contacting the payment provider', cancellable: true });
      }
    } catch (error) {
      // Stopped before this attempt paid: give the money back, unless another attempt of this call already paid it.
      const released = await store.releaseReservation(ctx.tenantId, ctx.idempotencyKey);
      if (released !== 'released') return record(ctx, released);
      throw error;
    }
    if ('paid' in reserved) return record(ctx, reserved.paid);
    if ('refused' in reserved) throw refusal(args.order_id, reserved);
    const reservation = reserved.reserved;

    // The money moves here: from now on the refund completes even if cancelled.
    const payment = await store.providerRefund(ctx.tenantId, args.order_id, reservation.amount_cents, ctx.idempotencyKey);
    if (payment === 'no-reservation') {
      // The reservation expired or the call was settled while this attempt waited: nothing moved.
      throw new ToolFailure('RESERVATION_LOST', `The refund of order ${args.order_id} was interrupted; nothing was refunded`, { retryable: true });
    }
    return record(ctx, payment);
  };
}

function refusal(orderId: string, result: Extract<ReserveResult, { refused: unknown }>): ToolFailure {
  switch (result.refused) {
    case 'not-found':
      return orderNotFound(orderId);
    case 'nothing-to-refund':
      return new ToolFailure('NOTHING_TO_REFUND', `Order ${orderId} is already fully refunded`);
    case 'exceeds-balance':
      return new ToolFailure('REFUND_EXCEEDS_BALANCE', `At most ${result.balanceCents} cents of order ${orderId} can still be refunded`);
    case 'voided':
      return new ToolFailure(NOTHING_COMMITTED, `This refund of order ${orderId} was already closed without a refund`);
  }
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
    await (s.cancellable ? ctx.sleep(wait) : (timings.pause ?? delay)(wait));
  }
}
