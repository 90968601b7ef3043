// A deliberately non-deterministic edit of toolCallWorkflow: it sleeps before
// running the tool, so its commands no longer match recorded histories. The
// replay test uses it to prove that replay catches such a change.
import { sleep } from '@temporalio/workflow';
import { toolCallWorkflow as current } from '../../src/workflows/tool-call';
import type { ToolCallInput } from '../../src/contracts/tool-call';

export async function toolCallWorkflow(input: ToolCallInput) {
  await sleep(1);
  return current(input);
}
