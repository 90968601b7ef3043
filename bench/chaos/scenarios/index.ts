import type { Scenario } from '../scenario';
import { concurrentRefunds } from './concurrent-refunds';
import { downstream } from './downstream';
import { serverKill } from './server-kill';
import { stormBurst, stormSpread } from './storm';
import { temporalKill } from './temporal-kill';
import { workerKill } from './worker-kill';

/** Every chaos scenario, in the order a run takes them. */
export const SCENARIOS: readonly Scenario[] = [workerKill, serverKill, temporalKill, downstream, stormBurst, stormSpread, concurrentRefunds];
