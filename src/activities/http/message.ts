/**
 * What an endpoint says about a failure reaches the model and the user: it is
 * bounded and stripped of anything that could steer a renderer or a log
 * reader (control and bidi characters, markup) before it goes anywhere.
 */

/** Longest message taken from an endpoint, in characters. */
export const MAX_MESSAGE_CHARS = 300;

// C0/C1 controls, zero-width and bidirectional formatting characters, BOM.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/g;

/** The message as safe text: no markup, no control characters, whitespace collapsed, at most `max` characters. */
export function sanitizeMessage(text: string, max = MAX_MESSAGE_CHARS): string {
  const plain = text
    .replace(/<(script|style)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<\/?[a-zA-Z][^<>]*>/g, ' ')
    .replace(/[<>]/g, ' ')
    .replace(INVISIBLE, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const chars = Array.from(plain);
  return chars.length <= max ? plain : `${chars.slice(0, max - 1).join('').trimEnd()}…`;
}

/**
 * The endpoint's own message in an error body: JSON `message`, `error` (a
 * string) or `error.message`, else the body as text; sanitized. Undefined when
 * nothing readable is left.
 */
export function endpointMessageOf(body: string): string | undefined {
  let text = body;
  try {
    const parsed: unknown = JSON.parse(body);
    const found = messageIn(parsed);
    if (found !== undefined) text = found;
    else if (typeof parsed === 'string') text = parsed;
  } catch {
    // Not JSON: the text is the message.
  }
  const message = sanitizeMessage(text);
  return message || undefined;
}

function messageIn(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { message, error } = value as { message?: unknown; error?: unknown };
  if (typeof message === 'string' && message.trim()) return message;
  if (typeof error === 'string' && error.trim()) return error;
  if (typeof error === 'object' && error !== null) {
    const nested = (error as { message?: unknown }).message;
    if (typeof nested === 'string' && nested.trim()) return nested;
  }
  return undefined;
}
