import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Client } from 'pg';
import { spawnOwned, type OwnedChild } from './owned-child';

/**
 * Runs Debian's PostgreSQL on loopback for a local cluster and for tests: its
 * own data directory (initialized on first start), trust authentication for
 * loopback only, its Unix socket inside the data directory, and stopped with
 * the process that started it at the latest.
 */
export interface LocalPostgres {
  /** Connection URL of the `postgres` database, as the `postgres` superuser. */
  url: string;
  port: number;
  pid: number;
  /** Fast shutdown (open transactions are rolled back); resolves once the server has exited. */
  stop(): Promise<void>;
  /** Creates the database when it does not exist yet; resolves to its URL. */
  createDatabase(name: string): Promise<string>;
}

export interface LocalPostgresOptions {
  port: number;
  /** Parent directory; the cluster lives in `<dir>/data`. */
  dir: string;
  /** Default /usr/lib/postgresql/15/bin (Debian's postgresql package). */
  binDir?: string;
  /** Default 30 s: initdb plus start on a busy machine. */
  readyTimeoutMs?: number;
  /**
   * Default false: fsync and synchronous commit off, which is what a throwaway
   * local store wants. True keeps PostgreSQL's crash safety.
   */
  durable?: boolean;
}

export class LocalPostgresError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

const DEFAULT_BIN_DIR = '/usr/lib/postgresql/15/bin';

export async function startLocalPostgres(options: LocalPostgresOptions): Promise<LocalPostgres> {
  const binDir = options.binDir ?? DEFAULT_BIN_DIR;
  for (const binary of ['initdb', 'postgres']) {
    if (!existsSync(join(binDir, binary))) {
      throw new LocalPostgresError(`${join(binDir, binary)} not found: PostgreSQL's server binaries are missing (on Debian: apt-get install postgresql)`);
    }
  }
  const dataDir = join(options.dir, 'data');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // PostgreSQL refuses to run as root; as root, it runs as the postgres user, which must own its directory.
  const owner = process.getuid?.() === 0 ? postgresUser() : undefined;
  if (owner) chownTree(options.dir, owner);
  const runAs = { cwd: options.dir, ...(owner ?? {}), env: { ...process.env, LC_ALL: 'C', ...(owner ? { HOME: options.dir } : {}) } };

  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    try {
      execFileSync(join(binDir, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'], { ...runAs, stdio: 'pipe' });
    } catch (error) {
      const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
      const hint = owner ? ' (it runs as the postgres user: every directory above it must be searchable by that user, chmod 755)' : '';
      throw new LocalPostgresError(`initdb in ${dataDir} failed${hint}: ${stderr || (error as Error).message}`);
    }
  }

  const args = ['-D', dataDir, '-p', String(options.port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dataDir}`];
  if (!options.durable) args.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
  // SIGQUIT is PostgreSQL's immediate shutdown: the postmaster takes its backends with it.
  const child = spawnOwned(join(binDir, 'postgres'), args, { killSignal: 'SIGQUIT', spawn: runAs });

  const url = urlOf(options.port, 'postgres');
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  while (!(await answersQuery(url))) {
    const spawnError = child.spawnError();
    if (spawnError) throw new LocalPostgresError(`could not run ${join(binDir, 'postgres')}: ${spawnError.message}`);
    if (!child.running || Date.now() > deadline) {
      await stopChild(child, 'SIGKILL');
      throw new LocalPostgresError(`PostgreSQL on port ${options.port} did not start:\n${child.output()}`);
    }
    await delay(100);
  }

  return {
    url,
    port: options.port,
    pid: child.pid!,
    stop: () => stopChild(child, 'SIGINT'),
    async createDatabase(name: string) {
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new LocalPostgresError(`database name "${name}" must be a lower-case SQL identifier`);
      const client = new Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE "${name}"`);
      } catch (error) {
        if ((error as { code?: string }).code !== '42P04') throw error; // 42P04: duplicate_database
      } finally {
        await client.end();
      }
      return urlOf(options.port, name);
    },
  };
}

function urlOf(port: number, database: string): string {
  return `postgres://postgres@127.0.0.1:${port}/${database}`;
}

async function stopChild(child: OwnedChild, signal: NodeJS.Signals): Promise<void> {
  if (child.running) child.kill(signal); // SIGINT: fast shutdown
  await child.exited;
}

async function answersQuery(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function postgresUser(): { uid: number; gid: number } {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    return { uid, gid };
  } catch {
    throw new LocalPostgresError('PostgreSQL does not run as root and there is no postgres user to run it as (on Debian: apt-get install postgresql)');
  }
}

function chownTree(path: string, owner: { uid: number; gid: number }): void {
  chownSync(path, owner.uid, owner.gid);
  if (lstatSync(path).isDirectory()) for (const entry of readdirSync(path)) chownTree(join(path, entry), owner);
}
