// Records replay fixtures from real runs: `npx tsx test/replay/record-fixtures.ts [name…]`.
// Starts a dev server of its own, runs one call per scenario through the real
// gateway and worker, and saves each workflow's history next to this file.
// With names, only those scenarios are recorded (the others' files are left
// as they are: a fixture pins the workflow code that ran when it was made, so
// re-recording one drops that check); without, every scenario is.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import pino from 'pino';
import { createHttpToolSource } from '../../src/activities/http';
import { connectMcpToolSource } from '../../src/activities/mcp';
import { SEARCH_ATTRIBUTE_NAMES } from '../../src/runtime/holdline';
import { resolveTemporalCli } from '../../src/temporal/cli-binary';
import { startDevServer } from '../../src/temporal/dev-server';
import { saveHistory } from '../../src/temporal/history';
import { freshKey, startHarness, type Harness } from '../support/harness';
import { freePort } from '../support/ports';
import { TEST_SCOPES } from '../support/test-tools';
import { startTestEndpoint } from '../tools/support/http-endpoint';
import { httpTestTools, TOKEN_VARIABLE } from '../tools/support/http-tools';
import { startHttpMcpServer } from '../tools/support/mcp-http-server';

const noop = () => undefined;
const quiet = { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: noop };

/** The MCP server of the fixtures, served as `mcp:fixtures`; its tools need that scope. */
const MCP_SERVER = 'fixtures';

/** One recorded call: places it (and acts on it) and returns its key; `token` when the default one may not call the tool. */
interface Scenario {
  name: string;
  run(h: Harness, token: string): Promise<{ key: string; token?: string }>;
}

const SCENARIOS: Scenario[] = [
  {
    name: 'refund-ok',
    run: async (h) => {
      const key = freshKey();
      await h.call('refund_order', { order_id: 'A-1005', amount_cents: 100, reason: 'fixture: ok' }, { key });
      return { key };
    },
  },
  {
    name: 'lookup-tool-error',
    run: async (h) => {
      const key = freshKey();
      await h.call('lookup_order', { order_id: 'A-9999' }, { key });
      return { key };
    },
  },
  {
    name: 'flaky-retried-ok',
    run: async (h) => {
      const key = freshKey();
      await h.call('flaky_tool', { label: key, failures: 1 }, { key });
      return { key };
    },
  },
  {
    name: 'sleepy-timeout',
    run: async (h) => {
      const key = freshKey();
      await h.call('sleepy_tool', { label: key, ms: 10_000 }, { key });
      return { key };
    },
  },
  {
    name: 'refund-cancelled',
    run: async (h) => {
      const key = freshKey();
      await h.call('refund_order', { order_id: 'A-1005', amount_cents: 100, reason: 'fixture: cancelled' }, { key });
      await h.post(`/v1/tool-calls/${key}/cancel`, {});
      return { key };
    },
  },
  {
    name: 'cancel-approved',
    run: async (h) => {
      const key = freshKey();
      await h.call('cancel_order', { order_id: 'A-1001', reason: 'fixture: approved' }, { key });
      await h.post(`/v1/tool-calls/${key}/approval`, { approved: true });
      return { key };
    },
  },
  {
    // Made after the approval-in-memo patch: the marker and the memo update replay the patched path.
    name: 'cancel-approved-patched',
    run: async (h) => {
      const key = freshKey();
      await h.call('cancel_order', { order_id: 'A-1001', reason: 'fixture: approved after the patch' }, { key });
      await h.post(`/v1/tool-calls/${key}/approval`, { approved: true });
      return { key };
    },
  },
  {
    name: 'cancel-denied',
    run: async (h) => {
      const key = freshKey();
      await h.call('cancel_order', { order_id: 'A-1004', reason: 'fixture: denied' }, { key });
      await h.post(`/v1/tool-calls/${key}/approval`, { approved: false });
      return { key };
    },
  },
  {
    // An HTTP tool whose endpoint starts a job (202 + Location), polled twice with progress, then done.
    name: 'http-job',
    run: async (h) => {
      const key = freshKey();
      await h.call('http_job', { steps: 2 }, { key });
      return { key };
    },
  },
  {
    // An HTTP tool whose endpoint answers 503 once, then 200: the retry inside the budget.
    name: 'http-retried-ok',
    run: async (h) => {
      const key = freshKey();
      await h.call('http_flaky', { failures: 1 }, { key });
      return { key };
    },
  },
  {
    // The same HTTP tool run as a local activity (runAs in the tools file): each attempt a marker in the workflow's task.
    name: 'http-local-retried-ok',
    run: async (h) => {
      const key = freshKey();
      await h.call('http_flaky_local', { failures: 1 }, { key });
      return { key };
    },
  },
  {
    // A tool of an MCP server (Streamable HTTP), run by the server's one activity `mcp:fixtures`.
    name: 'mcp-call',
    run: async (h, token) => {
      const key = freshKey();
      await h.call('mcp_lookup', { id: 'C-7' }, { key, token });
      return { key, token };
    },
  },
];

function selected(args: readonly string[]): Scenario[] {
  const unknown = args.filter((name) => !SCENARIOS.some((scenario) => scenario.name === name));
  if (unknown.length > 0) throw new Error(`no scenario ${unknown.join(', ')}; the scenarios are ${SCENARIOS.map((s) => s.name).join(', ')}`);
  return args.length > 0 ? SCENARIOS.filter((scenario) => args.includes(scenario.name)) : SCENARIOS;
}

async function main(): Promise<void> {
  const scenarios = selected(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'holdline-record-'));
  const closers: (() => Promise<void>)[] = [async () => rmSync(dir, { recursive: true, force: true })];
  try {
    const temporal = await startDevServer({
      cliPath: await resolveTemporalCli(),
      port: await freePort(),
      uiPort: null,
      namespace: 'default',
      searchAttributes: SEARCH_ATTRIBUTE_NAMES,
    });
    closers.push(() => temporal.stop());
    const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../../src/workflows'), logger: quiet });
    process.env.HOLDLINE_TEST_WORKFLOW_BUNDLE = join(dir, 'bundle.js');
    writeFileSync(process.env.HOLDLINE_TEST_WORKFLOW_BUNDLE, bundle.code);

    // The services configured tools call: the tests' own HTTP endpoint and Streamable HTTP MCP server.
    const endpoint = await startTestEndpoint();
    closers.push(() => endpoint.close());
    const mcpServer = await startHttpMcpServer();
    closers.push(() => mcpServer.close());
    const http = createHttpToolSource(httpTestTools(endpoint.url), { env: { [TOKEN_VARIABLE]: 'fixture-token' } });
    const mcp = await connectMcpToolSource(
      { name: MCP_SERVER, url: mcpServer.url, tools: { lookup_customer: { as: 'mcp_lookup', confidenceField: 'confidence' } } },
      { logger: pino({ level: 'warn' }, pino.destination(2)) },
    );
    closers.push(() => mcp.close());
    if (mcp.specs().length === 0) throw new Error(`the MCP server is not serving mcp_lookup: ${JSON.stringify(Object.fromEntries(mcp.unavailable()))}`);

    const h = await startHarness({ temporalAddress: temporal.address, sources: [http, mcp] });
    closers.push(() => h.stop());
    const token = await h.token({ scopes: [...TEST_SCOPES, `mcp:${MCP_SERVER}`] });
    const fixtures = join(__dirname, 'fixtures');
    for (const scenario of scenarios) {
      const placed = await scenario.run(h, token);
      const final = await h.get(`/v1/tool-calls/${placed.key}?wait=30000`, placed.token);
      const events = await saveHistory(h.server.gateway.calls.client, `acme/alice/${placed.key}`, join(fixtures, `${scenario.name}.json`));
      process.stdout.write(`${scenario.name}: ${events} events, ended ${JSON.stringify(final.body?.status)}${final.body?.error_code ? ` ${final.body.error_code}` : ''}\n`);
    }
  } finally {
    for (const close of closers.reverse()) await close();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exit(1);
  },
);
