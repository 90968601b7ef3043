// A worker serving the HTTP test tools in a process of its own, so a test can kill it mid-call.
// Configured by environment: HOLDLINE_TEST_TEMPORAL_ADDRESS, HOLDLINE_TEST_WORKFLOW_BUNDLE,
// WORKER_TASK_QUEUE, HTTP_ENDPOINT_URL, HTTP_TEST_TOKEN.
import { NativeConnection } from '@temporalio/worker';
import pino from 'pino';
import { createHttpToolSource } from '../../../src/activities/http';
import { installTemporalRuntime } from '../../../src/runtime/temporal';
import { createToolWorker } from '../../../src/runtime/worker';
import { httpTestTools } from './http-tools';

async function main(): Promise<void> {
  installTemporalRuntime(pino({ level: 'error' }), 'ERROR');
  const source = createHttpToolSource(httpTestTools(process.env.HTTP_ENDPOINT_URL!));
  const connection = await NativeConnection.connect({ address: process.env.HOLDLINE_TEST_TEMPORAL_ADDRESS! });
  const worker = await createToolWorker({
    connection,
    namespace: 'default',
    taskQueue: process.env.WORKER_TASK_QUEUE!,
    tools: [],
    sources: [source],
    workflowBundle: { codePath: process.env.HOLDLINE_TEST_WORKFLOW_BUNDLE! },
  });
  process.stdout.write('worker ready\n');
  // The worker shuts down on SIGINT/SIGTERM; then release what keeps the process alive.
  await worker.run();
  await connection.close();
  await source.close();
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
