import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { MemoryReading } from '../memory-probe';

/**
 * A Holdline process the chaos run can SIGKILL and start again: `node
 * --import tsx <script>` itself (not a wrapper), so the signal reaches it.
 */
export interface NodeProcessOptions {
  name: string;
  script: string;
  env: NodeJS.ProcessEnv;
  /** Resolves once the process serves; called after each start. */
  ready: (process: NodeProcess) => Promise<void>;
  /** Node flags before --import tsx. */
  nodeFlags?: string[];
}

export class NodeProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly recent: string[] = [];
  /** How the last run ended, when it ended without being asked to. */
  unexpectedExit: string | undefined;
  private expectingExit = false;
  /** Set by `ready` hooks that watch stdout. */
  readonly stdoutListeners = new Set<(line: string) => void>();

  constructor(private readonly options: NodeProcessOptions) {}

  get name(): string {
    return this.options.name;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get alive(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    if (this.alive) throw new Error(`${this.name} is already running`);
    this.unexpectedExit = undefined;
    this.expectingExit = false;
    const child = spawn(process.execPath, [...(this.options.nodeFlags ?? []), '--import', 'tsx', this.options.script], {
      env: this.options.env,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.child = child;
    const onLines = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (!line.trim()) continue;
        this.recent.push(line);
        if (this.recent.length > 30) this.recent.shift();
        for (const listener of this.stdoutListeners) listener(line);
        if (process.env.CHAOS_VERBOSE === '1') process.stderr.write(`[${this.name}] ${line}\n`);
      }
    };
    child.stdout!.on('data', onLines);
    child.stderr!.on('data', onLines);
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        if (!this.expectingExit) this.unexpectedExit = `${this.name} exited by itself (${signal ?? `code ${code}`}): ${this.recent.slice(-5).join(' | ')}`;
        resolve();
      }),
    );
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    void this.exited.then(() => process.removeListener('exit', killOnExit));
    const died = this.exited.then(() => {
      throw new Error(`${this.name} exited while starting: ${this.recent.slice(-10).join('\n')}`);
    });
    await Promise.race([this.options.ready(this), died]);
  }

  /** SIGKILL: no shutdown code runs. Resolves once the process is gone. */
  async kill(): Promise<void> {
    if (!this.alive) return;
    this.expectingExit = true;
    this.child!.kill('SIGKILL');
    await this.exited;
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.start();
  }

  /** SIGTERM, then SIGKILL after 10 s. */
  async stop(): Promise<void> {
    if (!this.alive) return;
    this.expectingExit = true;
    this.child!.kill('SIGTERM');
    const killer = setTimeout(() => this.child?.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(killer);
  }

  /** The process's memory over IPC: after a full collection (`gc`) or as it stands. */
  memory(gc: boolean, timeoutMs = 5_000): Promise<MemoryReading | undefined> {
    const child = this.child;
    if (!child || !this.alive) return Promise.resolve(undefined);
    const previous = this.pendingMemory;
    const reading = previous.then(
      () =>
        new Promise<MemoryReading | undefined>((resolve) => {
          const timer = setTimeout(() => {
            child.removeListener('message', onMessage);
            resolve(undefined);
          }, timeoutMs);
          const onMessage = (message: unknown) => {
            clearTimeout(timer);
            child.removeListener('message', onMessage);
            resolve(message as MemoryReading);
          };
          child.on('message', onMessage);
          child.send(gc ? 'memory' : 'memory:live');
        }),
    );
    this.pendingMemory = reading.then(() => undefined);
    return reading;
  }

  private pendingMemory: Promise<void> = Promise.resolve();

  /** The process's last error log lines (pino level ≥ 50, or anything on stderr that says error). */
  recentErrors(count = 3): string[] {
    return this.recent.filter((line) => /"level":(50|60)|error/i.test(line)).slice(-count);
  }

  peakRssMb(): number | undefined {
    return this.pid === undefined ? undefined : peakRssOf(this.pid);
  }
}

/** The most memory a process ever held resident (Linux: VmHWM), in MB. */
export function peakRssOf(pid: number): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** What a process holds resident now (Linux: VmRSS), in MB. */
export function rssOf(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}
