import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startCluster, type Cluster } from '../../src/cluster/cluster';
import { ChildProcessHandle } from '../../src/cluster/process';
import { freePorts } from '../../src/cluster/ports';
import { SEARCH_ATTRIBUTE_NAMES } from '../../src/runtime/holdline';
import { resolveTemporalCli } from '../../src/temporal/cli-binary';
import { startDevServer } from '../../src/temporal/dev-server';

/**
 * The two Temporals the same Holdline is measured on: the cluster (Temporal
 * v1.29.1 on PostgreSQL, 4 shards) and the embedded dev server (SQLite). Both
 * run the same Holdline processes (2 workers, 2 servers, `holdline start
 * --role …`) with the same Redis and the same PostgreSQL store; only Temporal
 * differs. The dev server replaces the cluster's Temporal once the cluster
 * has been measured.
 */
export interface Target {
  name: string;
  servers: string[];
  temporalAddress: string;
  namespace: string;
  metricsUrl: string;
  databaseUrl: string;
  token(scopes: readonly string[]): Promise<string>;
  /** Process trees whose CPU is reported, by name. */
  pids(): Record<string, number | undefined>;
}

const REPO_ROOT = resolve(__dirname, '..', '..');
const WORKERS = 2;
const SERVERS = 2;

/** Same on both targets: lifted limits (policy must not throttle the bench), refund stages of `refundStageMs`. */
export function holdlineEnv(refundStageMs: number): Record<string, string> {
  return {
    LOG_LEVEL: 'warn',
    HOLDLINE_TENANT_RATE_PER_SEC: '100000',
    HOLDLINE_TENANT_BURST: '100000',
    HOLDLINE_SESSION_MAX_IN_FLIGHT: '1000',
    HOLDLINE_REFUND_STAGE_MS: String(refundStageMs),
  };
}

export async function startClusterTarget(dir: string, env: Record<string, string>, say: (line: string) => void): Promise<{ cluster: Cluster; target: Target }> {
  const [metricsPort] = await freePorts(1);
  const cluster = await startCluster({ dir, env, workers: WORKERS, servers: SERVERS, temporalMetricsPort: metricsPort!, say });
  const names = Object.keys(cluster.processes);
  return {
    cluster,
    target: {
      name: 'cluster',
      servers: cluster.servers,
      temporalAddress: cluster.temporalAddress,
      namespace: cluster.namespace,
      metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
      databaseUrl: cluster.databaseUrl,
      token: (scopes) => cluster.token({ tenant: 'acme', user: 'capacity', scopes }),
      pids: () => Object.fromEntries(names.map((name) => [name, cluster.processes[name]!.pid])),
    },
  };
}

/**
 * Stops the cluster's Temporal and Holdline processes, then starts the dev
 * server and the same Holdline processes on it, with the cluster's Redis,
 * store database and secret. Returns a stop for what it started.
 */
export async function startDevTarget(cluster: Cluster, dir: string, env: Record<string, string>, say: (line: string) => void): Promise<{ target: Target; stop(): Promise<void> }> {
  for (const name of Object.keys(cluster.processes).filter((n) => /^(server|worker)-/.test(n))) await cluster.process(name).stop();
  await cluster.process('temporal').stop();
  const [grpcPort, metricsPort, ...serverPorts] = await freePorts(2 + SERVERS);
  const cliPath = await resolveTemporalCli();
  say('starting the Temporal dev server (SQLite file)');
  const dev = await startDevServer({
    cliPath,
    port: grpcPort!,
    uiPort: null,
    dbFile: join(dir, 'dev-temporal', 'temporal.sqlite'),
    namespace: cluster.namespace,
    searchAttributes: SEARCH_ATTRIBUTE_NAMES,
    metricsPort: metricsPort!,
  });
  const base: Record<string, string> = {
    TEMPORAL_ADDRESS: dev.address,
    TEMPORAL_NAMESPACE: cluster.namespace,
    HOLDLINE_REDIS_URL: cluster.redisUrl,
    HOLDLINE_DATABASE_URL: cluster.databaseUrl,
    HOLDLINE_JWT_SECRET: cluster.jwtSecret,
    HOST: '127.0.0.1',
  };
  const launch = (role: 'worker' | 'server', index: number, port?: number) => {
    const name = `${role}-${index}`;
    const dataDir = join(dir, `dev-${name}`);
    mkdirSync(dataDir, { recursive: true });
    const url = `http://127.0.0.1:${port}`;
    return new ChildProcessHandle({
      name,
      command: process.execPath,
      args: ['--import', 'tsx', 'src/cli/holdline.ts', 'start', '--role', role, '--tools', './examples/support-desk'],
      cwd: REPO_ROOT,
      env: { ...process.env, ...base, HOLDLINE_DATA_DIR: dataDir, ...(port ? { PORT: String(port) } : {}), ...env },
      logFile: join(dataDir, `${name}.log`),
      ready: (p) => (role === 'server' ? serves(`${url}/readyz`) : p.printed(/worker polling|Holdline is running \(worker\)/, 90_000)),
    });
  };
  const workers = Array.from({ length: WORKERS }, (_, i) => launch('worker', i + 1));
  const servers = serverPorts.map((port, i) => launch('server', i + 1, port));
  const started: ChildProcessHandle[] = [];
  const stop = async () => {
    for (const p of started.reverse()) await p.stop().catch(() => undefined);
    await dev.stop();
  };
  try {
    say(`starting ${WORKERS} workers and ${SERVERS} servers on the dev server`);
    for (const group of [workers, servers]) {
      started.push(...group);
      await Promise.all(group.map((p) => p.start()));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const all = { temporal: dev.pid, postgres: cluster.process('postgres').pid, redis: cluster.process('redis').pid };
  return {
    stop,
    target: {
      name: 'dev server',
      servers: serverPorts.map((port) => `http://127.0.0.1:${port}`),
      temporalAddress: dev.address,
      namespace: cluster.namespace,
      metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
      databaseUrl: cluster.databaseUrl,
      token: (scopes) => cluster.token({ tenant: 'acme', user: 'capacity', scopes }),
      pids: () => ({ ...all, ...Object.fromEntries(started.map((p) => [p.name, p.pid])) }),
    },
  };
}

async function serves(url: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(2_000) })).ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
}
