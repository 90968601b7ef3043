import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Client as PgClient } from 'pg';
import { stringify } from 'yaml';
import { run } from '../temporal/go-build';
import { TUNING } from '../temporal/dev-server';
import type { TemporalServerBinaries } from '../temporal/server-binary';
import { ChildProcessHandle, ClusterStartError } from './process';
import { freePorts } from './ports';

/**
 * The Temporal server v1.29.1 on PostgreSQL, on loopback: its two databases
 * and their schema (the sql tool), a config file in the data directory, the
 * four services in one process, then the namespace and search attributes
 * (the Temporal CLI). Based on the module's config/development-postgres12.yaml.
 */
export interface PostgresTarget {
  host: string;
  port: number;
  user: string;
  password: string;
}

export function postgresTargetOf(url: string): PostgresTarget {
  const parsed = new URL(url);
  return {
    host: parsed.hostname,
    port: Number(parsed.port || 5432),
    user: decodeURIComponent(parsed.username || 'postgres'),
    password: decodeURIComponent(parsed.password),
  };
}

export const TEMPORAL_DATABASES = { temporal: 'temporal', visibility: 'temporal_visibility' } as const;

/** Creates both databases and brings their schema to the binaries' version; safe to run again on the same databases. */
export async function setupTemporalSchema(binaries: TemporalServerBinaries, db: PostgresTarget): Promise<void> {
  for (const [kind, database] of Object.entries(TEMPORAL_DATABASES)) {
    const base = ['--plugin', 'postgres12', '--ep', db.host, '-p', String(db.port), '-u', db.user, '--db', database];
    const env = { ...process.env, SQL_PASSWORD: db.password };
    const sql = async (...args: string[]) => {
      const { code, output } = await run(binaries.sql, [...base, ...args], env);
      if (code !== 0) throw new ClusterStartError(`temporal sql ${args[0]} on ${database} failed (exit ${code}):\n${output.slice(-2_000)}`);
    };
    const state = await schemaState(db, database);
    if (state === 'no-database') await sql('create-database');
    if (state !== 'versioned') await sql('setup-schema', '-v', '0.0');
    await sql('update-schema', '-d', join(binaries.postgresSchemaDir, kind, 'versioned'));
  }
}

async function schemaState(db: PostgresTarget, database: string): Promise<'no-database' | 'empty' | 'versioned'> {
  const admin = new PgClient({ ...db, database: 'postgres' });
  await admin.connect();
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount === 0) return 'no-database';
  } finally {
    await admin.end();
  }
  const client = new PgClient({ ...db, database });
  await client.connect();
  try {
    const table = await client.query<{ t: string | null }>("SELECT to_regclass('schema_version')::text AS t");
    return table.rows[0]?.t ? 'versioned' : 'empty';
  } finally {
    await client.end();
  }
}

export interface TemporalServerOptions {
  binaries: TemporalServerBinaries;
  db: PostgresTarget;
  /** Holds the config, the dynamic config and the log. */
  dir: string;
  /** Frontend gRPC port; default a free one. */
  port?: number;
  /** Default 4: a real cluster's layout, small enough for one machine. */
  historyShards?: number;
  /** Added to (and overriding) the dispatch tuning. */
  dynamicConfig?: Record<string, unknown>;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  readyTimeoutMs?: number;
  /** The Temporal CLI, to check health. */
  cliPath: string;
  /** Serves Prometheus metrics on 127.0.0.1:<port>/metrics when set. */
  metricsPort?: number;
}

/** The server process; `address` is the frontend's host:port. */
export async function startTemporalServer(options: TemporalServerOptions): Promise<{ address: string; process: ChildProcessHandle }> {
  const [frontend, frontendHttp, history, matching, worker] = await freePorts(5);
  const [frontendMembership, historyMembership, matchingMembership, workerMembership] = await freePorts(4, { below: 32_768 });
  const grpcPort = options.port ?? frontend!;
  const configDir = join(options.dir, 'config');
  mkdirSync(configDir, { recursive: true });
  const dynamicConfigFile = join(configDir, 'dynamic.yaml');
  writeFileSync(dynamicConfigFile, stringify(dynamicConfigOf(options.dynamicConfig)));
  const service = (grpc: number, membership: number, extra: Record<string, unknown> = {}) => ({
    rpc: { grpcPort: grpc, membershipPort: membership, bindOnLocalHost: true, ...extra },
  });
  const datastore = (database: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName: database,
      connectAddr: `${options.db.host}:${options.db.port}`,
      connectProtocol: 'tcp',
      user: options.db.user,
      password: options.db.password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const config = {
    log: { stdout: true, level: options.logLevel ?? 'warn' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: options.historyShards ?? 4,
      datastores: { 'postgres-default': datastore(TEMPORAL_DATABASES.temporal, 20), 'postgres-visibility': datastore(TEMPORAL_DATABASES.visibility, 4) },
    },
    global: {
      membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' },
      ...(options.metricsPort ? { metrics: { prometheus: { timerType: 'histogram', listenAddress: `127.0.0.1:${options.metricsPort}` } } } : {}),
    },
    services: {
      frontend: service(grpcPort, frontendMembership!, { httpPort: frontendHttp }),
      history: service(history!, historyMembership!),
      matching: service(matching!, matchingMembership!),
      worker: service(worker!, workerMembership!),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: { active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: `127.0.0.1:${grpcPort}` } },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    dynamicConfigClient: { filepath: dynamicConfigFile, pollInterval: '10s' },
  };
  // `start` reads <root>/<config>/<env>.yaml.
  writeFileSync(join(configDir, 'development.yaml'), stringify(config));

  const address = `127.0.0.1:${grpcPort}`;
  const handle = new ChildProcessHandle({
    name: 'temporal',
    command: options.binaries.server,
    args: ['--root', options.dir, '--config', 'config', '--env', 'development', '--allow-no-auth', 'start'],
    env: process.env,
    logFile: join(options.dir, 'temporal.log'),
    ready: () => waitHealthy(options.cliPath, address, options.readyTimeoutMs ?? 90_000),
  });
  await handle.start();
  return { address, process: handle };
}

/** Fast task dispatch as on the dev server, and search attributes usable as soon as they are created. */
export function dynamicConfigOf(overrides: Record<string, unknown> = {}): Record<string, { value: unknown }[]> {
  const values: Record<string, unknown> = {
    ...Object.fromEntries(TUNING.map((entry) => entry.split('=') as [string, string]).map(([key, value]) => [key, Number(value)])),
    'system.forceSearchAttributesCacheRefreshOnRead': true,
    // The refresh above reads persistence more often; the dev server raises these for the same reason.
    'frontend.persistenceMaxQPS': 10_000,
    'history.persistenceMaxQPS': 45_000,
    'system.namespaceCacheRefreshInterval': '2s',
    'frontend.namespaceRPS.visibility': 100,
    ...overrides,
  };
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined).map(([key, value]) => [key, [{ value }]]));
}

async function waitHealthy(cliPath: string, address: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const { code, output } = await run(cliPath, ['operator', 'cluster', 'health', '--address', address]);
    if (code === 0 && output.includes('SERVING')) return;
    last = output.trim();
    await delay(250);
  }
  throw new Error(`Temporal at ${address} did not report SERVING within ${timeoutMs} ms: ${last}`);
}

/** The namespace (registered if missing) and Keyword search attributes (added if missing). */
export async function registerNamespace(cliPath: string, address: string, namespace: string, searchAttributes: readonly string[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const cli = (...args: string[]) => run(cliPath, [...args, '--address', address]);
  const described = await cli('operator', 'namespace', 'describe', '--namespace', namespace);
  if (described.code !== 0) {
    const created = await cli('operator', 'namespace', 'create', '--namespace', namespace, '--retention', '72h');
    if (created.code !== 0 && !/already exists/i.test(created.output)) throw new ClusterStartError(`could not create namespace ${namespace}: ${created.output.trim()}`);
  }
  for (const name of searchAttributes) {
    for (;;) {
      const made = await cli('operator', 'search-attribute', 'create', '--namespace', namespace, '--name', name, '--type', 'Keyword');
      if (made.code === 0 || /already exists/i.test(made.output)) break;
      if (/different type/i.test(made.output) || Date.now() > deadline) {
        throw new ClusterStartError(`could not register search attribute ${name}: ${made.output.trim()}`);
      }
      // The namespace is not in every service's cache yet.
      await delay(500);
    }
  }
}
