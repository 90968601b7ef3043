import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

/**
 * Temporal's binaries (the CLI with its dev server, the server and its schema
 * tool) built once with `go install` at a pinned version and cached outside the
 * work tree. Nothing is downloaded but Go modules through the Go module proxy.
 */
export interface GoBuild {
  /** What is built, for messages: "the Temporal CLI". */
  label: string;
  version: string;
  /** Folder under the cache directory. */
  cacheName: string;
  /** Go packages to install; each yields a binary named after its last path element. */
  packages: readonly string[];
  /** How long a first build takes on 2 cores, for the message. */
  expected: string;
}

export interface GoBuildOptions {
  /** Where builds are cached. Default `$XDG_CACHE_HOME/holdline` or `~/.cache/holdline`. */
  cacheDir?: string;
  /** Told what is happening while a build runs; it takes minutes. */
  onProgress?: (message: string) => void;
}

export class GoBuildUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

const BUILD_LOCK_STALE_MS = 30 * 60_000;

export function defaultCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'holdline');
}

/** The binary name `go install <package>` produces. */
export function binaryOf(goPackage: string): string {
  return goPackage.slice(goPackage.lastIndexOf('/') + 1);
}

/** The cached build's folder, every binary in it, built first if any is missing. */
export async function resolveGoBuild(build: GoBuild, options: GoBuildOptions & { unavailable?: string } = {}): Promise<string> {
  const dir = join(options.cacheDir ?? defaultCacheDir(), build.cacheName);
  const binaries = build.packages.map((p) => join(dir, binaryOf(p)));
  const complete = () => binaries.every(isExecutable);
  if (complete()) return dir;
  await buildWithLock(dir, complete, options.onProgress ?? (() => undefined), () => goInstall(build, dir, options));
  return dir;
}

/** One build at a time per cache folder: a second process waits for the first one's binaries. */
async function buildWithLock(dir: string, complete: () => boolean, say: (message: string) => void, buildNow: () => Promise<void>): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const lock = join(dir, '.building');
  let told = false;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (complete()) return;
      const since = statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now();
      if (Date.now() - since > BUILD_LOCK_STALE_MS) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (!told) say(`Another process is building into ${dir}; waiting for it`);
      told = true;
      await delay(2_000);
    }
  }
  try {
    if (!complete()) await buildNow();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

async function goInstall(build: GoBuild, dir: string, options: GoBuildOptions & { unavailable?: string }): Promise<void> {
  const say = options.onProgress ?? (() => undefined);
  const go = findOnPath('go');
  if (!go) throw new GoBuildUnavailableError(options.unavailable ?? `No ${build.label} found and no Go to build it: install Go ≥ 1.25`);
  const staging = join(dir, `.staging-${process.pid}`);
  mkdirSync(staging, { recursive: true });
  say(`Building ${build.label} ${build.version} with \`go install\` (once, ${build.expected} on 2 cores; cached in ${dir})`);
  const started = Date.now();
  const ticker = setInterval(() => say(`…still building ${build.label} (${Math.round((Date.now() - started) / 1000)}s)`), 30_000);
  try {
    for (const goPackage of build.packages) {
      const { code, output } = await run(go, ['install', `${goPackage}@${build.version}`], { ...process.env, GOBIN: staging });
      if (code !== 0) throw new GoBuildUnavailableError(`go install ${goPackage}@${build.version} failed (exit ${code}):\n${output.slice(-2_000)}`);
    }
    // Moved in only once all are built: a complete set of binaries is what readers wait for.
    for (const goPackage of build.packages) renameSync(join(staging, binaryOf(goPackage)), join(dir, binaryOf(goPackage)));
    say(`Built ${build.label} in ${Math.round((Date.now() - started) / 1000)}s: ${dir}`);
  } finally {
    clearInterval(ticker);
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Runs a command to its end; output (stdout and stderr together) for error messages. */
export function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

export function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return existsSync(path) && statSync(path).isFile();
  } catch {
    return false;
  }
}
