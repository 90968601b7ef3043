import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from 'pino';
import type { Config } from './config';
import { clientTracingInterceptors, type Tracing } from './tracing';

/** Connection settings shared by the worker and the client. */
type TemporalAuth = Partial<Pick<Config, 'TEMPORAL_API_KEY' | 'TEMPORAL_TLS'>>;

export function connectionOptions(config: TemporalAuth, address: string) {
  const tls = config.TEMPORAL_TLS === 'true' || (config.TEMPORAL_TLS === undefined && Boolean(config.TEMPORAL_API_KEY));
  return { address, tls, ...(config.TEMPORAL_API_KEY ? { apiKey: config.TEMPORAL_API_KEY } : {}) };
}

export interface TemporalRuntimeOptions {
  /**
   * Signals on which the SDK shuts its workers down by itself. Default: the
   * SDK's (SIGINT, SIGTERM, SIGQUIT, SIGUSR2). A process that stops its
   * workers itself passes `[]`, so a worker never stops behind its back.
   */
  shutdownSignals?: NodeJS.Signals[];
}

/**
 * Routes the Temporal SDK's own logs into the process logger. Must run before
 * each native connection: while a runtime exists, later calls do nothing, and
 * the SDK drops its runtime when the last connection closes or fails to open.
 */
export function installTemporalRuntime(logger: Logger, level: LogLevel = 'WARN', options: TemporalRuntimeOptions = {}): void {
  if (Runtime._instance) return;
  const child = logger.child({ component: 'temporal-sdk' });
  Runtime.install({
    ...(options.shutdownSignals ? { shutdownSignals: options.shutdownSignals } : {}),
    // Forward the native core's logs too, so nothing bypasses the JSON log.
    telemetryOptions: { logging: { filter: { core: level, other: level }, forward: {} } },
    logger: new DefaultLogger(level, ({ level: sdkLevel, message, meta }) => {
      const method = sdkLevel === 'ERROR' ? 'error' : sdkLevel === 'WARN' ? 'warn' : sdkLevel === 'INFO' ? 'info' : 'debug';
      const suppressed = retryLogs.admit(message, meta);
      if (suppressed === false) return;
      child[method]({ ...meta, ...(suppressed ? { suppressed_since_last: suppressed } : {}) }, message);
    }),
  });
}

/**
 * While Temporal is down, each of a worker's pollers logs every retry ("gRPC
 * call poll_activity_task_queue retried 7 times"): about two warn lines a
 * second for as long as the outage lasts. One line per call per interval says
 * the same; the next line counts the ones left out.
 */
export class RetryLogThrottle {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** false: drop this line; otherwise how many lines like it were dropped since the last one shown. */
  admit(message: string, meta: Record<string, unknown> | undefined): number | false {
    if (meta?.target !== 'temporalio_client::retry') return 0;
    const key = message.replace(/\d+/g, '#');
    const seen = this.last.get(key);
    const now = this.now();
    if (seen && now - seen.at < this.intervalMs) {
      seen.suppressed++;
      return false;
    }
    this.last.set(key, { at: now, suppressed: 0 });
    return seen?.suppressed ?? 0;
  }
}

const retryLogs = new RetryLogThrottle();

/**
 * gRPC-js waits up to 120 s between reconnects to a server that stays down, so
 * a Temporal that comes back after a long outage would go unnoticed for two
 * minutes; 5 s at most keeps recovery within a few seconds.
 */
const RECONNECT_BACKOFF = { 'grpc.initial_reconnect_backoff_ms': 500, 'grpc.max_reconnect_backoff_ms': 5_000 };

/**
 * The gateway's client. It is a gRPC-js connection rather than the worker's
 * native one because the native client retries an unavailable server for
 * ~10 s whatever the deadline, and a caller must hear BACKEND_UNAVAILABLE
 * within 2 s. It connects lazily, so a Temporal that is down does not stop
 * start-up.
 */
export function gatewayClient(config: TemporalAuth & Pick<Config, 'TEMPORAL_NAMESPACE'>, address: string, tracing?: Tracing): Client {
  const interceptors = clientTracingInterceptors(tracing);
  return new Client({
    connection: Connection.lazy({ ...connectionOptions(config, address), channelArgs: RECONNECT_BACKOFF }),
    namespace: config.TEMPORAL_NAMESPACE,
    ...(interceptors ? { interceptors } : {}),
  });
}

export async function connectNative(config: TemporalAuth, address: string): Promise<NativeConnection> {
  return NativeConnection.connect(connectionOptions(config, address));
}
