/**
 * How the scripted model turns what the user says into function calls. The
 * rules are deliberately few and documented in the README:
 *   "look up order A-1001"              → lookup_order {order_id}
 *   "refund order A-1003" [for $5.50]   → refund_order {order_id, amount_cents?, reason}
 *   "cancel order A-1001"               → cancel_order {order_id, reason}
 *   "call <tool> with <json>"           → exactly that call, valid or not (for demos and tests)
 * Several in one message become several calls in one response, in order.
 * "hang up" makes the model drop the connection (to test that path).
 * "stream 400 frames of 32 KB" makes it answer with that much audio at once
 * (to test a client that stops reading).
 */
export interface PlannedCall {
  name: string;
  arguments: Record<string, unknown>;
}

const ORDER = '([A-Za-z]{1,3}-\\d{3,10})';
const REASON = 'requested by the customer';

const RULES: { pattern: RegExp; plan: (match: RegExpExecArray) => PlannedCall }[] = [
  {
    pattern: new RegExp(`\\blook\\s*up\\s+order\\s+${ORDER}`, 'gi'),
    plan: (m) => ({ name: 'lookup_order', arguments: { order_id: m[1]!.toUpperCase() } }),
  },
  {
    pattern: new RegExp(`\\brefund\\s+order\\s+${ORDER}(?:\\s+(?:for\\s+)?\\$?(\\d+(?:\\.\\d{1,2})?))?`, 'gi'),
    plan: (m) => ({
      name: 'refund_order',
      arguments: { order_id: m[1]!.toUpperCase(), ...(m[2] ? { amount_cents: Math.round(Number(m[2]) * 100) } : {}), reason: REASON },
    }),
  },
  {
    pattern: new RegExp(`\\bcancel\\s+order\\s+${ORDER}`, 'gi'),
    plan: (m) => ({ name: 'cancel_order', arguments: { order_id: m[1]!.toUpperCase(), reason: REASON } }),
  },
];

const RAW_CALL = /^\s*call\s+(\S+)\s+with\s+(.*)$/is;

export function planCalls(text: string): PlannedCall[] {
  const raw = RAW_CALL.exec(text);
  if (raw) {
    let args: Record<string, unknown>;
    try {
      args = JSON.parse(raw[2]!) as Record<string, unknown>;
    } catch {
      args = { unparsed: raw[2] };
    }
    return [{ name: raw[1]!, arguments: args }];
  }
  const found: { at: number; call: PlannedCall }[] = [];
  for (const rule of RULES) {
    rule.pattern.lastIndex = 0;
    for (let match = rule.pattern.exec(text); match; match = rule.pattern.exec(text)) found.push({ at: match.index, call: rule.plan(match) });
  }
  return found.sort((a, b) => a.at - b.at).map((f) => f.call);
}

export const wantsHangUp = (text: string): boolean => /\bhang\s*up\b/i.test(text);

/** "stream <n> frames of <k> KB": a burst of audio deltas, bounded so a typo cannot exhaust memory. */
export function wantsStream(text: string): { frames: number; bytes: number } | undefined {
  const match = /\bstream\s+(\d{1,5})\s+frames?\s+of\s+(\d{1,4})\s*KB\b/i.exec(text);
  if (!match) return undefined;
  return { frames: Math.min(Number(match[1]), 10_000), bytes: Math.min(Number(match[2]), 1_024) * 1024 };
}
