// The support-desk example: three tools of a customer-support voice agent, on an embedded SQLite
// store, or on PostgreSQL when HOLDLINE_DATABASE_URL is set (workers on several machines).
// `npm start` in this repository runs Holdline with it; `holdline start --tools ./examples/support-desk` does too.
import { join } from 'node:path';
import type { ToolKit, ToolsSetup } from 'holdline';
import { createSupportTools } from './handlers';
import { PostgresOrderStore } from './postgres-store';
import { OrderStore, type SupportStore } from './store';

export { supportTools, lookupOrder, refundOrder, cancelOrder } from './tools';
export { createSupportTools, readOrder, type SupportToolDeps } from './handlers';
export { OrderStore, type SupportStore } from './store';
export { PostgresOrderStore, migrateOrderStore } from './postgres-store';

/**
 * The tools, on PostgreSQL at `HOLDLINE_DATABASE_URL` (migrated at start), else
 * on SQLite in Holdline's data directory (`HOLDLINE_DATA_DIR`).
 * `HOLDLINE_REFUND_STAGE_MS` sets the length of the refund's stages (default
 * 1,000 ms), so a demo can show progress and barge-in.
 * `HOLDLINE_STORE_DELAY_MS` makes every store request of the tools wait that
 * long first (default 0): a slow database, to watch the tools' breakers work.
 */
export default async function supportDesk({ dataDir, env }: ToolsSetup): Promise<ToolKit> {
  const stageMs = Number(env.HOLDLINE_REFUND_STAGE_MS ?? 1_000);
  if (!(Number.isInteger(stageMs) && stageMs > 0)) throw new Error(`HOLDLINE_REFUND_STAGE_MS=${JSON.stringify(env.HOLDLINE_REFUND_STAGE_MS)}: must be a positive integer`);
  const storeDelayMs = Number(env.HOLDLINE_STORE_DELAY_MS ?? 0);
  if (!(Number.isInteger(storeDelayMs) && storeDelayMs >= 0)) throw new Error(`HOLDLINE_STORE_DELAY_MS=${JSON.stringify(env.HOLDLINE_STORE_DELAY_MS)}: must be a whole number of milliseconds`);
  const databaseUrl = env.HOLDLINE_DATABASE_URL?.trim();
  const store: SupportStore = databaseUrl ? await PostgresOrderStore.open(databaseUrl) : new OrderStore(join(dataDir, 'orders.sqlite'));
  return { tools: createSupportTools({ store, refundTimings: { stageMs }, storeDelayMs }), close: () => store.close() };
}
