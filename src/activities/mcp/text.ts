/**
 * Text from an MCP server reaches a model, a user's ears and the logs: control
 * characters go, and its length is bounded.
 */

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u200B-\u200F\u2028\u2029\u202A-\u202E\u2066-\u2069]/g;

/** One line: control characters dropped, whitespace runs collapsed, at most `max` characters (an ellipsis marks a cut). */
export function oneLine(text: string, max: number): string {
  const clean = text.replace(CONTROL, '').replace(/\s+/g, ' ').trim();
  return clean.length <= max ? clean : `${clean.slice(0, max - 1).trimEnd()}…`;
}

/** Several lines kept as they are, control characters dropped, at most `max` characters. */
export function boundedText(text: string, max: number): { text: string; truncated: boolean } {
  const clean = text.replace(/\r\n?/g, '\n').replace(CONTROL, '');
  return clean.length <= max ? { text: clean, truncated: false } : { text: clean.slice(0, max), truncated: true };
}

/** What went wrong, for a log line or a reason a caller is told: the message and, when there is one, the system's code. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return oneLine(String(error), 300);
  const cause = error.cause as { code?: unknown; message?: unknown } | undefined;
  const code = (error as { code?: unknown }).code ?? cause?.code;
  const detail = typeof cause?.message === 'string' && cause.message !== error.message ? `: ${cause.message}` : '';
  const withCode = typeof code === 'string' && !error.message.includes(code) && !detail.includes(code) ? ` (${code})` : '';
  return oneLine(`${error.message}${detail}${withCode}`, 300);
}
