import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Connection } from '@temporalio/client';

/**
 * Runs `temporal server start-dev`, tuned: untuned, the dev server makes every
 * task wait ~50 ms (one history shard, queue readers limited to 20 polls/s).
 */
export const TUNING = [
  'history.transferProcessorMaxPollRPS=10000',
  'history.timerProcessorMaxPollRPS=10000',
  'history.visibilityProcessorMaxPollRPS=10000',
];

export interface DevServerOptions {
  cliPath: string;
  /** gRPC port of the frontend. */
  port: number;
  /** Web UI port; `null` runs headless. */
  uiPort: number | null;
  /** SQLite file for persistence; undefined keeps everything in memory. */
  dbFile?: string;
  namespace: string;
  /** Keyword search attributes to register. */
  searchAttributes: readonly string[];
  /** Server log level; default `warn`. */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Where the server's own output goes; default: discarded. */
  onOutput?: (line: string) => void;
  readyTimeoutMs?: number;
  /** Port of Prometheus' `/metrics`; default a random one nobody is told of. */
  metricsPort?: number;
}

export interface DevServer {
  address: string;
  uiUrl: string | null;
  pid: number;
  /** Stops the server and waits for it to exit. */
  stop(): Promise<void>;
}

export class DevServerStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export function devServerArgs(options: DevServerOptions): string[] {
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(options.port), '--log-level', options.logLevel ?? 'warn'];
  args.push(...(options.uiPort === null ? ['--headless'] : ['--ui-port', String(options.uiPort)]));
  if (options.namespace !== 'default') args.push('--namespace', options.namespace);
  if (options.dbFile) {
    args.push('--db-filename', options.dbFile, '--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=normal');
  }
  if (options.metricsPort !== undefined) args.push('--metrics-port', String(options.metricsPort));
  for (const value of TUNING) args.push('--dynamic-config-value', value);
  for (const name of options.searchAttributes) args.push('--search-attribute', `${name}=Keyword`);
  return args;
}

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  if (options.dbFile) mkdirSync(dirname(options.dbFile), { recursive: true });
  // Its own process group: a terminal's Ctrl-C must not stop Temporal before the
  // worker has shut down; the owner stops it last (and on exit at the latest).
  const child = spawn(options.cliPath, devServerArgs(options), { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.removeListener('exit', killOnExit));
  const recent: string[] = [];
  const onLine = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) {
      if (!line.trim()) continue;
      recent.push(line);
      if (recent.length > 40) recent.shift();
      options.onOutput?.(line);
    }
  };
  child.stdout!.on('data', onLine);
  child.stderr!.on('data', onLine);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));

  const address = `127.0.0.1:${options.port}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (exitCode !== undefined) {
      throw new DevServerStartError(`temporal server start-dev exited with code ${exitCode}:\n${recent.join('\n')}`);
    }
    if (await answers(address, options.namespace)) {
      return {
        address,
        uiUrl: options.uiPort === null ? null : `http://127.0.0.1:${options.uiPort}`,
        pid: child.pid!,
        stop: () => stopChild(child, exited),
      };
    }
    await delay(100);
  }
  await stopChild(child, exited);
  throw new DevServerStartError(`temporal server start-dev did not answer on ${address} within ${options.readyTimeoutMs ?? 60_000} ms:\n${recent.join('\n')}`);
}

/** True once the frontend answers and the namespace exists. */
async function answers(address: string, namespace: string): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: 500 });
    await connection.withDeadline(Date.now() + 1_000, () => connection!.workflowService.describeNamespace({ namespace }));
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(killer);
}
