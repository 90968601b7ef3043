import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { resolveJwtSecret, issueDevToken } from '../runtime/jwt-secret';
import { SEARCH_ATTRIBUTE_NAMES } from '../runtime/holdline';
import { resolveTemporalCli } from '../temporal/cli-binary';
import { resolveTemporalServer } from '../temporal/server-binary';
import { startLocalPostgres, type LocalPostgres } from './postgres-server';
import { ChildProcessHandle, ClusterStartError, type ClusterProcess } from './process';
import { freePorts } from './ports';
import { startLocalRedis, type LocalRedis } from './redis-server';
import { postgresTargetOf, registerNamespace, setupTemporalSchema, startTemporalServer } from './temporal-server';

/**
 * Holdline as a cluster on one machine, on loopback with free ports: PostgreSQL
 * (Temporal's two databases and the example store's), the Temporal server on
 * it, Redis, then workers and servers as separate processes. docker-compose.yml
 * declares the same pieces (CLUSTER_PIECES); a test keeps the two in step.
 */
export const CLUSTER_PIECES = {
  /** Services besides Holdline's own (`worker`, `server`). */
  infrastructure: ['postgres', 'redis', 'temporal'],
  /** Environment every Holdline process gets from the cluster. */
  holdlineEnv: ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'HOLDLINE_REDIS_URL', 'HOLDLINE_DATABASE_URL', 'HOLDLINE_JWT_SECRET', 'HOLDLINE_DATA_DIR'],
  databases: ['temporal', 'temporal_visibility', 'holdline'],
} as const;

export const STORE_DATABASE = 'holdline';
export const DEFAULT_SERVERS = 2;
export const DEFAULT_WORKERS = 2;

export interface ClusterOptions {
  /** Data directory: PostgreSQL's files, Temporal's config and log, each process's data and log. Kept between runs. */
  dir: string;
  /** Default 2. */
  servers?: number;
  /** Default 2. */
  workers?: number;
  /** The tools module the workers and servers load. Default `./examples/support-desk`. */
  tools?: string;
  /** Extra environment for every Holdline process (it wins over the cluster's own). */
  env?: Record<string, string>;
  /** Extra environment for servers only, and for workers only. */
  serverEnv?: Record<string, string>;
  workerEnv?: Record<string, string>;
  /** Default: HOLDLINE_JWT_SECRET, else one kept in the data directory. */
  jwtSecret?: string;
  namespace?: string;
  /** Default 4. */
  historyShards?: number;
  /** Temporal dynamic config, over the cluster's dispatch tuning. */
  temporalDynamicConfig?: Record<string, unknown>;
  /** Temporal's Prometheus metrics on 127.0.0.1:<port>/metrics; default none. */
  temporalMetricsPort?: number;
  /** Told each step; default silent. */
  say?: (line: string) => void;
  /** Per process. Default 90 s (the first start of Temporal creates its schema). */
  readyTimeoutMs?: number;
}

export interface Cluster {
  dir: string;
  /** Base URLs of the servers, in order (server-1 first). */
  servers: string[];
  temporalAddress: string;
  namespace: string;
  redisUrl: string;
  /** The example store's database. */
  databaseUrl: string;
  /** PostgreSQL's `postgres` database, for administration. */
  postgresUrl: string;
  jwtSecret: string;
  /** The Temporal CLI used to set the cluster up. */
  temporalCli: string;
  /** By name: `postgres`, `redis`, `temporal`, `worker-1`…, `server-1`…; each can be killed and started again. */
  processes: Record<string, ClusterProcess>;
  process(name: string): ClusterProcess;
  /** A token the servers accept. */
  token(claims: { tenant?: string; user?: string; scopes: readonly string[]; ttlSeconds?: number }): Promise<string>;
  /** Stops everything, servers first, PostgreSQL last. */
  stop(): Promise<void>;
}

const REPO_ROOT = resolve(__dirname, '..', '..');

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const say = options.say ?? (() => undefined);
  const dir = resolve(options.dir);
  mkdirSync(dir, { recursive: true });
  // As root, PostgreSQL runs as the postgres user, which must be able to reach its folder inside this one.
  if (process.getuid?.() === 0) chmodSync(dir, statSync(dir).mode | 0o011);
  const namespace = options.namespace ?? 'default';
  const readyTimeoutMs = options.readyTimeoutMs ?? 90_000;
  const processes: Record<string, ClusterProcess> = {};
  const startedOrder: string[] = [];
  const stop = async () => {
    const order = [...startedOrder].reverse();
    // One group at a time (servers, then workers, then the rest one by one): calls drain before their backends go.
    const groups = [order.filter((n) => n.startsWith('server-')), order.filter((n) => n.startsWith('worker-')), ...order.filter((n) => !/^(server|worker)-/.test(n)).map((n) => [n])];
    for (const group of groups) {
      await Promise.all(
        group.map((name) =>
          processes[name]!.stop().catch((error: unknown) => say(`could not stop ${name}: ${(error as Error).message}`)),
        ),
      );
    }
    startedOrder.length = 0;
  };
  const add = (name: string, process: ClusterProcess) => {
    processes[name] = process;
    startedOrder.push(name);
  };

  try {
    say('finding the Temporal server and CLI (built once with go install when missing; minutes)');
    const [binaries, temporalCli] = await Promise.all([resolveTemporalServer({ onProgress: say }), resolveTemporalCli({ onProgress: say })]);
    const [postgresPort, redisPort] = await freePorts(2);

    say(`starting PostgreSQL on 127.0.0.1:${postgresPort}`);
    const postgres = await restartable('postgres', () => startLocalPostgres({ port: postgresPort!, dir: join(dir, 'postgres') }));
    add('postgres', postgres);
    const postgresUrl = postgres.current().url;
    say('creating Temporal’s databases and schema (sql tool) and the store’s database');
    await setupTemporalSchema(binaries, postgresTargetOf(postgresUrl));
    const databaseUrl = await postgres.current().createDatabase(STORE_DATABASE);

    say(`starting Redis on 127.0.0.1:${redisPort}`);
    const redis = await restartable('redis', () => startLocalRedis({ port: redisPort!, dir: join(dir, 'redis') }));
    add('redis', redis);
    const redisUrl = redis.current().url;

    say('starting the Temporal server on PostgreSQL');
    const temporal = await startTemporalServer({
      binaries,
      db: postgresTargetOf(postgresUrl),
      dir: join(dir, 'temporal'),
      cliPath: temporalCli,
      historyShards: options.historyShards ?? 4,
      readyTimeoutMs,
      ...(options.temporalDynamicConfig ? { dynamicConfig: options.temporalDynamicConfig } : {}),
      ...(options.temporalMetricsPort ? { metricsPort: options.temporalMetricsPort } : {}),
    });
    add('temporal', temporal.process);
    say(`registering namespace ${namespace} and Holdline's search attributes`);
    await registerNamespace(temporalCli, temporal.address, namespace, SEARCH_ATTRIBUTE_NAMES);

    const jwtSecret = options.jwtSecret ?? resolveJwtSecret(process.env.HOLDLINE_JWT_SECRET, dir).secret;
    const base: Record<string, string> = {
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_NAMESPACE: namespace,
      HOLDLINE_REDIS_URL: redisUrl,
      HOLDLINE_DATABASE_URL: databaseUrl,
      HOLDLINE_JWT_SECRET: jwtSecret,
      HOST: '127.0.0.1',
    };
    const holdline = (role: 'worker' | 'server', index: number, port?: number) => {
      const name = `${role}-${index}`;
      const env = {
        ...process.env,
        ...base,
        HOLDLINE_DATA_DIR: join(dir, name),
        ...(port ? { PORT: String(port) } : {}),
        ...options.env,
        ...(role === 'server' ? options.serverEnv : options.workerEnv),
      };
      const url = `http://127.0.0.1:${port}`;
      return new ChildProcessHandle({
        name,
        command: process.execPath,
        args: ['--import', 'tsx', 'src/cli/holdline.ts', 'start', '--role', role, '--tools', options.tools ?? './examples/support-desk'],
        cwd: REPO_ROOT,
        env,
        logFile: join(dir, name, `${name}.log`),
        ready: (p) => (role === 'server' ? answersReady(`${url}/readyz`, readyTimeoutMs) : p.printed(/worker polling|Holdline is running \(worker\)/, readyTimeoutMs)),
      });
    };
    const workers = Array.from({ length: options.workers ?? DEFAULT_WORKERS }, (_, i) => holdline('worker', i + 1));
    say(`starting ${workers.length} workers`);
    for (const worker of workers) add(worker.name, worker);
    await Promise.all(workers.map((worker) => worker.start()));
    // Picked just before the servers listen: a port picked at the start stayed free for the whole
    // Temporal start-up, long enough for another process on the machine to take it (EADDRINUSE).
    const holdlinePorts = await freePorts(options.servers ?? DEFAULT_SERVERS);
    const servers = holdlinePorts.map((port, i) => holdline('server', i + 1, port));
    say(`starting ${servers.length} servers`);
    for (const server of servers) add(server.name, server);
    await Promise.all(servers.map((server) => server.start()));

    return {
      dir,
      servers: holdlinePorts.map((port) => `http://127.0.0.1:${port}`),
      temporalAddress: temporal.address,
      namespace,
      redisUrl,
      databaseUrl,
      postgresUrl,
      jwtSecret,
      temporalCli,
      processes,
      process(name) {
        const found = processes[name];
        if (!found) throw new Error(`no process ${name} in this cluster (${Object.keys(processes).join(', ')})`);
        return found;
      },
      token: ({ tenant = 'acme', user = 'dev-user', scopes, ttlSeconds }) =>
        issueDevToken({ HOLDLINE_JWT_SECRET: jwtSecret, HOLDLINE_DATA_DIR: dir }, { tenantId: tenant, userId: user, scopes, ...(ttlSeconds ? { ttlSeconds } : {}) }),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Polls `url` until it answers 200. */
async function answersReady(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (response.ok) return;
      last = `${response.status} ${await response.text()}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await delay(200);
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms (last: ${last})`);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Redis or PostgreSQL (started by their own modules) as a process that can be signalled and started again on the same port and data. */
async function restartable<T extends LocalRedis | LocalPostgres>(name: string, launch: () => Promise<T>): Promise<ClusterProcess & { current(): T }> {
  let current = await launch();
  let alive = true;
  const exit = async (signal: NodeJS.Signals) => {
    if (!alive) return;
    try {
      process.kill(current.pid, signal);
    } catch {
      // Already gone.
    }
    await current.stop();
    alive = false;
  };
  const handle = {
    name,
    get pid() {
      return alive ? current.pid : undefined;
    },
    get alive() {
      return alive && pidAlive(current.pid);
    },
    recentOutput: () => '',
    current: () => current,
    kill: (signal: NodeJS.Signals = 'SIGKILL') => exit(signal),
    async start() {
      if (alive) throw new ClusterStartError(`${name} is already running`);
      current = await launch();
      alive = true;
    },
    async restart(signal: NodeJS.Signals = 'SIGTERM') {
      if (signal === 'SIGTERM') await handle.stop();
      else await exit(signal);
      await handle.start();
    },
    async stop() {
      if (!alive) return;
      await current.stop();
      alive = false;
    },
  };
  return handle;
}
