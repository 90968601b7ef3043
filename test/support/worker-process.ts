// A tool worker in a process of its own, so a test can kill it mid-call.
// Configured by environment: HOLDLINE_TEST_TEMPORAL_ADDRESS, HOLDLINE_TEST_WORKFLOW_BUNDLE,
// WORKER_TASK_QUEUE, WORKER_STORE_PATH, WORKER_REFUND_STAGE_MS.
import { NativeConnection } from '@temporalio/worker';
import pino from 'pino';
import { createSupportTools, OrderStore } from '../../examples/support-desk';
import { installTemporalRuntime } from '../../src/runtime/temporal';
import { createToolWorker } from '../../src/runtime/worker';

async function main(): Promise<void> {
  installTemporalRuntime(pino({ level: 'error' }), 'ERROR');
  const store = new OrderStore(process.env.WORKER_STORE_PATH!);
  const connection = await NativeConnection.connect({ address: process.env.HOLDLINE_TEST_TEMPORAL_ADDRESS! });
  const worker = await createToolWorker({
    connection,
    namespace: 'default',
    taskQueue: process.env.WORKER_TASK_QUEUE!,
    tools: createSupportTools({ store, refundTimings: { stageMs: Number(process.env.WORKER_REFUND_STAGE_MS ?? 400), progressEveryMs: 100 } }),
    workflowBundle: { codePath: process.env.HOLDLINE_TEST_WORKFLOW_BUNDLE! },
  });
  process.stdout.write('worker ready\n');
  // The worker shuts down on SIGINT/SIGTERM; then release what keeps the process alive.
  await worker.run();
  await connection.close();
  store.close();
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
