/**
 * How long to wait before reconnecting to an MCP server after `failures`
 * consecutive failures (1 = the first): doubling from `initialMs`, capped at
 * `maxMs`, shortened at random by up to a fifth so that many workers that lost
 * one server do not all come back in the same instant. Never longer than the
 * cap. `random` returns a number in [0, 1).
 */
export interface ReconnectBackoff {
  /** Default 250 ms. */
  initialMs: number;
  /** Default 10 s: a server that returns is found within ~10 s. */
  maxMs: number;
}

export const DEFAULT_RECONNECT_BACKOFF: Readonly<ReconnectBackoff> = { initialMs: 250, maxMs: 10_000 };

const JITTER = 0.2;

export function reconnectDelay(failures: number, backoff: Readonly<ReconnectBackoff> = DEFAULT_RECONNECT_BACKOFF, random: () => number = Math.random): number {
  const exponent = Math.min(30, Math.max(0, Math.floor(failures) - 1));
  const base = Math.min(backoff.maxMs, backoff.initialMs * 2 ** exponent);
  return Math.round(base * (1 - JITTER * random()));
}
