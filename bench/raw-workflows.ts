// Bench-only workflows: the least a Temporal-based tool call could be. Bundled
// into the raw worker's sandbox, so only @temporalio/workflow and types here.
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type * as activities from './raw-activities';

const { noop } = proxyActivities<typeof activities>({ startToCloseTimeout: '10s' });
const { noop: localNoop } = proxyLocalActivities<typeof activities>({ startToCloseTimeout: '10s' });

/** One no-op activity: the raw counterpart of a tool that runs as an activity. */
export async function oneActivityWorkflow(): Promise<void> {
  await noop();
}

/** One no-op local activity: the raw counterpart of lookup_order (runAs local-activity). */
export async function oneLocalActivityWorkflow(): Promise<void> {
  await localNoop();
}
