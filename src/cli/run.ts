import { createLogger } from '../runtime/logger';
import { ConfigError, loadConfig } from '../runtime/config';
import { startHoldline, type Role, type RunningHoldline } from '../runtime/holdline';
import type { Tools } from '../runtime/tool-kit';
import { ToolsFileError } from '../runtime/tools-file';
import { EXIT } from './exit-codes';

export interface RunOptions {
  role: Role;
  tools?: Tools;
  toolsFile?: string;
}

/** Runs one role until SIGINT/SIGTERM, then stops it cleanly; a second signal forces the exit. */
export async function runHoldline({ role, tools, toolsFile }: RunOptions): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(EXIT.usage);
    }
    throw error;
  }
  const logger = createLogger(config.LOG_LEVEL, { role });

  // Ctrl-C reaches every process of the group, so npm and tsx may pass the same
  // signal on again: only a signal well after the first one forces the exit.
  // Handlers go in before start-up, so a signal while starting stops what has
  // started (the embedded dev server included) instead of orphaning it.
  let running: RunningHoldline | undefined;
  let stoppingSince: number | undefined;
  const stopNow = async () => {
    await running!.stop();
    logger.info('stopped');
    process.exit(0);
  };
  const shutdown = async (signal: string) => {
    if (stoppingSince !== undefined) {
      if (Date.now() - stoppingSince < 2_000) return;
      logger.warn('second signal: exiting now');
      process.exit(130);
    }
    stoppingSince = Date.now();
    logger.info({ signal }, running ? 'stopping' : 'stopping once start-up ends (signal again to exit now)');
    if (running) await stopNow();
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  try {
    running = await startHoldline({ role, logger, ...(tools ? { tools } : {}), ...(toolsFile ? { toolsFile } : {}) });
  } catch (error) {
    if (error instanceof ToolsFileError) {
      // Every problem with its line, as written: a person fixes the file from this.
      process.stderr.write(`${error.message}\n`);
      process.exit(EXIT.usage);
    }
    logger.fatal({ err: error }, `Holdline could not start: ${(error as Error).message}`);
    process.exit(EXIT.failed);
  }
  if (stoppingSince !== undefined) return stopNow();
  printBanner(role, running, config.TEMPORAL_NAMESPACE);
}

function printBanner(role: Role, running: RunningHoldline, namespace: string): void {
  const { apiUrl, temporalAddress, temporalUiUrl, model } = running;
  const lines = ['', `Holdline is running (${role})`];
  if (apiUrl) {
    lines.push(`  API:          ${apiUrl}   (tools: ${apiUrl}/v1/tools)`);
    lines.push(`  Realtime:     ${apiUrl.replace(/^http/, 'ws')}/v1/realtime   (model: ${model})`);
    lines.push(`  Tools:        ${running.tools.length ? running.tools.join(', ') : 'none (start with --tools <module>)'}`);
  }
  lines.push(`  Temporal:     ${temporalAddress} (namespace ${namespace})`);
  if (!running.temporalReachable) {
    lines.push(`  !! Temporal is not reachable yet at ${temporalAddress}. Holdline keeps trying:`);
    if (running.worker) lines.push('     the worker connects and starts polling as soon as Temporal answers;');
    if (apiUrl) lines.push('     until then tool calls answer 503 BACKEND_UNAVAILABLE and /readyz answers 503.');
  }
  if (temporalUiUrl) lines.push(`  Temporal UI:  ${temporalUiUrl}/namespaces/${namespace}/workflows`);
  if (apiUrl) {
    lines.push(
      '  Get a token:  npx holdline token --tenant acme --user alice --scope "<the scopes your tools require>"',
      `  Call a tool:  curl -s -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \\`,
      `                  -d '{"tool":"<name>","arguments":{...}}' ${apiUrl}/v1/tool-calls`,
    );
  }
  lines.push('  Stop:         Ctrl-C', '');
  process.stdout.write(`${lines.join('\n')}\n`);
}
