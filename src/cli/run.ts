import { createLogger } from '../runtime/logger';
import { ConfigError, loadConfig } from '../runtime/config';
import { startHoldline, type Role, type RunningHoldline } from '../runtime/holdline';

/** Runs one role until SIGINT/SIGTERM, then stops it cleanly; a second signal forces the exit. */
export async function runRole(role: Role): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(config.LOG_LEVEL, { role });
  let running;
  try {
    running = await startHoldline(role, config, logger);
  } catch (error) {
    logger.fatal({ err: error }, `Holdline could not start: ${(error as Error).message}`);
    process.exit(1);
  }
  printBanner(role, running, config.TEMPORAL_NAMESPACE);

  // Ctrl-C reaches every process of the group, so npm and tsx may pass the same
  // signal on again: only a signal well after the first one forces the exit.
  let stoppingSince: number | undefined;
  const shutdown = async (signal: string) => {
    if (stoppingSince !== undefined) {
      if (Date.now() - stoppingSince < 2_000) return;
      logger.warn('second signal: exiting now');
      process.exit(130);
    }
    stoppingSince = Date.now();
    logger.info({ signal }, 'stopping');
    await running.stop();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

function printBanner(role: Role, running: RunningHoldline, namespace: string): void {
  const { apiUrl, temporalAddress, temporalUiUrl, model } = running;
  const lines = ['', `Holdline is running (${role})`];
  if (apiUrl) {
    lines.push(`  API:          ${apiUrl}   (tools: ${apiUrl}/v1/tools)`);
    lines.push(`  Realtime:     ${apiUrl.replace(/^http/, 'ws')}/v1/realtime   (model: ${model})`);
  }
  lines.push(`  Temporal:     ${temporalAddress} (namespace ${namespace})`);
  if (temporalUiUrl) lines.push(`  Temporal UI:  ${temporalUiUrl}/namespaces/${namespace}/workflows`);
  if (apiUrl) {
    lines.push(
      '  Get a token:  npm run token -- --tenant acme --user alice --scope "orders:read orders:refund orders:write"',
      `  Try it:       curl -s -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \\`,
      `                  -d '{"tool":"lookup_order","arguments":{"order_id":"A-1001"}}' ${apiUrl}/v1/tool-calls`,
    );
  }
  lines.push('  Stop:         Ctrl-C', '');
  process.stdout.write(`${lines.join('\n')}\n`);
}
