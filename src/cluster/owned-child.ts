import { spawn, type SpawnOptions } from 'node:child_process';

/**
 * A server process this process owns (PostgreSQL, Redis): its last output
 * kept for the error when it fails to start, and killed with `killSignal`
 * when this process exits at the latest.
 */
export interface OwnedChild {
  readonly pid: number | undefined;
  /** Neither exited nor killed by a signal yet. */
  readonly running: boolean;
  /** Resolves when it has exited. */
  readonly exited: Promise<void>;
  /** Why it could not be spawned (a missing binary), once known. */
  spawnError(): Error | undefined;
  /** The last lines it printed. */
  output(): string;
  kill(signal: NodeJS.Signals): void;
}

export function spawnOwned(command: string, args: readonly string[], options: { killSignal: NodeJS.Signals; spawn?: SpawnOptions }): OwnedChild {
  const child = spawn(command, args, { ...options.spawn, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const recent: string[] = [];
  const keep = (chunk: Buffer) => {
    recent.push(chunk.toString());
    if (recent.length > 40) recent.shift();
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const killOnExit = () => child.kill(options.killSignal);
  process.once('exit', killOnExit);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => process.removeListener('exit', killOnExit));
  let spawnError: Error | undefined;
  child.once('error', (error) => (spawnError = error));
  return {
    get pid() {
      return child.pid;
    },
    get running() {
      return child.exitCode === null && child.signalCode === null;
    },
    exited,
    spawnError: () => spawnError,
    output: () => recent.join('').trim(),
    kill: (signal) => child.kill(signal),
  };
}
