import { z } from 'zod';
import { defineTool } from '../../src/contracts/tool-spec';
import { implementTool, type ToolImplementation } from '../../src/activities';

/** A call that keeps running and reporting progress until it is cancelled: the load of the console's frame-batching test. */
export const steadyProgress = defineTool({
  name: 'steady_progress',
  description: 'Reports progress every `every_ms` for `ms` milliseconds; stops when cancelled.',
  input: z.strictObject({ label: z.string(), ms: z.number().int().positive(), every_ms: z.number().int().positive() }),
  output: z.object({ ticks: z.number() }),
  scopes: ['test'],
  sideEffect: 'read',
  cancellable: true,
  budget: { ackAfterMs: 0, timeoutMs: 60_000, heartbeatTimeoutMs: 5_000 },
  retry: { maxAttempts: 1 },
});

export function createConsoleTools(): ToolImplementation[] {
  return [
    implementTool(steadyProgress, async ({ label, ms, every_ms }, ctx) => {
      const started = Date.now();
      let ticks = 0;
      while (Date.now() - started < ms) {
        ticks += 1;
        ctx.progress({ stage: 'working', pct: Math.min(99, Math.round(((Date.now() - started) / ms) * 100)), message: `${label} tick ${ticks}` });
        await ctx.sleep(every_ms);
      }
      return { ticks };
    }),
  ];
}
