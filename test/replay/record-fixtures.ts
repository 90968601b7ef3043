// Regenerates the replay fixtures from real runs: `npx tsx test/replay/record-fixtures.ts`.
// Starts a dev server of its own, runs one call per scenario through the real
// gateway and worker, and saves each workflow's history next to this file.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { SEARCH_ATTRIBUTE_NAMES } from '../../src/runtime/holdline';
import { resolveTemporalCli } from '../../src/temporal/cli-binary';
import { startDevServer } from '../../src/temporal/dev-server';
import { saveHistory } from '../../src/temporal/history';
import { freshKey, startHarness } from '../support/harness';
import { freePort } from '../support/ports';

const noop = () => undefined;
const quiet = { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: noop };

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'holdline-record-'));
  const temporal = await startDevServer({
    cliPath: await resolveTemporalCli(),
    port: await freePort(),
    uiPort: null,
    namespace: 'default',
    searchAttributes: SEARCH_ATTRIBUTE_NAMES,
  });
  const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../src/workflows'), logger: quiet });
  process.env.HOLDLINE_TEST_WORKFLOW_BUNDLE = join(dir, 'bundle.js');
  writeFileSync(process.env.HOLDLINE_TEST_WORKFLOW_BUNDLE, bundle.code);
  const h = await startHarness({ temporalAddress: temporal.address });
  const fixtures = join(__dirname, 'fixtures');
  const record = async (name: string, key: string) => {
    await h.get(`/v1/tool-calls/${key}?wait=30000`);
    const events = await saveHistory(h.server.gateway.calls.client, `acme/alice/${key}`, join(fixtures, `${name}.json`));
    process.stdout.write(`${name}: ${events} events\n`);
  };
  try {
    let key = freshKey();
    await h.call('refund_order', { order_id: 'A-1005', amount_cents: 100, reason: 'fixture: ok' }, { key });
    await record('refund-ok', key);

    key = freshKey();
    await h.call('lookup_order', { order_id: 'A-9999' }, { key });
    await record('lookup-tool-error', key);

    key = freshKey();
    await h.call('flaky_tool', { label: key, failures: 1 }, { key });
    await record('flaky-retried-ok', key);

    key = freshKey();
    await h.call('sleepy_tool', { label: key, ms: 10_000 }, { key });
    await record('sleepy-timeout', key);

    key = freshKey();
    await h.call('refund_order', { order_id: 'A-1005', amount_cents: 100, reason: 'fixture: cancelled' }, { key });
    await h.post(`/v1/tool-calls/${key}/cancel`, {});
    await record('refund-cancelled', key);

    key = freshKey();
    await h.call('cancel_order', { order_id: 'A-1001', reason: 'fixture: approved' }, { key });
    await h.post(`/v1/tool-calls/${key}/approval`, { approved: true });
    await record('cancel-approved', key);

    key = freshKey();
    await h.call('cancel_order', { order_id: 'A-1004', reason: 'fixture: denied' }, { key });
    await h.post(`/v1/tool-calls/${key}/approval`, { approved: false });
    await record('cancel-denied', key);
  } finally {
    await h.stop();
    await temporal.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exit(1);
  },
);
