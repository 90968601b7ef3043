import { z } from 'zod';
import { ToolFailure } from '../../src/contracts/errors';
import { defineTool } from '../../src/contracts/tool-spec';
import { implementTool, type ToolImplementation } from '../../src/activities';

/**
 * Tools that misbehave on purpose, registered through the same public API a
 * user's tools use. `probe` records what the activities saw, for assertions.
 */
export interface ToolProbe {
  /** Calls of `sleepy_tool` that noticed they were stopped, by label. */
  stopped: Set<string>;
  /** Attempts of `flaky_tool`, by label. */
  attempts: Map<string, number>;
}

export const sleepyTool = defineTool({
  name: 'sleepy_tool',
  description: 'Heartbeats every 50 ms for `ms` milliseconds; used to test timeouts and cancellation.',
  input: z.strictObject({ label: z.string(), ms: z.number().int().positive() }),
  output: z.object({ slept_ms: z.number() }),
  scopes: ['test'],
  sideEffect: 'read',
  cancellable: true,
  budget: { ackAfterMs: 0, timeoutMs: 1_500, heartbeatTimeoutMs: 1_000 },
  retry: { maxAttempts: 1 },
});

export const flakyTool = defineTool({
  name: 'flaky_tool',
  description: 'Fails with a retryable error `failures` times, then succeeds.',
  input: z.strictObject({ label: z.string(), failures: z.number().int().min(0) }),
  output: z.object({ attempts: z.number() }),
  scopes: ['test'],
  sideEffect: 'read',
  budget: { ackAfterMs: 5_000, timeoutMs: 10_000 },
  retry: { maxAttempts: 4, initialIntervalMs: 50, maxIntervalMs: 200 },
});

export const brokenTool = defineTool({
  name: 'broken_tool',
  description: 'Always fails with a non-retryable error.',
  input: z.strictObject({}),
  output: z.object({}),
  scopes: ['test'],
  sideEffect: 'read',
  budget: { ackAfterMs: 5_000, timeoutMs: 10_000 },
  retry: { maxAttempts: 5, initialIntervalMs: 1_000 },
});

export function createTestTools(probe: ToolProbe): ToolImplementation[] {
  return [
    implementTool(sleepyTool, async ({ label, ms }, ctx) => {
      const started = Date.now();
      try {
        while (Date.now() - started < ms) {
          ctx.progress({ stage: 'sleeping', pct: Math.min(99, Math.round(((Date.now() - started) / ms) * 100)), message: label });
          await ctx.sleep(50);
        }
      } catch (error) {
        probe.stopped.add(label);
        throw error;
      }
      return { slept_ms: Date.now() - started };
    }),
    implementTool(flakyTool, async ({ label, failures }) => {
      const attempt = (probe.attempts.get(label) ?? 0) + 1;
      probe.attempts.set(label, attempt);
      if (attempt <= failures) throw new ToolFailure('FLAKY', `Attempt ${attempt} failed`, { retryable: true });
      return { attempts: attempt };
    }),
    implementTool(brokenTool, async () => {
      throw new ToolFailure('BROKEN', 'The tool is broken', { retryable: false });
    }),
  ];
}

export const TEST_SCOPES = ['orders:read', 'orders:refund', 'orders:write', 'test'];
