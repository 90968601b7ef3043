/**
 * What the scripted model says about a tool's envelope: short, spoken-style
 * sentences, as a voice agent would answer.
 */
type Json = Record<string, unknown>;

const money = (cents: unknown) => (typeof cents === 'number' ? `$${(cents / 100).toFixed(2)}` : 'the amount');

export function speakEnvelope(tool: string, envelope: Json): string {
  if (envelope.cancel === 'completed_before_cancel') return `That had already gone through before you interrupted. ${speakEnvelope(tool, { ...envelope, cancel: undefined })}`;
  if (envelope.status === 'pending') {
    return /approval/i.test(String(envelope.message)) ? 'I need your okay before I do that. Shall I go ahead?' : "I'm working on that now; it will take a moment.";
  }
  if (envelope.status === 'error') {
    if (envelope.error_code === 'CANCELLED') return 'Okay, I stopped that. Nothing was changed.';
    if (envelope.error_code === 'APPROVAL_DENIED') return "Okay, I won't do that.";
    return `Sorry, that didn't work: ${String(envelope.message)}`;
  }
  const data = (envelope.data ?? {}) as Json;
  switch (tool) {
    case 'lookup_order':
      return `Order ${String(data.order_id)} is ${String(data.state)}, ${money(data.total_cents)} in total.`;
    case 'refund_order':
      return `Done: I refunded ${money(data.amount_cents)} on order ${String(data.order_id)}.`;
    case 'cancel_order':
      return `Order ${String(data.order_id)} is now cancelled.`;
    default:
      return 'Done.';
  }
}

export function speakProgress(progress: Json): string {
  return `Still working on it, about ${String(progress.pct)} percent done.`;
}

export const HELP = 'I can look up, refund or cancel an order. Which order is it?';
