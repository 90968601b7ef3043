import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

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
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString());
    if (output.length > 40) output.shift();
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => process.removeListener('exit', killOnExit));
  let spawnError: Error | undefined;
  child.once('error', (error) => (spawnError = error));

  const deadline = Date.now() + (options.readyTimeoutMs ?? 10_000);
  while (!(await answersPing(options.port))) {
    if (spawnError) {
      throw new LocalRedisError(`could not run ${binary}: ${spawnError.message} (on Debian: apt-get install redis-server)`);
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new LocalRedisError(`redis-server on port ${options.port} did not start:\n${output.join('').trim()}`);
    }
    await delay(50);
  }
  return {
    url: `redis://127.0.0.1:${options.port}`,
    port: options.port,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
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
