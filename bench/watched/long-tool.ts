import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { implementTool, type ToolImplementation } from '../../src/activities';
import { defineTool } from '../../src/contracts/tool-spec';

/**
 * A long call that reports progress now and then, as a slow voice tool does
 * (a refund waiting on a bank, a search over a slow API), until it is
 * cancelled (the bench ends its calls so once it has measured, however long
 * starting them took) or `duration_ms` has passed. Each message is the
 * time it was emitted (Date.now() in the worker process); reader and worker
 * run on one machine, so the reader's clock agrees and the difference is the
 * delivery latency.
 */
export const benchLongProgress = defineTool({
  name: 'bench_long_progress',
  description: 'Benchmark only: runs until cancelled (at most duration_ms) and reports progress every interval_ms; each message is the time it was emitted.',
  input: z.strictObject({
    duration_ms: z.number().int().positive().max(600_000),
    interval_ms: z.number().int().min(100).max(10_000),
  }),
  output: z.object({ ticks: z.number().int() }),
  scopes: ['bench'],
  sideEffect: 'read',
  cancellable: true,
  budget: { ackAfterMs: 0, timeoutMs: 660_000, heartbeatTimeoutMs: 30_000 },
  retry: { maxAttempts: 1 },
});

export function benchLongProgressTool(): ToolImplementation {
  return implementTool(benchLongProgress, async ({ duration_ms, interval_ms }, ctx) => {
    const started = Date.now();
    // Calls started together would otherwise all report in the same instant, every interval.
    await delay(Math.floor(Math.random() * interval_ms), undefined, { signal: ctx.signal });
    let ticks = 0;
    for (let elapsed = Date.now() - started; elapsed < duration_ms; elapsed = Date.now() - started) {
      ctx.progress({ stage: 'tick', pct: Math.min(99, Math.round((elapsed / duration_ms) * 100)), message: String(Date.now()) });
      ticks++;
      // A cancellation (heard in the next heartbeat's answer) ends the wait, and the call.
      await delay(Math.min(interval_ms, duration_ms - elapsed), undefined, { signal: ctx.signal });
    }
    return { ticks };
  });
}
