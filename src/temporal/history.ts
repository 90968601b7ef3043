import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

/**
 * Saves a workflow's event history as a JSON fixture (the same form as
 * `temporal workflow show --output json`), for replay tests: replaying it
 * against the current workflow code proves a change is deterministic for
 * calls already in flight.
 */
export async function saveHistory(client: Client, workflowId: string, path: string): Promise<number> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(JSON.parse(historyToJSON(history)), null, 2)}\n`);
  return history.events?.length ?? 0;
}
