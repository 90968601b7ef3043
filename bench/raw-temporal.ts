import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { connectionOptions, connectNative } from '../src/runtime/temporal';
import { DEFAULT_HEARTBEAT_THROTTLE_MS } from '../src/runtime/worker';
import * as activities from './raw-activities';
import type { oneActivityWorkflow, oneLocalActivityWorkflow } from './raw-workflows';

/**
 * The baseline: plain Temporal on the same dev server, with a worker tuned
 * exactly like Holdline's (same connection options, same heartbeat
 * throttling) on a task queue of its own, and a plain gRPC-js client like the
 * gateway's.
 */
export interface RawTemporal {
  client: Client;
  /** Starts oneActivityWorkflow and resolves once the start is durable (not when it finishes). */
  start(): Promise<{ workflowId: string }>;
  /** Starts a workflow and waits for its result. */
  execute(kind: RawWorkflowKind): Promise<void>;
  /** Waits for any workflow's result (also Holdline's, by workflow id). */
  resultOf(workflowId: string): Promise<unknown>;
  stop(): Promise<void>;
}

export type RawWorkflowKind = 'activity' | 'local-activity';

const WORKFLOW_OF: Record<RawWorkflowKind, 'oneActivityWorkflow' | 'oneLocalActivityWorkflow'> = {
  activity: 'oneActivityWorkflow',
  'local-activity': 'oneLocalActivityWorkflow',
};

export async function startRawTemporal(address: string, namespace: string): Promise<RawTemporal> {
  const taskQueue = `bench-raw-${randomUUID()}`;
  const native = await connectNative({}, address);
  let worker: Worker;
  try {
    worker = await Worker.create({
      connection: native,
      namespace,
      taskQueue,
      workflowsPath: require.resolve('./raw-workflows'),
      activities,
      // The same throttling createToolWorker sets, so the two workers differ only in what they run.
      maxHeartbeatThrottleInterval: DEFAULT_HEARTBEAT_THROTTLE_MS,
      defaultHeartbeatThrottleInterval: DEFAULT_HEARTBEAT_THROTTLE_MS,
    });
  } catch (error) {
    await native.close();
    throw error;
  }
  const running = worker.run();
  void running.catch((error: unknown) => process.stderr.write(`bench: the raw worker stopped: ${String(error)}\n`));
  const connection = await Connection.connect(connectionOptions({}, address));
  const client = new Client({ connection, namespace });

  const startOptions = () => ({ taskQueue, workflowId: `raw-${randomUUID()}` });
  return {
    client,
    start: async () => {
      const handle = await client.workflow.start<typeof oneActivityWorkflow>('oneActivityWorkflow', startOptions());
      return { workflowId: handle.workflowId };
    },
    execute: async (kind) => {
      await client.workflow.execute<typeof oneActivityWorkflow | typeof oneLocalActivityWorkflow>(WORKFLOW_OF[kind], startOptions());
    },
    resultOf: (workflowId) => client.workflow.getHandle(workflowId).result(),
    stop: async () => {
      await connection.close();
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await native.close();
    },
  };
}
