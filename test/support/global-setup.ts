import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { SEARCH_ATTRIBUTE_NAMES } from '../../src/runtime/holdline';
import { resolveTemporalCli } from '../../src/temporal/cli-binary';
import { startDevServer, type DevServer } from '../../src/temporal/dev-server';
import { freePort } from './ports';

/**
 * One real Temporal dev server for the whole run (SQLite in a temp dir, tuned
 * like the default run), and the workflow bundle built once for every worker.
 */
export default async function globalSetup(): Promise<void> {
  const cliPath = await resolveTemporalCli({
    ...(process.env.TEMPORAL_CLI ? { explicitPath: process.env.TEMPORAL_CLI } : {}),
    onProgress: (message) => process.stderr.write(`[test setup] ${message}\n`),
  });
  const dir = mkdtempSync(join(tmpdir(), 'holdline-test-'));
  const server = await startDevServer({
    cliPath,
    port: await freePort(),
    uiPort: null,
    dbFile: join(dir, 'temporal', 'temporal.sqlite'),
    namespace: 'default',
    searchAttributes: SEARCH_ATTRIBUTE_NAMES,
  });
  const bundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../src/workflows'),
    // Like the production bundle of an untraced worker (bundleToolWorkflows): the replay tests replay the same code.
    logger: quietLogger,
  });
  const bundlePath = join(dir, 'workflow-bundle.js');
  writeFileSync(bundlePath, bundle.code);

  process.env.HOLDLINE_TEST_TEMPORAL_ADDRESS = server.address;
  process.env.HOLDLINE_TEST_WORKFLOW_BUNDLE = bundlePath;
  process.env.HOLDLINE_TEST_TEMPORAL_CLI = cliPath;
  process.env.HOLDLINE_TEST_DIR = dir;
  (globalThis as { __holdlineDevServer?: DevServer }).__holdlineDevServer = server;
}

const noop = () => undefined;
const quietLogger = { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: (message: string) => process.stderr.write(`${message}\n`) };
