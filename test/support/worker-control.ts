import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';

/**
 * Starts test/support/worker-process.ts on a task queue and store; resolves once it polls.
 * Node itself runs it (not the tsx wrapper), so a SIGKILL reaches the worker.
 */
export function startWorkerProcess(env: { taskQueue: string; storePath: string; refundStageMs: number }): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'worker-process.ts')], {
    env: { ...process.env, WORKER_TASK_QUEUE: env.taskQueue, WORKER_STORE_PATH: env.storePath, WORKER_REFUND_STAGE_MS: String(env.refundStageMs) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('worker ready')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`worker exited early with ${code}`)));
  });
}

/** SIGKILLs a worker process and waits until it is gone. */
export async function killWorkerProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/** Stops a worker process gracefully, SIGKILL after 10 s. */
export async function stopWorkerProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(killer);
}

/** A Temporal client of the suite's dev server, for reading workflow histories. */
export async function historyReader(): Promise<{ client: Client; close: () => Promise<void> }> {
  const connection = await Connection.connect({ address: process.env.HOLDLINE_TEST_TEMPORAL_ADDRESS! });
  return { client: new Client({ connection, namespace: 'default' }), close: () => connection.close() };
}

/** What a workflow's history shows of its attempts so far. */
export interface AttemptHistory {
  /** When the workflow started, by the server's clock (ms). */
  startedAt: number;
  /** The call meta of each activity scheduled (a tool activity's second argument), in order. */
  scheduled: { settling?: boolean }[];
  /** How many attempts the server timed out. */
  timedOut: number;
}

export async function attemptHistory(client: Client, workflowId: string): Promise<AttemptHistory> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const events = history.events ?? [];
  const start = events[0]?.eventTime;
  return {
    startedAt: start ? Number(start.seconds ?? 0) * 1000 + Math.floor((start.nanos ?? 0) / 1e6) : 0,
    scheduled: events.flatMap((event) => {
      const payload = event.activityTaskScheduledEventAttributes?.input?.payloads?.[1]?.data;
      return payload ? [JSON.parse(Buffer.from(payload).toString('utf8')) as { settling?: boolean }] : [];
    }),
    timedOut: events.filter((event) => event.activityTaskTimedOutEventAttributes).length,
  };
}
