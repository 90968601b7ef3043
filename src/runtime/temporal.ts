import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from 'pino';
import type { Config } from './config';

/** Connection settings shared by the worker and the client. */
type TemporalAuth = Partial<Pick<Config, 'TEMPORAL_API_KEY' | 'TEMPORAL_TLS'>>;

export function connectionOptions(config: TemporalAuth, address: string) {
  const tls = config.TEMPORAL_TLS === 'true' || (config.TEMPORAL_TLS === undefined && Boolean(config.TEMPORAL_API_KEY));
  return { address, tls, ...(config.TEMPORAL_API_KEY ? { apiKey: config.TEMPORAL_API_KEY } : {}) };
}

/**
 * Routes the Temporal SDK's own logs into the process logger. Must run before
 * the first worker or native connection; while a runtime exists, later calls
 * do nothing (the SDK drops its runtime when the last connection closes).
 */
export function installTemporalRuntime(logger: Logger, level: LogLevel = 'WARN'): void {
  if (Runtime._instance) return;
  const child = logger.child({ component: 'temporal-sdk' });
  Runtime.install({
    // Forward the native core's logs too, so nothing bypasses the JSON log.
    telemetryOptions: { logging: { filter: { core: level, other: level }, forward: {} } },
    logger: new DefaultLogger(level, ({ level: sdkLevel, message, meta }) => {
      const method = sdkLevel === 'ERROR' ? 'error' : sdkLevel === 'WARN' ? 'warn' : sdkLevel === 'INFO' ? 'info' : 'debug';
      child[method](meta ?? {}, message);
    }),
  });
}

/**
 * The gateway's client. It is a gRPC-js connection rather than the worker's
 * native one because the native client retries an unavailable server for
 * ~10 s whatever the deadline, and a caller must hear BACKEND_UNAVAILABLE
 * within 2 s. It connects lazily, so a Temporal that is down does not stop
 * start-up.
 */
export function gatewayClient(config: TemporalAuth & Pick<Config, 'TEMPORAL_NAMESPACE'>, address: string): Client {
  return new Client({ connection: Connection.lazy(connectionOptions(config, address)), namespace: config.TEMPORAL_NAMESPACE });
}

export async function connectNative(config: TemporalAuth, address: string): Promise<NativeConnection> {
  return NativeConnection.connect(connectionOptions(config, address));
}
