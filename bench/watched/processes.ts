import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort } from '../../test/support/ports';

/** A Holdline process the bench started: its pid for the CPU meter, and how to stop it. */
export interface BenchProcess {
  pid: number;
  stop(): Promise<void>;
}

export interface HoldlineServerProcess extends BenchProcess {
  url: string;
}

/** What both roles share: where Temporal is, and Redis when progress goes through it. */
export interface ProcessEnv {
  temporalAddress: string;
  taskQueue: string;
  redisUrl?: string;
}

function environment(shared: ProcessEnv, extra: Record<string, string>): NodeJS.ProcessEnv {
  // The bench's own settings only: a developer's shell must not change the figures.
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'production', LOG_LEVEL: 'error' };
  if (process.env.TEMPORAL_CLI) env.TEMPORAL_CLI = process.env.TEMPORAL_CLI;
  return {
    ...env,
    TEMPORAL_ADDRESS: shared.temporalAddress,
    TEMPORAL_TASK_QUEUE: shared.taskQueue,
    ...(shared.redisUrl ? { HOLDLINE_REDIS_URL: shared.redisUrl } : {}),
    ...extra,
  };
}

function spawnTs(file: string, env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', join(__dirname, file)], { env, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
}

function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(killer);
  };
}

/** `npm run server` with the bench tool; ready once /readyz answers. */
export async function startServerProcess(shared: ProcessEnv, options: { jwtSecret: string; modelUrl: string }): Promise<HoldlineServerProcess> {
  const port = await freePort();
  const child = spawnTs('server-process.ts', environment(shared, {
    PORT: String(port),
    HOST: '127.0.0.1',
    HOLDLINE_MODEL_URL: options.modelUrl,
    HOLDLINE_JWT_SECRET: options.jwtSecret,
    HOLDLINE_TENANT_RATE_PER_SEC: '100000',
    HOLDLINE_TENANT_BURST: '100000',
    HOLDLINE_SESSION_MAX_IN_FLIGHT: '1000',
    // Every realtime session is one user's: the per-user cap (10 by default) would refuse the rest.
    HOLDLINE_MAX_SESSIONS_PER_USER: '1000',
    // 500 starts at once on 2 shared cores: a start slower than the default 1 s would open the breaker mid-burst.
    HOLDLINE_BACKEND_TIMEOUT_MS: '5000',
    // 500 calls of one tool outstanding on one server (the default allows 50).
    HOLDLINE_TOOL_MAX_IN_FLIGHT: '1000',
  }));
  const stop = stopper(child);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (await fetch(`${url}/readyz`).then((r) => r.ok, () => false)) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      throw new Error('the Holdline server process did not become ready');
    }
    await delay(200);
  }
  return { pid: child.pid!, url, stop };
}

/** Holdline's worker, `count` times in one process; ready once each polls. */
export async function startWorkerProcess(shared: ProcessEnv, count: number): Promise<BenchProcess> {
  // Production settings demand a secret even of a worker, which never checks a token.
  const child = spawnTs('worker-process.ts', environment(shared, { BENCH_WORKERS: String(count), HOLDLINE_JWT_SECRET: randomBytes(32).toString('base64url') }));
  const stop = stopper(child);
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 120_000);
    child.once('message', (message) => {
      clearTimeout(timer);
      resolve(message === 'ready');
    });
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  if (!ready) {
    await stop();
    throw new Error('the Holdline worker process did not start');
  }
  return { pid: child.pid!, stop };
}
