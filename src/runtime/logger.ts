import pino, { type Logger } from 'pino';

export type { Logger };

/** One JSON object per line on stdout; `LOG_LEVEL` sets the threshold. */
export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { service: 'holdline', ...bindings }, timestamp: pino.stdTimeFunctions.isoTime });
}
