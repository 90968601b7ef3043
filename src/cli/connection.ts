import type { Command } from 'commander';
import { ConfigError } from '../runtime/config';
import { createDevToken } from '../runtime/dev-token';
import { HoldlineApi } from './api-client';
import { CliError, EXIT } from './exit-codes';

/** The options every command that talks to Holdline takes. */
export interface ConnectionOptions {
  url?: string;
  token?: string;
  scope?: string;
  tenant: string;
  as: string;
}

export interface ConnectionDefaults {
  /** Scopes of the development token when neither --token, TOKEN nor --scope is given; default: none (the command fails and says how to get a token). */
  scope?: string;
  /** User of the development token; default `dev-user`, as `holdline token`. */
  user?: string;
}

/** Adds --url, --token, --scope, --tenant and --as to a command. */
export function withConnection(command: Command, defaults: ConnectionDefaults = {}): Command {
  return command
    .option('--url <url>', 'Holdline\'s address (default: HOLDLINE_URL, else http://127.0.0.1:$PORT, PORT default 3000)')
    .option('--token <token>', 'bearer token (default: TOKEN; else a development token with --scope)')
    .option('--scope <scopes>', 'space-separated scopes of a development token signed here like `holdline token` does', defaults.scope)
    .option('--tenant <id>', 'tenant of that development token', 'acme')
    .option('--as <user>', 'user of that development token', defaults.user ?? 'dev-user');
}

export function baseUrlOf(options: Pick<ConnectionOptions, 'url'>, env: NodeJS.ProcessEnv = process.env): string {
  const raw = options.url ?? env.HOLDLINE_URL ?? `http://127.0.0.1:${env.PORT || 3000}`;
  try {
    return new URL(raw).toString().replace(/\/$/, '');
  } catch {
    throw new CliError(`--url ${raw} is not a URL; give one like http://127.0.0.1:3000`, EXIT.usage);
  }
}

/**
 * The token: --token, else TOKEN, else a development token for --scope signed
 * with this machine's development secret (what a local `holdline start` accepts).
 */
export async function tokenOf(options: ConnectionOptions, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const given = options.token ?? env.TOKEN;
  if (given) return given;
  const scopes = options.scope?.split(/\s+/).filter(Boolean) ?? [];
  if (scopes.length === 0) {
    throw new CliError(
      'no token: pass --token <token> or set TOKEN (get one with `npx holdline token --scope "<scopes>"`), or pass --scope "<scopes>" to sign a development token here',
      EXIT.usage,
    );
  }
  try {
    return await createDevToken({ tenantId: options.tenant, userId: options.as, scopes }, env);
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(error.message, EXIT.usage);
    throw error;
  }
}

export async function connect(options: ConnectionOptions): Promise<HoldlineApi> {
  const url = baseUrlOf(options);
  return new HoldlineApi(url, await tokenOf(options));
}
