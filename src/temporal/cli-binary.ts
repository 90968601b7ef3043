import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

/**
 * Finds the Temporal CLI, which carries the dev server: an explicit path,
 * then `temporal` on PATH, then a build of a pinned version cached outside the
 * work tree. Nothing is downloaded but Go modules through the Go module proxy.
 */
export const PINNED_CLI_VERSION = 'v1.5.1';
const CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';
const BUILD_LOCK_STALE_MS = 20 * 60_000;

export interface ResolveCliOptions {
  /** `TEMPORAL_CLI`: used as is, and an error if it is not an executable file. */
  explicitPath?: string;
  /** Where builds are cached. Default `$XDG_CACHE_HOME/holdline` or `~/.cache/holdline`. */
  cacheDir?: string;
  /** Told what is happening while a build runs; it takes minutes. */
  onProgress?: (message: string) => void;
}

export class TemporalCliUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export function defaultCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'holdline');
}

export async function resolveTemporalCli(options: ResolveCliOptions = {}): Promise<string> {
  const say = options.onProgress ?? (() => undefined);
  if (options.explicitPath) {
    if (!isExecutable(options.explicitPath)) {
      throw new TemporalCliUnavailableError(`TEMPORAL_CLI=${options.explicitPath} is not an executable file`);
    }
    return options.explicitPath;
  }
  const onPath = findOnPath('temporal');
  if (onPath) return onPath;

  const dir = join(options.cacheDir ?? defaultCacheDir(), `temporal-cli-${PINNED_CLI_VERSION}`);
  const binary = join(dir, 'temporal');
  if (isExecutable(binary)) return binary;
  await buildWithLock(dir, binary, say);
  return binary;
}

/** One build at a time per cache: a second process waits for the first one's binary. */
async function buildWithLock(dir: string, binary: string, say: (message: string) => void): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const lock = join(dir, '.building');
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (isExecutable(binary)) return;
      if (Date.now() - statSync(lock, { throwIfNoEntry: false })!.mtimeMs > BUILD_LOCK_STALE_MS) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      say('Another process is building the Temporal CLI; waiting for it');
      await delay(2_000);
    }
  }
  try {
    if (isExecutable(binary)) return;
    await goInstall(dir, binary, say);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

async function goInstall(dir: string, binary: string, say: (message: string) => void): Promise<void> {
  const go = findOnPath('go');
  if (!go) {
    throw new TemporalCliUnavailableError(
      'No Temporal CLI found: put `temporal` on PATH, set TEMPORAL_CLI to its path, install Go ≥ 1.25 so Holdline can build it, ' +
        'or set TEMPORAL_ADDRESS to use a running Temporal server',
    );
  }
  const staging = join(dir, `.staging-${process.pid}`);
  mkdirSync(staging, { recursive: true });
  say(`Building the Temporal CLI ${PINNED_CLI_VERSION} with \`go install\` (once, about 3 minutes on 2 cores; cached in ${dir})`);
  const started = Date.now();
  const ticker = setInterval(() => say(`…still building the Temporal CLI (${Math.round((Date.now() - started) / 1000)}s)`), 30_000);
  try {
    const { code, output } = await run(go, ['install', `${CLI_MODULE}@${PINNED_CLI_VERSION}`], { ...process.env, GOBIN: staging });
    if (code !== 0) throw new TemporalCliUnavailableError(`go install of the Temporal CLI failed (exit ${code}):\n${output.slice(-2_000)}`);
    renameSync(join(staging, 'temporal'), binary);
    say(`Built the Temporal CLI in ${Math.round((Date.now() - started) / 1000)}s: ${binary}`);
  } finally {
    clearInterval(ticker);
    rmSync(staging, { recursive: true, force: true });
  }
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return existsSync(path) && statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The version line the binary reports, for logs. */
export function cliVersion(path: string): string {
  const result = spawnSync(path, ['--version'], { encoding: 'utf8' });
  return (result.stdout || result.stderr || '').trim();
}
