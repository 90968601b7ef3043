import { cpSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { findOnPath, GoBuildUnavailableError, resolveGoBuild, run, type GoBuild, type GoBuildOptions } from './go-build';

/**
 * The Temporal server and its SQL schema tool, for a cluster on PostgreSQL
 * (`npm run cluster`): built once with `go install` at a pinned version and
 * cached next to the CLI. The PostgreSQL schema files come from the same Go
 * module and are copied into the cache, so a later run needs no Go at all.
 */
export const PINNED_SERVER_VERSION = 'v1.29.1';
const SERVER_MODULE = 'go.temporal.io/server';

const SERVER_BUILD: GoBuild = {
  label: 'the Temporal server and its sql tool',
  version: PINNED_SERVER_VERSION,
  cacheName: `temporal-server-${PINNED_SERVER_VERSION}`,
  packages: [`${SERVER_MODULE}/cmd/server`, `${SERVER_MODULE}/cmd/tools/sql`],
  expected: 'about 10 minutes',
};

export interface TemporalServerBinaries {
  server: string;
  sql: string;
  /** `…/postgresql/v12`: holds `temporal/versioned` and `visibility/versioned`. */
  postgresSchemaDir: string;
}

export async function resolveTemporalServer(options: GoBuildOptions = {}): Promise<TemporalServerBinaries> {
  const dir = await resolveGoBuild(SERVER_BUILD, {
    ...options,
    unavailable: `No Temporal server ${PINNED_SERVER_VERSION} in the cache and no Go to build it: install Go ≥ 1.25`,
  });
  const postgresSchemaDir = join(dir, 'schema', 'postgresql', 'v12');
  if (!existsSync(join(postgresSchemaDir, 'temporal', 'versioned'))) await copySchema(postgresSchemaDir);
  return { server: join(dir, 'server'), sql: join(dir, 'sql'), postgresSchemaDir };
}

/** From the Go module cache (downloaded there if a build elsewhere left it empty). */
async function copySchema(target: string): Promise<void> {
  const go = findOnPath('go');
  if (!go) throw new GoBuildUnavailableError(`the Temporal schema is missing from ${target} and there is no Go to fetch it`);
  const moduleAt = `${SERVER_MODULE}@${PINNED_SERVER_VERSION}`;
  const { code, output } = await run(go, ['mod', 'download', '-json', moduleAt]);
  if (code !== 0) throw new GoBuildUnavailableError(`go mod download ${moduleAt} failed (exit ${code}):\n${output.slice(-2_000)}`);
  const moduleDir = (JSON.parse(output) as { Dir?: string }).Dir;
  const source = moduleDir && join(moduleDir, 'schema', 'postgresql', 'v12');
  if (!source || !existsSync(join(source, 'temporal', 'versioned'))) {
    throw new GoBuildUnavailableError(`no PostgreSQL schema in ${moduleDir ?? moduleAt}`);
  }
  // Copied aside then renamed, so a concurrent reader never sees half a schema.
  const staging = `${target}.staging-${process.pid}`;
  mkdirSync(join(target, '..'), { recursive: true });
  cpSync(source, staging, { recursive: true });
  if (existsSync(join(target, 'temporal', 'versioned'))) rmSync(staging, { recursive: true, force: true });
  else renameSync(staging, target);
}
