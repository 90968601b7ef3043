// The support-desk example: three tools of a customer-support voice agent on an embedded SQLite store.
// `npm start` in this repository runs Holdline with it; `holdline start --tools ./examples/support-desk` does too.
import { join } from 'node:path';
import type { ToolKit, ToolsSetup } from 'holdline';
import { createSupportTools } from './handlers';
import { OrderStore } from './store';

export { supportTools, lookupOrder, refundOrder, cancelOrder } from './tools';
export { createSupportTools, readOrder, type SupportToolDeps } from './handlers';
export { OrderStore } from './store';

/**
 * The tools, on a store in Holdline's data directory (`HOLDLINE_DATA_DIR`).
 * `HOLDLINE_REFUND_STAGE_MS` sets the length of the refund's stages (default
 * 1,000 ms), so a demo can show progress and barge-in.
 */
export default function supportDesk({ dataDir, env }: ToolsSetup): ToolKit {
  const stageMs = Number(env.HOLDLINE_REFUND_STAGE_MS ?? 1_000);
  if (!(Number.isInteger(stageMs) && stageMs > 0)) throw new Error(`HOLDLINE_REFUND_STAGE_MS=${JSON.stringify(env.HOLDLINE_REFUND_STAGE_MS)}: must be a positive integer`);
  const store = new OrderStore(join(dataDir, 'orders.sqlite'));
  return { tools: createSupportTools({ store, refundTimings: { stageMs } }), close: () => store.close() };
}
