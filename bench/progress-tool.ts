import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { implementTool, type ToolImplementation } from '../src/activities';
import { defineTool } from '../src/contracts/tool-spec';

/**
 * A bench-only tool, registered through the same public API a user's tool
 * uses. Progress payloads carry no timestamp, so this one puts the time each
 * heartbeat was emitted (Date.now()) in its message; the bench reads it back
 * from the SSE stream in the same process, where the clocks agree.
 */
export const benchProgress = defineTool({
  name: 'bench_progress',
  description: 'Benchmark only: reports progress every interval_ms for duration_ms; each message is the time it was emitted.',
  input: z.strictObject({
    duration_ms: z.number().int().positive().max(10_000),
    interval_ms: z.number().int().min(20).max(1_000),
  }),
  output: z.object({ ticks: z.number().int() }),
  scopes: ['bench'],
  sideEffect: 'read',
  cancellable: false,
  budget: { ackAfterMs: 0, timeoutMs: 20_000, heartbeatTimeoutMs: 2_000 },
  retry: { maxAttempts: 1 },
});

export function benchProgressTool(): ToolImplementation {
  return implementTool(benchProgress, async ({ duration_ms, interval_ms }, ctx) => {
    const started = Date.now();
    let ticks = 0;
    for (let elapsed = 0; elapsed < duration_ms; elapsed = Date.now() - started) {
      const emittedAt = Date.now();
      ctx.progress({ stage: 'tick', pct: Math.min(99, Math.round((elapsed / duration_ms) * 100)), message: String(emittedAt) });
      ticks++;
      await delay(interval_ms);
    }
    return { ticks };
  });
}
