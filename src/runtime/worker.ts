import { Worker, type NativeConnection, type WorkflowBundleOption } from '@temporalio/worker';
import { activitiesOf, type ToolImplementation } from '../activities';

export interface ToolWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  tools: readonly ToolImplementation[];
  /** A prebuilt workflow bundle; default: bundle `src/workflows` at start (a few seconds). */
  workflowBundle?: WorkflowBundleOption;
  identity?: string;
}

/**
 * Progress must reach readers within ~300 ms: heartbeats are otherwise sent at
 * most every 0.8 × heartbeatTimeout (30 s without one).
 */
export const HEARTBEAT_THROTTLE = '100ms';

/** The worker that runs `toolCallWorkflow` and one activity per tool. */
export async function createToolWorker(options: ToolWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: require.resolve('../workflows') }),
    activities: activitiesOf(options.tools),
    maxHeartbeatThrottleInterval: HEARTBEAT_THROTTLE,
    defaultHeartbeatThrottleInterval: HEARTBEAT_THROTTLE,
    ...(options.identity ? { identity: options.identity } : {}),
  });
}
