// A Holdline tool worker in a process of its own, so the chaos run can SIGKILL it.
// The stock worker, except that its store's payment provider sits behind a fault switch.
// Configured by environment: TEMPORAL_ADDRESS, TEMPORAL_TASK_QUEUE, CHAOS_STORE_PATH,
// CHAOS_FAULT_FILE, CHAOS_WORKFLOW_BUNDLE, CHAOS_REFUND_STAGE_MS, CHAOS_PROGRESS_MS.
import pino from 'pino';
import { createSupportTools } from '../../examples/support-desk';
import { installTemporalRuntime, connectNative } from '../../src/runtime/temporal';
import { loadConfig } from '../../src/runtime/config';
import { createToolWorker } from '../../src/runtime/worker';
import { answerMemoryRequests } from '../memory-probe';
import { FaultyStore } from './faults';

async function main(): Promise<void> {
  answerMemoryRequests();
  installTemporalRuntime(pino({ level: 'error' }), 'ERROR');
  const env = process.env;
  const config = loadConfig();
  const store = new FaultyStore(env.CHAOS_STORE_PATH!, env.CHAOS_FAULT_FILE!);
  const connection = await connectNative(config, env.TEMPORAL_ADDRESS!);
  const worker = await createToolWorker({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    tools: createSupportTools({ store, refundTimings: { stageMs: Number(env.CHAOS_REFUND_STAGE_MS ?? 200), progressEveryMs: Number(env.CHAOS_PROGRESS_MS ?? 50) } }),
    workflowBundle: { codePath: env.CHAOS_WORKFLOW_BUNDLE! },
  });
  process.stdout.write('worker ready\n');
  // Shuts down on SIGINT/SIGTERM; a worker that stops by itself is a failure the run must see.
  await worker.run();
  await connection.close();
  store.close();
}

main().catch((error: unknown) => {
  process.stderr.write(`chaos worker: ${String(error)}\n`);
  process.exit(1);
});
