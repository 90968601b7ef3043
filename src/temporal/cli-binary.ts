import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { findOnPath, GoBuildUnavailableError, isExecutable, resolveGoBuild, type GoBuild, type GoBuildOptions } from './go-build';

export { defaultCacheDir } from './go-build';

/**
 * Finds the Temporal CLI, which carries the dev server: an explicit path,
 * then `temporal` on PATH, then a build of a pinned version cached outside the
 * work tree (src/temporal/go-build.ts).
 */
export const PINNED_CLI_VERSION = 'v1.5.1';

const CLI_BUILD: GoBuild = {
  label: 'the Temporal CLI',
  version: PINNED_CLI_VERSION,
  cacheName: `temporal-cli-${PINNED_CLI_VERSION}`,
  packages: ['github.com/temporalio/cli/cmd/temporal'],
  expected: 'about 3 minutes',
};

export interface ResolveCliOptions extends GoBuildOptions {
  /** `TEMPORAL_CLI`: used as is, and an error if it is not an executable file. */
  explicitPath?: string;
}

export class TemporalCliUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export async function resolveTemporalCli(options: ResolveCliOptions = {}): Promise<string> {
  if (options.explicitPath) {
    if (!isExecutable(options.explicitPath)) {
      throw new TemporalCliUnavailableError(`TEMPORAL_CLI=${options.explicitPath} is not an executable file`);
    }
    return options.explicitPath;
  }
  const onPath = findOnPath('temporal');
  if (onPath) return onPath;
  try {
    const dir = await resolveGoBuild(CLI_BUILD, {
      ...options,
      unavailable:
        'No Temporal CLI found: put `temporal` on PATH, set TEMPORAL_CLI to its path, install Go ≥ 1.25 so Holdline can build it, ' +
        'or set TEMPORAL_ADDRESS to use a running Temporal server',
    });
    return join(dir, 'temporal');
  } catch (error) {
    if (error instanceof GoBuildUnavailableError) throw new TemporalCliUnavailableError(error.message);
    throw error;
  }
}

/** The version line the binary reports, for logs. */
export function cliVersion(path: string): string {
  const result = spawnSync(path, ['--version'], { encoding: 'utf8' });
  return (result.stdout || result.stderr || '').trim();
}
