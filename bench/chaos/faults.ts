import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { OrderStore } from '../../examples/support-desk';

/**
 * A payment provider that misbehaves for a while. The chaos run switches a
 * fault on and off by writing a file; the worker's store reads it on every
 * provider call, so a window survives worker restarts and needs no IPC.
 *
 * - `fail`: the provider answers an error and moves nothing.
 * - `lost-reply`: the provider moves the money, then the answer is lost (an
 *   error reaches the tool), once per distinct request.
 * - `hang`: the provider does not answer for `HANG_MS`. The example store is
 *   a synchronous client, so the worker's thread stalls with it: heartbeats
 *   stop and Temporal times the attempt out, as with a stuck socket read.
 */
export type FaultMode = 'fail' | 'lost-reply' | 'hang';
export const FAULT_MODES: readonly FaultMode[] = ['fail', 'lost-reply', 'hang'];
export const HANG_MS = 2_500;

export class FaultSwitch {
  constructor(readonly path: string) {}

  set(mode: FaultMode): void {
    writeFileSync(this.path, mode);
  }

  clear(): void {
    rmSync(this.path, { force: true });
  }
}

function currentFault(path: string): FaultMode | undefined {
  try {
    const mode = readFileSync(path, 'utf8').trim();
    return (FAULT_MODES as readonly string[]).includes(mode) ? (mode as FaultMode) : undefined;
  } catch {
    return undefined;
  }
}

/** Blocks the thread, as a synchronous client waiting on a silent server does. */
function stall(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The example store with its payment provider behind the fault switch at `faultPath`. */
export class FaultyStore extends OrderStore {
  private readonly lostReplies = new Set<string>();

  constructor(path: string, private readonly faultPath: string) {
    super(path);
  }

  override providerRefund(...args: Parameters<OrderStore['providerRefund']>): ReturnType<OrderStore['providerRefund']> {
    const fault = currentFault(this.faultPath);
    if (fault === 'fail') throw new Error('payment provider unavailable (injected)');
    if (fault === 'hang') stall(HANG_MS);
    const payment = super.providerRefund(...args);
    const request = JSON.stringify(args);
    if (fault === 'lost-reply' && !this.lostReplies.has(request)) {
      this.lostReplies.add(request);
      throw new Error('payment provider connection reset after the request was sent (injected)');
    }
    return payment;
  }
}
