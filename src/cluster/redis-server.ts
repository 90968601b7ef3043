import { mkdirSync } from 'node:fs';
import { Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { spawnOwned } from './owned-child';

/**
 * Runs Debian's `redis-server` on loopback for a local cluster and for tests:
 * its own directory, no persistence (progress and limits are short-lived), and
 * stopped with the process that started it at the latest.
 */
export interface LocalRedis {
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

export class LocalRedisError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export async function startLocalRedis(options: { port: number; dir: string; binary?: string; readyTimeoutMs?: number }): Promise<LocalRedis> {
  mkdirSync(options.dir, { recursive: true });
  const binary = options.binary ?? 'redis-server';
  const args = ['--port', String(options.port), '--bind', '127.0.0.1', '--dir', options.dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'yes', '--loglevel', 'warning'];
  const child = spawnOwned(binary, args, { killSignal: 'SIGKILL' });

  const deadline = Date.now() + (options.readyTimeoutMs ?? 10_000);
  while (!(await answersPing(options.port))) {
    const spawnError = child.spawnError();
    if (spawnError) {
      throw new LocalRedisError(`could not run ${binary}: ${spawnError.message} (on Debian: apt-get install redis-server)`);
    }
    if (!child.running || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new LocalRedisError(`redis-server on port ${options.port} did not start:\n${child.output()}`);
    }
    await delay(50);
  }
  return {
    url: `redis://127.0.0.1:${options.port}`,
    port: options.port,
    pid: child.pid!,
    async stop() {
      if (child.running) child.kill('SIGTERM');
      await child.exited;
    },
  };
}

/** One PING over a raw socket: ready means it answers +PONG. */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
    socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
  });
}
