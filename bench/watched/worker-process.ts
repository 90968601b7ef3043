// Holdline's worker as `npm run worker` builds it (one workflow bundle, the
// progress channel of HOLDLINE_REDIS_URL), run BENCH_WORKERS times in one
// process: one worker executes at most 100 activities at once (the SDK's
// default), and the bench keeps 500 long calls running together.
// Tells its parent `ready` over IPC once every worker polls; SIGTERM stops it.
import { loadConfig } from '../../src/runtime/config';
import { createLogger } from '../../src/runtime/logger';
import { openProgressChannel } from '../../src/runtime/progress-channels';
import { connectNative, installTemporalRuntime } from '../../src/runtime/temporal';
import { bundleToolWorkflows, createToolWorker } from '../../src/runtime/worker';
import { benchLongProgressTool } from './long-tool';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger(config.LOG_LEVEL, { role: 'worker' });
  installTemporalRuntime(logger, 'WARN', { shutdownSignals: [] });
  const address = config.TEMPORAL_ADDRESS;
  if (!address) throw new Error('TEMPORAL_ADDRESS is required');
  const count = Number(process.env.BENCH_WORKERS ?? '1');
  const progress = openProgressChannel({ redisUrl: config.HOLDLINE_REDIS_URL, namespace: config.TEMPORAL_NAMESPACE, role: 'worker', logger });
  const workflowBundle = await bundleToolWorkflows(logger);
  // One connection each: the SDK refuses two workers of one task queue on one connection.
  const connections = await Promise.all(Array.from({ length: count }, () => connectNative(config, address)));
  const tools = [benchLongProgressTool()];
  const workers = await Promise.all(
    connections.map((connection) =>
      createToolWorker({ connection, namespace: config.TEMPORAL_NAMESPACE, taskQueue: config.TEMPORAL_TASK_QUEUE, tools, workflowBundle, ...(progress ? { progress } : {}) }),
    ),
  );
  const runs = workers.map((worker) => worker.run());
  for (const run of runs) void run.catch((error: unknown) => logger.error({ err: error }, 'a bench worker stopped'));
  process.send?.('ready');
  process.once('SIGTERM', () => {
    for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
    void Promise.allSettled(runs)
      .then(() => Promise.allSettled([...connections.map((connection) => connection.close()), progress?.close()]))
      .then(() => process.exit(0));
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`bench worker: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
