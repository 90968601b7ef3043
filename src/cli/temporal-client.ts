import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import type { Command } from 'commander';
import { ConfigError, loadConfig } from '../runtime/config';
import { connectionOptions } from '../runtime/temporal';
import { CliError, EXIT } from './exit-codes';

export interface TemporalOptions {
  address?: string;
  namespace?: string;
}

/** Adds --address and --namespace to a command that reads Temporal directly. */
export function withTemporal(command: Command): Command {
  return command
    .option('--address <host:port>', 'Temporal\'s frontend (default: TEMPORAL_ADDRESS, else the local dev server at 127.0.0.1:$TEMPORAL_DEV_PORT, 7233)')
    .option('--namespace <name>', 'Temporal namespace (default: TEMPORAL_NAMESPACE, else default)');
}

/** A client of Temporal (API key and TLS from the environment, as Holdline's own); fails with exit 3 when nothing answers. */
export async function connectTemporal(options: TemporalOptions): Promise<Client> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(error.message, EXIT.usage);
    throw error;
  }
  const address = options.address ?? config.TEMPORAL_ADDRESS ?? `127.0.0.1:${config.TEMPORAL_DEV_PORT}`;
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...connectionOptions(config, address), connectTimeout: '5s' });
  } catch (error) {
    throw new CliError(
      `no Temporal answered at ${address} (${(error as Error).message.split('\n')[0]}): start Holdline with \`npx holdline start\` (it runs a dev server), or pass --address or set TEMPORAL_ADDRESS`,
      EXIT.unreachable,
    );
  }
  return new Client({ connection, namespace: options.namespace ?? config.TEMPORAL_NAMESPACE });
}

/** The "not found" answer for a workflow id, with what to try. */
export function workflowNotFound(workflowId: string, namespace: string): CliError {
  return new CliError(
    `no workflow ${workflowId} in namespace ${namespace}: a call's workflow id is <tenant>/<user>/<call_id> (\`npx holdline calls --json\` prints it)`,
    EXIT.notFound,
  );
}

/** Whether Temporal said the workflow does not exist (history reads answer with a bare gRPC NOT_FOUND). */
export function isWorkflowNotFound(error: unknown): boolean {
  return error instanceof WorkflowNotFoundError || (error as { code?: unknown }).code === GRPC_NOT_FOUND;
}

const GRPC_NOT_FOUND = 5;
