#!/usr/bin/env node
// The `holdline` command: `holdline start --tools ./my-tools.ts`, `holdline token`, the client commands
// (tools, call, calls, watch, approve, deny, cancel, talk, replay, record), `holdline --help`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { createDevToken } from '../runtime/dev-token';
import { loadConfig } from '../runtime/config';
import { createLogger } from '../runtime/logger';
import { openToolKit, type Role } from '../runtime/tool-kit';
import { loadToolsFile, scopesOfToolsFile } from '../runtime/tools-file';
import { addClientCommands } from './commands';
import { EXIT } from './exit-codes';
import { runHoldline } from './run';
import { loadToolsModule } from './tools-module';

const { version } = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };

const program = new Command('holdline')
  .description('Durable tool calls for realtime voice agents, on Temporal')
  .version(version)
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride((error) => process.exit(error.exitCode === 0 ? EXIT.ok : EXIT.usage));

program
  .command('start')
  .description('Start Holdline: the embedded Temporal dev server (unless TEMPORAL_ADDRESS is set), a worker and the HTTP server')
  .option('-t, --tools <module>', 'a module (.ts or .js file, or a folder with an index) exporting your tools')
  .option('-f, --tools-file <file>', 'a tools file (JSON or YAML): HTTP tools, MCP servers, tenant policy (default: HOLDLINE_TOOLS_FILE)')
  .addOption(new Option('--role <role>', 'which parts run in this process').choices(['all', 'server', 'worker']).default('all'))
  .addHelpText('after', '\nConfiguration comes from environment variables (see the README). Examples:\n  holdline start --tools ./my-tools.ts\n  holdline start --tools-file ./holdline.tools.yaml')
  .action(async (options: { tools?: string; toolsFile?: string; role: Role }) => {
    const tools = options.tools ? loadOrExit(options.tools) : undefined;
    await runHoldline({ role: options.role, ...(tools ? { tools } : {}), ...(options.toolsFile ? { toolsFile: options.toolsFile } : {}) });
  });

program
  .command('token')
  .description('Print a development token the local Holdline accepts (signed with its HOLDLINE_JWT_SECRET or generated secret)')
  .option('--tenant <id>', 'tenant the token is for', 'acme')
  .option('--user <id>', 'user the token is for', 'dev-user')
  .option('--scope <scopes>', 'space-separated scopes; default: every scope the tools of --tools and --tools-file require')
  .option('-t, --tools <module>', 'your tools module, to grant every scope its tools require')
  .option('-f, --tools-file <file>', 'your tools file, to grant every scope its tools require (default: HOLDLINE_TOOLS_FILE)')
  .option('--ttl <seconds>', 'lifetime in seconds', positiveInteger, 12 * 3600)
  .action(async (options: { tenant: string; user: string; scope?: string; tools?: string; toolsFile?: string; ttl: number }) => {
    const toolsFile = options.toolsFile ?? loadConfig().HOLDLINE_TOOLS_FILE;
    const scopes =
      options.scope !== undefined
        ? options.scope.split(/\s+/).filter(Boolean)
        : [...new Set([...(await scopesOfTools(options.tools)), ...(toolsFile ? scopesOfToolsFile(loadFileOrExit(toolsFile)) : [])])];
    if (scopes.length === 0) fail('no scopes: pass --scope "<scopes>", --tools <module> or --tools-file <file>', EXIT.usage);
    const token = await createDevToken({ tenantId: options.tenant, userId: options.user, scopes, ttlSeconds: options.ttl });
    process.stdout.write(`${token}\n`);
  });

/** Loads what the command line names; a path that cannot be used ends the command with exit code 2. */
function orExit<T>(load: (path: string) => T): (path: string) => T {
  return (path) => {
    try {
      return load(path);
    } catch (error) {
      return fail((error as Error).message, EXIT.usage);
    }
  };
}
const loadOrExit = orExit(loadToolsModule);
const loadFileOrExit = orExit(loadToolsFile);

/** Every scope the module's tools require; the factory is opened and closed again. */
async function scopesOfTools(path: string | undefined): Promise<string[]> {
  if (!path) return [];
  const config = loadConfig();
  const kit = await openToolKit(loadOrExit(path), { role: 'server', dataDir: config.HOLDLINE_DATA_DIR, env: process.env, logger: createLogger('silent') });
  await kit.close?.();
  return [...new Set(kit.tools.flatMap((tool) => tool.spec.scopes))];
}

function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0) throw new InvalidArgumentError('must be a positive integer');
  return parsed;
}

function fail(message: string, code: number): never {
  process.stderr.write(`holdline: ${message}\n`);
  process.exit(code);
}

addClientCommands(program);

program.parseAsync().catch((error: unknown) => fail((error as Error).message, EXIT.failed));
