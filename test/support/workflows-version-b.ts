// The workflows of a "version B" worker in the deploy test: the current
// toolCallWorkflow behind a timer it did not have before. That timer makes B
// non-deterministic against every history version A wrote, so a call started
// on A that B picked up would fail its workflow task instead of finishing:
// the test proves pinning by the call finishing at all, and by the build id
// its history records.
import { sleep } from '@temporalio/workflow';
import { toolCallWorkflow as current } from '../../src/workflows/tool-call';
import type { ToolCallInput } from '../../src/contracts/tool-call';

export async function toolCallWorkflow(input: ToolCallInput) {
  await sleep(1);
  return current(input);
}
export { providerCallClaimWorkflow, sessionLedgerWorkflow } from '../../src/workflows/session-ledger';
