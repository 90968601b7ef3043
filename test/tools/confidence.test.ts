import { z } from 'zod';
import { defineTool, implementTool, withConfidence } from 'holdline';
import { startHarness, type Harness } from '../support/harness';

/** A read tool that says how sure it is: sure of exact matches, less of fuzzy ones. */
const findCustomer = defineTool({
  name: 'find_customer',
  description: 'Find a customer by name',
  input: z.strictObject({ name: z.string().min(1) }),
  output: z.object({ customer_id: z.string() }),
  scopes: ['test'],
  sideEffect: 'read',
  budget: { ackAfterMs: 2_000, timeoutMs: 5_000 },
});

const plainTool = defineTool({
  name: 'plain_answer',
  description: 'Answers without saying how sure it is',
  input: z.strictObject({}),
  output: z.object({ ok: z.boolean() }),
  scopes: ['test'],
  sideEffect: 'read',
  budget: { ackAfterMs: 2_000, timeoutMs: 5_000 },
});

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    tools: [
      implementTool(findCustomer, async ({ name }) => (name === 'Ada Lovelace' ? withConfidence({ customer_id: 'c-1' }, 1) : withConfidence({ customer_id: 'c-1' }, 0.42))),
      implementTool(plainTool, async () => ({ ok: true })),
    ],
  });
});
afterAll(() => h.stop());

describe('confidence', () => {
  it('carries the confidence a tool reports into its envelope', async () => {
    const fuzzy = await h.call('find_customer', { name: 'ada' });
    expect(fuzzy.body).toMatchObject({ status: 'ok', data: { customer_id: 'c-1' }, confidence: 0.42 });
    const exact = await h.call('find_customer', { name: 'Ada Lovelace' });
    expect(exact.body).toMatchObject({ status: 'ok', confidence: 1 });
  });

  it('leaves it out when the tool gives none', async () => {
    const answer = await h.call('plain_answer', {});
    expect(answer.body.status).toBe('ok');
    expect(answer.body).not.toHaveProperty('confidence');
    expect(answer.body.data).toEqual({ ok: true });
  });

  it('refuses a confidence outside 0 to 1 where the tool says it', () => {
    expect(() => withConfidence({}, 1.5)).toThrow(RangeError);
  });

  it('refuses a fallback confidence on a tool with side effects, at definition', () => {
    expect(() =>
      defineTool({ ...findCustomer, name: 'bad_tool', sideEffect: 'write', fallbackConfidence: 0.5 } as Parameters<typeof defineTool>[0]),
    ).toThrow(/only a read tool may have a fallback/);
  });
});
