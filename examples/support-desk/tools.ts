import { z } from 'zod';
import { defineTool } from 'holdline';

/**
 * The tools of a voice customer-support agent, declared with Holdline's
 * public API. Declarations only: `handlers.ts` implements them, typed from
 * these schemas.
 */

const OrderId = z
  .string()
  .regex(/^[A-Z]{1,3}-\d{3,10}$/, 'an order id looks like A-1001')
  .describe('The order number the customer gives, e.g. A-1001');

const OrderState = z.enum(['placed', 'shipped', 'delivered', 'cancelled', 'refunded']);

const Reason = z.string().trim().min(3).max(500).describe("The customer's reason, in their words");

export const lookupOrder = defineTool({
  name: 'lookup_order',
  description: 'Look up an order: its state, items, total and how much was refunded. Use when the customer asks about an order.',
  input: z.strictObject({ order_id: OrderId }),
  output: z.object({
    order_id: z.string(),
    state: OrderState,
    items: z.array(z.object({ sku: z.string(), name: z.string(), quantity: z.number().int() })),
    total_cents: z.number().int(),
    refunded_cents: z.number().int(),
    currency: z.string(),
    placed_at: z.string(),
  }),
  scopes: ['orders:read'],
  sideEffect: 'read',
  runAs: 'local-activity',
  budget: { ackAfterMs: 2_000, timeoutMs: 5_000, attemptTimeoutMs: 2_000 },
  retry: { maxAttempts: 3, nonRetryableErrorTypes: ['ORDER_NOT_FOUND'] },
  // The fallback reads the store without the workflow's audit trail; a production one would read a replica that may lag.
  fallbackConfidence: 0.9,
});

export const refundOrder = defineTool({
  name: 'refund_order',
  description:
    'Refund an order, fully or in part. Takes several seconds; tell the customer you are working on it. ' +
    'Leave amount_cents out to refund what remains of the order.',
  input: z.strictObject({
    order_id: OrderId,
    amount_cents: z.number().int().positive().max(10_000_000).optional().describe('Amount to refund in cents; default: the rest of the order'),
    reason: Reason,
  }),
  output: z.object({
    refund_id: z.string(),
    order_id: z.string(),
    amount_cents: z.number().int(),
    refunded_total_cents: z.number().int(),
    state: OrderState,
  }),
  scopes: ['orders:refund'],
  sideEffect: 'write',
  budget: { ackAfterMs: 0, timeoutMs: 30_000, attemptTimeoutMs: 15_000, heartbeatTimeoutMs: 2_000 },
  retry: {
    maxAttempts: 4,
    initialIntervalMs: 250,
    nonRetryableErrorTypes: ['ORDER_NOT_FOUND', 'NOTHING_TO_REFUND', 'REFUND_EXCEEDS_BALANCE'],
  },
  cancellable: true,
  // An attempt can die after the provider moved the money and before the ledger row: a settle attempt records it.
  settles: true,
  sensitive: ['reason'],
});

export const cancelOrder = defineTool({
  name: 'cancel_order',
  description: 'Cancel an order that has not shipped yet. The customer must approve before it runs.',
  input: z.strictObject({ order_id: OrderId, reason: Reason }),
  output: z.object({ order_id: z.string(), state: OrderState, previous_state: OrderState }),
  scopes: ['orders:write'],
  sideEffect: 'write',
  needsApproval: true,
  budget: { ackAfterMs: 0, timeoutMs: 10_000 },
  retry: { nonRetryableErrorTypes: ['ORDER_NOT_FOUND', 'ORDER_NOT_CANCELLABLE'] },
  // One transaction, but its answer can be lost with its worker: a settle attempt reports a cancellation that happened.
  settles: true,
  sensitive: ['reason'],
});

export const supportTools = [lookupOrder, refundOrder, cancelOrder] as const;
