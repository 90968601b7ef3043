import { ToolFailure } from '../../src/contracts/errors';
import { confidenceOf } from '../../src/contracts/tool-spec';
import { MAX_TEXT_CHARS, MCP_TOOL_ERROR, outputOf } from '../../src/activities/mcp/result';
import { describeError, oneLine } from '../../src/activities/mcp/text';

const context = { server: 'crm', tool: 'crm_lookup' };

describe('outputOf (an MCP tools/call result as a tool output)', () => {
  it('returns structured content as it is', () => {
    expect(outputOf({ structuredContent: { id: 'C-1' }, content: [{ type: 'text', text: '{"id":"C-1"}' }] }, context)).toEqual({ id: 'C-1' });
  });

  it('returns text content as { text }, blocks joined, never parsed', () => {
    expect(outputOf({ content: [{ type: 'text', text: '{"a":1}' }, { type: 'text', text: 'second' }] }, context)).toEqual({ text: '{"a":1}\nsecond' });
    expect(outputOf({ content: [] }, context)).toEqual({ text: '' });
  });

  it('counts the blocks it does not carry and cuts long text', () => {
    expect(outputOf({ content: [{ type: 'image', data: 'AAAA', mimeType: 'image/png' }, { type: 'text', text: 'x' }] }, context)).toEqual({ text: 'x', omitted: 1 });
    const long = outputOf({ content: [{ type: 'text', text: 'y'.repeat(MAX_TEXT_CHARS + 10) }] }, context) as { text: string; truncated: boolean };
    expect(long.text).toHaveLength(MAX_TEXT_CHARS);
    expect(long.truncated).toBe(true);
  });

  it('carries the configured confidence field as the confidence', () => {
    const returned = outputOf({ structuredContent: { id: 'C-1', score: 0.6 } }, { ...context, confidenceField: 'score' });
    expect(confidenceOf(returned)).toEqual({ output: { id: 'C-1', score: 0.6 }, confidence: 0.6 });
  });

  it('ignores a confidence outside 0..1, and says so', () => {
    const bad: unknown[] = [];
    const returned = outputOf({ structuredContent: { score: 7 } }, { ...context, confidenceField: 'score', onBadConfidence: (value) => bad.push(value) });
    expect(confidenceOf(returned)).toEqual({ output: { score: 7 } });
    expect(bad).toEqual([7]);
  });

  it('turns isError into a non-retryable MCP_TOOL_ERROR with the text, on one bounded line without control characters', () => {
    const failure = (() => {
      try {
        outputOf({ isError: true, content: [{ type: 'text', text: `Locked\u0007 by\n\tanother agent ${'z'.repeat(2_000)}` }] }, context);
      } catch (error) {
        return error;
      }
      throw new Error('no failure');
    })() as ToolFailure;
    expect(failure).toBeInstanceOf(ToolFailure);
    expect(failure).toMatchObject({ type: MCP_TOOL_ERROR, retryable: false });
    expect(failure.message.startsWith('Locked by another agent zzz')).toBe(true);
    expect(failure.message.length).toBeLessThanOrEqual(500);
    expect(() => outputOf({ isError: true, content: [] }, context)).toThrow('The tool crm_lookup reported an error without saying which');
  });
});

describe('text helpers', () => {
  it('oneLine drops control and bidi characters and collapses whitespace', () => {
    expect(oneLine('a\u0000b \u202Ec\n\n d', 100)).toBe('ab c d');
    expect(oneLine('abcdef', 4)).toBe('abc…');
  });

  it('describeError names the system code of a network failure', () => {
    const error = new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }) });
    expect(describeError(error)).toBe('fetch failed: connect ECONNREFUSED 127.0.0.1:9');
    expect(describeError(Object.assign(new Error('spawn x'), { code: 'ENOENT' }))).toBe('spawn x (ENOENT)');
  });
});
