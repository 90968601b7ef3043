import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { TOKEN_VARIABLE } from './http-tools';

/**
 * Starts http-worker-process.ts on a task queue, serving the HTTP test tools
 * against `endpointUrl`; resolves once it polls. Node itself runs it (not the
 * tsx wrapper), so a SIGKILL reaches the worker. Stop it with
 * test/support/worker-control.ts (`killWorkerProcess`, `stopWorkerProcess`).
 */
export function startHttpWorkerProcess(env: { taskQueue: string; endpointUrl: string; token: string }): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'http-worker-process.ts')], {
    env: { ...process.env, WORKER_TASK_QUEUE: env.taskQueue, HTTP_ENDPOINT_URL: env.endpointUrl, [TOKEN_VARIABLE]: env.token },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('worker ready')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`worker exited early with ${code}`)));
  });
}
