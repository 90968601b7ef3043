import { z } from 'zod';
import { ToolDefinitionError } from '../../src/contracts/errors';
import { defineTool, executionPlanOf } from '../../src/contracts/tool-spec';
import { supportTools } from '../../examples/support-desk';

const valid = {
  name: 'get_weather',
  description: 'Tells the weather.',
  input: z.strictObject({ city: z.string(), note: z.string().optional() }),
  output: z.object({ celsius: z.number() }),
  scopes: ['weather:read'],
  sideEffect: 'read' as const,
  budget: { ackAfterMs: 500, timeoutMs: 5_000 },
};

describe('defineTool', () => {
  it('fills in defaults and generates the JSON Schema the model sees', () => {
    const spec = defineTool(valid);
    expect(spec).toMatchObject({ version: 1, cancellable: false, settles: false, needsApproval: false, runAs: 'activity', sensitive: [] });
    expect(spec.retry).toMatchObject({ maxAttempts: 3, initialIntervalMs: 200, backoffCoefficient: 2 });
    expect(spec.budget.attemptTimeoutMs).toBe(5_000);
    expect(spec.parameters).toEqual({
      type: 'object',
      properties: { city: { type: 'string' }, note: { type: 'string' } },
      required: ['city'],
      additionalProperties: false,
    });
    expect(Object.isFrozen(spec)).toBe(true);
  });

  it.each([
    ['a name that is not snake_case', { name: 'GetWeather' }, /snake_case/],
    ['an empty description', { description: '  ' }, /description/],
    ['an input that accepts unknown keys', { input: z.object({ city: z.string() }) }, /strict/],
    ['an input that takes tenant_id from arguments', { input: z.strictObject({ tenant_id: z.string() }) }, /tenant_id/],
    ['no scopes', { scopes: [] }, /scope/],
    ['an ack window longer than the timeout', { budget: { ackAfterMs: 6_000, timeoutMs: 5_000 } }, /ackAfterMs/],
    ['an attempt longer than the whole budget', { budget: { ackAfterMs: 0, timeoutMs: 1_000, attemptTimeoutMs: 2_000 } }, /attemptTimeoutMs/],
    ['zero attempts', { retry: { maxAttempts: 0 } }, /maxAttempts/],
    ['a shrinking backoff', { retry: { backoffCoefficient: 0.5 } }, /backoffCoefficient/],
    ['a cancellable activity that never heartbeats', { cancellable: true }, /heartbeat/],
    ['a local activity with a heartbeat timeout', { runAs: 'local-activity' as const, budget: { ackAfterMs: 0, timeoutMs: 5_000, heartbeatTimeoutMs: 1_000 } }, /local activities/],
    ['a cancellable local activity', { runAs: 'local-activity' as const, cancellable: true }, /local activity hears of a cancellation/],
    ['a read tool that claims to settle side effects', { settles: true }, /only a write tool/],
    ['a sensitive field that is not an input', { sensitive: ['password'] as never }, /sensitive field "password"/],
    ['an input zod cannot express as JSON Schema', { input: z.strictObject({ when: z.date() }) }, /JSON Schema/],
  ])('rejects %s when the tool is defined', (_name, change, message) => {
    expect(() => defineTool({ ...valid, ...change } as typeof valid)).toThrow(ToolDefinitionError);
    expect(() => defineTool({ ...valid, ...change } as typeof valid)).toThrow(message);
  });

  it('fixes the execution plan the workflow runs', () => {
    const plan = executionPlanOf(defineTool({ ...valid, cancellable: true, budget: { ...valid.budget, heartbeatTimeoutMs: 1_000 } }));
    expect(plan).toEqual({
      runAs: 'activity',
      timeoutMs: 5_000,
      attemptTimeoutMs: 5_000,
      heartbeatTimeoutMs: 1_000,
      retry: { maxAttempts: 3, initialIntervalMs: 200, backoffCoefficient: 2, maxIntervalMs: 2_000, nonRetryableErrorTypes: [] },
      cancellable: true,
      settles: false,
      needsApproval: false,
      approvalTimeoutMs: 300_000,
    });
  });

  it('carries settles into the execution plan of a write tool', () => {
    const plan = executionPlanOf(defineTool({ ...valid, sideEffect: 'write', settles: true }));
    expect(plan.settles).toBe(true);
  });

  it('declares the example tools as the support agent needs them', () => {
    const byName = Object.fromEntries(supportTools.map((spec) => [spec.name, spec]));
    expect(byName.lookup_order).toMatchObject({ scopes: ['orders:read'], sideEffect: 'read', runAs: 'local-activity' });
    expect(byName.refund_order).toMatchObject({ scopes: ['orders:refund'], sideEffect: 'write', cancellable: true, settles: true, sensitive: ['reason'] });
    expect(byName.cancel_order).toMatchObject({ scopes: ['orders:write'], needsApproval: true, settles: true });
  });
});
