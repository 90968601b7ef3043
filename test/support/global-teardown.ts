import { rmSync } from 'node:fs';
import type { DevServer } from '../../src/temporal/dev-server';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __holdlineDevServer?: DevServer }).__holdlineDevServer?.stop();
  if (process.env.HOLDLINE_TEST_DIR) rmSync(process.env.HOLDLINE_TEST_DIR, { recursive: true, force: true });
}
