import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Client } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, type Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { createSupportTools } from '../../examples/support-desk';
import { createToolWorker } from '../../src/runtime/worker';
import { describeDeployment, runningOn, setCurrentVersion } from '../../src/temporal/deployments';
import { freshKey, startHarness, type Harness } from '../support/harness';
import { createTestTools } from '../support/test-tools';
import { waitFor } from '../support/wait';

/**
 * A deploy while a call is in flight: the call started on version A finishes
 * on A's code, new calls run on B, and A can stop once it runs nothing.
 * Version B's workflow code is non-deterministic against A's histories
 * (test/support/workflows-version-b.ts): had B picked up A's call, that call
 * would be stuck failing workflow tasks instead of finishing.
 */
jest.setTimeout(90_000);

let h: Harness;
let client: Client;
let connection: NativeConnection;
let bundleB: WorkflowBundleOption;
const deploymentName = `holdline-test-${randomUUID().slice(0, 8)}`;
const running: { worker: Worker; done: Promise<void> }[] = [];

beforeAll(async () => {
  h = await startHarness({ withoutWorker: true });
  client = h.server.gateway.calls.client;
  connection = await NativeConnection.connect({ address: process.env.HOLDLINE_TEST_TEMPORAL_ADDRESS! });
  bundleB = { code: (await bundleWorkflowCode({ workflowsPath: require.resolve('../support/workflows-version-b'), logger: quiet })).code };
});

afterAll(async () => {
  for (const { worker, done } of running) {
    if (worker.getState() === 'RUNNING') worker.shutdown();
    await done;
  }
  await connection?.close();
  await h?.stop();
});

async function startVersion(buildId: string, workflowBundle: WorkflowBundleOption): Promise<Worker> {
  const worker = await createToolWorker({
    connection,
    namespace: 'default',
    taskQueue: h.taskQueue,
    tools: [...createSupportTools({ store: h.store }), ...createTestTools(h.probe)],
    workflowBundle,
    identity: `worker-${buildId}`,
    deployment: { name: deploymentName, buildId },
  });
  running.push({ worker, done: worker.run() });
  return worker;
}

/** Build ids of the workers that completed the call's workflow tasks, in order, and how many 1 ms timers it started (B's code starts one first). */
async function whoRan(key: string): Promise<{ buildIds: string[]; timers: number; behavior: unknown; pinnedTo?: string }> {
  const handle = client.workflow.getHandle(`acme/alice/${key}`);
  const history = await handle.fetchHistory();
  const events = history.events ?? [];
  const buildIds = events.flatMap((event) => {
    const completed = event.workflowTaskCompletedEventAttributes;
    return completed ? [completed.deploymentVersion?.buildId ?? '(unversioned)'] : [];
  });
  // B's mark: a 1 ms timer (A's code only times approvals, in seconds).
  const timers = events.filter((event) => {
    const timeout = event.timerStartedEventAttributes?.startToFireTimeout;
    return timeout && !Number(timeout.seconds ?? 0) && (timeout.nanos ?? 0) <= 1_000_000;
  }).length;
  const info = (await handle.describe()).raw.workflowExecutionInfo?.versioningInfo;
  return { buildIds, timers, behavior: info?.behavior, ...(info?.deploymentVersion?.buildId ? { pinnedTo: info.deploymentVersion.buildId } : {}) };
}

const PINNED = 1;

it('finishes a call on the version it started on after another version becomes current, and runs new calls on the new one', async () => {
  const workerA = await startVersion('A', { codePath: process.env.HOLDLINE_TEST_WORKFLOW_BUNDLE! });
  expect(await setCurrentVersion(client, deploymentName, 'A')).toBeUndefined();

  // A call that waits for approval: in flight across the deploy, for as long as the test likes.
  const inFlight = freshKey('deploy-a');
  expect((await h.call('cancel_order', { order_id: 'A-1004', reason: 'deploy test' }, { key: inFlight })).status).toBe(202);
  await waitFor(async () => (await h.get(`/v1/tool-calls/${inFlight}`)).body.status === 'awaiting_approval', 10_000, 'the call on A waits for approval');

  await startVersion('B', bundleB);
  expect(await setCurrentVersion(client, deploymentName, 'B')).toBe('A');

  // The approval is the call's next workflow task: it must go to A, although B is current.
  expect((await h.post(`/v1/tool-calls/${inFlight}/approval`, { approved: true })).status).toBe(202);
  const finished = await h.get(`/v1/tool-calls/${inFlight}?wait=20000`);
  expect(finished.body).toMatchObject({ status: 'ok', data: { order_id: 'A-1004', state: 'cancelled' } });
  const onA = await whoRan(inFlight);
  expect(onA).toMatchObject({ timers: 0, behavior: PINNED, pinnedTo: 'A' });
  expect(onA.buildIds.length).toBeGreaterThanOrEqual(2);
  expect(new Set(onA.buildIds)).toEqual(new Set(['A']));
  // The approval-in-memo patch: who approved is in the memo.
  expect((await client.workflow.getHandle(`acme/alice/${inFlight}`).describe()).memo).toMatchObject({ approval: { approved: true, decided_by: 'alice' } });

  // A new call starts on B, with B's code (its timer first).
  const fresh = freshKey('deploy-b');
  expect((await h.call('lookup_order', { order_id: 'A-1002' }, { key: fresh })).status).toBeLessThan(300);
  expect((await h.get(`/v1/tool-calls/${fresh}?wait=20000`)).body.status).toBe('ok');
  const onB = await whoRan(fresh);
  expect(onB).toMatchObject({ timers: 1, behavior: PINNED, pinnedTo: 'B' });
  expect(new Set(onB.buildIds)).toEqual(new Set(['B']));

  // A runs nothing any more: it may stop, and new calls keep flowing on B.
  await waitFor(async () => (await runningOn(client, deploymentName, 'A')) === 0, 15_000, 'no call left running on A');
  const state = await describeDeployment(client, deploymentName);
  expect(state.currentBuildId).toBe('B');
  expect(state.versions.map((version) => version.buildId).sort()).toEqual(['A', 'B']);
  // What an operator sees before stopping A (`holdline deployment status`).
  expect(JSON.parse(await holdline('deployment', 'status', '--name', deploymentName, '--json'))).toMatchObject({
    name: deploymentName,
    currentBuildId: 'B',
    versions: expect.arrayContaining([expect.objectContaining({ buildId: 'A', running: 0 })]),
  });
  workerA.shutdown();
  await running[0]!.done;
  const after = freshKey('deploy-after');
  await h.call('lookup_order', { order_id: 'A-1001' }, { key: after });
  expect((await h.get(`/v1/tool-calls/${after}?wait=20000`)).body.status).toBe('ok');
  expect((await whoRan(after)).pinnedTo).toBe('B');
});

it('rolls back with holdline deployment current: new calls start on the version made current again', async () => {
  // Version A stopped in the test above; a fresh A' stands in for the previous version still running.
  await startVersion('A2', { codePath: process.env.HOLDLINE_TEST_WORKFLOW_BUNDLE! });
  expect(JSON.parse(await holdline('deployment', 'current', 'A2', '--name', deploymentName, '--json'))).toMatchObject({ current: 'A2', previous: 'B' });
  const key = freshKey('deploy-back');
  await h.call('lookup_order', { order_id: 'A-1001' }, { key });
  expect((await h.get(`/v1/tool-calls/${key}?wait=20000`)).body.status).toBe('ok');
  expect(await whoRan(key)).toMatchObject({ pinnedTo: 'A2', timers: 0 });
});

/** The `holdline` command against the suite's Temporal; its stdout. */
async function holdline(...args: string[]): Promise<string> {
  const root = join(__dirname, '..', '..');
  const { stdout } = await promisify(execFile)(join(root, 'node_modules', '.bin', 'tsx'), [join(root, 'src', 'cli', 'holdline.ts'), ...args, '--address', process.env.HOLDLINE_TEST_TEMPORAL_ADDRESS!], {
    env: { ...process.env, LOG_LEVEL: 'silent' },
    timeout: 30_000,
  });
  return stdout;
}

const noop = () => undefined;
const quiet = { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: noop };
