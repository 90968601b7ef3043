import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from 'pino';
import type { Config } from './config';

/** Connection settings shared by the worker and the client. */
export function connectionOptions(config: Pick<Config, 'TEMPORAL_API_KEY' | 'TEMPORAL_TLS'>, address: string) {
  const tls = config.TEMPORAL_TLS === 'true' || (config.TEMPORAL_TLS === undefined && Boolean(config.TEMPORAL_API_KEY));
  return { address, tls, ...(config.TEMPORAL_API_KEY ? { apiKey: config.TEMPORAL_API_KEY } : {}) };
}

let runtimeInstalled = false;

/**
 * Routes the Temporal SDK's own logs into the process logger. Must run before
 * the first worker or native connection; later calls do nothing.
 */
export function installTemporalRuntime(logger: Logger, level: LogLevel = 'WARN'): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const child = logger.child({ component: 'temporal-sdk' });
  Runtime.install({
    logger: new DefaultLogger(level, ({ level: sdkLevel, message, meta }) => {
      const method = sdkLevel === 'ERROR' ? 'error' : sdkLevel === 'WARN' ? 'warn' : sdkLevel === 'INFO' ? 'info' : 'debug';
      child[method](meta ?? {}, message);
    }),
  });
}

/**
 * A client on the worker's native connection: with a worker in the same
 * process, the server can hand the first workflow task straight back in the
 * start response (eager start), saving one dispatch per call.
 */
export function clientOnNativeConnection(connection: NativeConnection, namespace: string): Client {
  return new Client({ connection, namespace });
}

/** A client for a server process without a worker; connects lazily, so a Temporal that is down does not stop start-up. */
export function lazyClient(config: Pick<Config, 'TEMPORAL_API_KEY' | 'TEMPORAL_TLS' | 'TEMPORAL_NAMESPACE'>, address: string): Client {
  return new Client({ connection: Connection.lazy(connectionOptions(config, address)), namespace: config.TEMPORAL_NAMESPACE });
}

export async function connectNative(config: Pick<Config, 'TEMPORAL_API_KEY' | 'TEMPORAL_TLS'>, address: string): Promise<NativeConnection> {
  return NativeConnection.connect(connectionOptions(config, address));
}
