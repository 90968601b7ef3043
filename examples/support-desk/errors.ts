import { ToolFailure } from 'holdline';

/** The same answer whether the order does not exist or belongs to another tenant: existence is not revealed. */
export function orderNotFound(orderId: string): ToolFailure {
  return new ToolFailure('ORDER_NOT_FOUND', `No order ${orderId} was found`);
}
