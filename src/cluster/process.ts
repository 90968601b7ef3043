import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';

/**
 * One process of a local cluster, which a test can signal, and start again
 * with the same command, ports and data. Output goes to a log file (and the
 * last lines are kept for the error when it fails to start).
 */
export interface ProcessSpec {
  name: string;
  command: string;
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** Where stdout and stderr are appended. */
  logFile: string;
  /** Resolves once the process serves; rejects after its own deadline. Called right after each spawn. */
  ready: (process: ChildProcessHandle) => Promise<void>;
  /** How long `stop()` waits after SIGTERM before SIGKILL. Default 15 s. */
  stopGraceMs?: number;
}

export interface ClusterProcess {
  readonly name: string;
  readonly pid: number | undefined;
  readonly alive: boolean;
  /** The last lines it printed. */
  recentOutput(): string;
  /** Sends `signal` (default SIGKILL) and resolves once the process is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again (after a kill) and resolves once it is ready. */
  start(): Promise<void>;
  /** `kill(signal)` then `start()`. Default SIGTERM: a clean stop. */
  restart(signal?: NodeJS.Signals): Promise<void>;
  /** SIGTERM, then SIGKILL after the grace period. */
  stop(): Promise<void>;
}

export class ClusterStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export class ChildProcessHandle implements ClusterProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly recent: string[] = [];
  private log: WriteStream | undefined;
  private readonly lineListeners = new Set<(line: string) => void>();

  constructor(private readonly spec: ProcessSpec) {}

  get name(): string {
    return this.spec.name;
  }

  get pid(): number | undefined {
    return this.alive ? this.child?.pid : undefined;
  }

  get alive(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  recentOutput(): string {
    return this.recent.join('\n');
  }

  /** Resolves when a line it prints from now on matches; for `ready` hooks. */
  printed(pattern: RegExp, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const listener = (line: string) => {
        if (!pattern.test(line)) return;
        clearTimeout(timer);
        this.lineListeners.delete(listener);
        resolve();
      };
      const timer = setTimeout(() => {
        this.lineListeners.delete(listener);
        reject(new Error(`it printed nothing matching ${pattern} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.lineListeners.add(listener);
    });
  }

  async start(): Promise<void> {
    if (this.alive) throw new ClusterStartError(`${this.name} is already running`);
    mkdirSync(dirname(this.spec.logFile), { recursive: true });
    this.log ??= createWriteStream(this.spec.logFile, { flags: 'a' });
    // Its own process group: a terminal's Ctrl-C reaches the cluster runner only,
    // which then stops the processes in order (workers drain before Temporal goes).
    const child = spawn(this.spec.command, [...this.spec.args], {
      env: this.spec.env,
      cwd: this.spec.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.child = child;
    const onData = (chunk: Buffer) => {
      this.log?.write(chunk);
      for (const line of chunk.toString().split('\n')) {
        if (!line.trim()) continue;
        this.recent.push(line.length > 400 ? `${line.slice(0, 400)}…` : line);
        if (this.recent.length > 30) this.recent.shift();
        for (const listener of this.lineListeners) listener(line);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    let spawnError: Error | undefined;
    child.once('error', (error) => (spawnError = error));
    this.exited = new Promise((resolve) => child.once('close', () => resolve()));
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    void this.exited.then(() => process.removeListener('exit', killOnExit));

    const died = this.exited.then(() => {
      const why = spawnError ? spawnError.message : `exit ${child.exitCode ?? child.signalCode}`;
      throw new ClusterStartError(`${this.name} exited while starting (${why}); log ${this.spec.logFile}:\n${this.recentOutput()}`);
    });
    try {
      await Promise.race([this.spec.ready(this), died]);
    } catch (error) {
      await this.kill('SIGKILL');
      if (error instanceof ClusterStartError) throw error;
      throw new ClusterStartError(`${this.name} did not become ready: ${(error as Error).message}; log ${this.spec.logFile}:\n${this.recentOutput()}`);
    } finally {
      died.catch(() => undefined);
    }
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.alive) this.child!.kill(signal);
    await this.exited;
  }

  async restart(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (signal === 'SIGTERM') await this.stop();
    else await this.kill(signal);
    await this.start();
  }

  async stop(): Promise<void> {
    if (this.alive) {
      this.child!.kill('SIGTERM');
      const killer = setTimeout(() => this.child?.kill('SIGKILL'), this.spec.stopGraceMs ?? 15_000);
      await this.exited;
      clearTimeout(killer);
    }
    await this.exited;
  }

  /** Closes the log file; the process must be stopped. */
  async close(): Promise<void> {
    await this.stop();
    const log = this.log;
    this.log = undefined;
    if (log) await new Promise<void>((resolve) => log.end(() => resolve()));
  }
}
