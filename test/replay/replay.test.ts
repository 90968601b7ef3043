import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeterminismViolationError } from '@temporalio/workflow';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import pino from 'pino';
import { installTemporalRuntime } from '../../src/runtime/temporal';
import { workflowSpanSinks } from '../../src/runtime/tracing';

/**
 * Every history recorded from a real run (test/replay/fixtures, made by
 * record-fixtures.ts or `holdline record`) must replay against the
 * current workflow code: a change that would break calls in flight fails here.
 */
beforeAll(() => installTemporalRuntime(pino({ level: 'error' }), 'ERROR'));

const FIXTURES = join(__dirname, 'fixtures');
const fixtures = readdirSync(FIXTURES).filter((name) => name.endsWith('.json'));
const load = (name: string) => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as unknown;

it('has fixtures for ok, tool error, timeout, cancelled, approval granted and denied, and HTTP (as an activity and a local activity) and MCP tools', () => {
  expect(fixtures.sort()).toEqual(
    expect.arrayContaining([
      'refund-ok.json',
      'lookup-tool-error.json',
      'sleepy-timeout.json',
      'refund-cancelled.json',
      'cancel-approved.json',
      'cancel-denied.json',
      'http-job.json',
      'http-retried-ok.json',
      'http-local-retried-ok.json',
      'mcp-call.json',
    ]),
  );
});

describe.each(fixtures)('history %s', (name) => {
  it('replays against the current workflow code', async () => {
    await expect(
      Worker.runReplayHistory({ workflowBundle: { codePath: process.env.HOLDLINE_TEST_WORKFLOW_BUNDLE! }, sinks: workflowSpanSinks(undefined) }, load(name), name),
    ).resolves.toBeUndefined();
  });
});

it('fails replay when the workflow code changed in a non-deterministic way', async () => {
  const drifted = await bundleWorkflowCode({ workflowsPath: require.resolve('./drifted-workflow'), logger: quiet });
  await expect(Worker.runReplayHistory({ workflowBundle: drifted }, load('refund-ok.json'), 'drifted')).rejects.toBeInstanceOf(
    DeterminismViolationError,
  );
});

const noop = () => undefined;
const quiet = { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: noop };
