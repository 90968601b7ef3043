import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';

export interface TaskQueuePollersOptions {
  client: Client;
  taskQueue: string;
  registry: Registry;
  logger: Logger;
  /** How often Temporal is asked. Default 15 s. */
  everyMs?: number;
  /** Deadline of each question. Default 2 s. */
  timeoutMs?: number;
}

// temporal.api.enums.v1.TaskQueueType: TASK_QUEUE_TYPE_WORKFLOW = 1, TASK_QUEUE_TYPE_ACTIVITY = 2.
const KINDS = [
  ['workflow', 1],
  ['activity', 2],
] as const;

/**
 * Sets `holdline_task_queue_pollers{kind}` to the pollers Temporal reports on
 * the task queue (workers that polled it lately), at once and then every
 * `everyMs`: at 0, calls are accepted and nothing runs them ("worker absent").
 * A question Temporal does not answer leaves the gauge as it was; Temporal
 * being down has its own breaker, metric and log lines. Returns a stop.
 */
export function watchTaskQueuePollers(options: TaskQueuePollersOptions): () => void {
  const gauge = new Gauge({
    name: 'holdline_task_queue_pollers',
    help: 'Workers polling the task queue as Temporal reports them, by kind (workflow, activity); read by the server every 15 s',
    labelNames: ['kind'] as const,
    registers: [options.registry],
  });
  const { client, taskQueue, logger } = options;
  const timeoutMs = options.timeoutMs ?? 2_000;
  let stopped = false;
  const read = async () => {
    for (const [kind, taskQueueType] of KINDS) {
      try {
        const response = await client.connection.withDeadline(Date.now() + timeoutMs, () =>
          client.workflowService.describeTaskQueue({ namespace: client.options.namespace, taskQueue: { name: taskQueue }, taskQueueType }),
        );
        if (!stopped) gauge.set({ kind }, response.pollers?.length ?? 0);
      } catch (error) {
        logger.debug({ err: error, task_queue: taskQueue, kind }, 'could not read the task queue pollers');
      }
    }
  };
  let reading = read();
  const timer = setInterval(() => {
    reading = reading.then(read);
  }, options.everyMs ?? 15_000);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
