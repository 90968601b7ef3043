import { ToolDefinitionError } from '../../src/contracts/errors';
import { strictInputOf } from '../../src/contracts/tool-config';

const unknownKeysOf = (result: { success: boolean; error?: { issues: ReadonlyArray<{ code: string; path: PropertyKey[]; keys?: string[] }> } }) =>
  (result.error?.issues ?? []).filter((issue) => issue.code === 'unrecognized_keys').map((issue) => ({ path: issue.path, keys: issue.keys }));

describe('strictInputOf', () => {
  it('rejects an unknown key at the top, whatever additionalProperties says', () => {
    const input = strictInputOf('t', { type: 'object', properties: { q: { type: 'string' } }, additionalProperties: true });
    expect(input.safeParse({ q: 'x' }).success).toBe(true);
    expect(unknownKeysOf(input.safeParse({ q: 'x', extra: 1 }))).toEqual([{ path: [], keys: ['extra'] }]);
  });

  it('rejects an unknown key in a nested object, even one declared open', () => {
    const input = strictInputOf('t', {
      type: 'object',
      properties: { address: { type: 'object', properties: { city: { type: 'string' } }, additionalProperties: true } },
    });
    expect(input.safeParse({ address: { city: 'Oslo' } }).success).toBe(true);
    expect(unknownKeysOf(input.safeParse({ address: { city: 'Oslo', street: 'Main' } }))).toEqual([{ path: ['address'], keys: ['street'] }]);
  });

  it('rejects an unknown key in an object of an array', () => {
    const input = strictInputOf('t', {
      type: 'object',
      properties: { lines: { type: 'array', items: { type: 'object', properties: { sku: { type: 'string' } }, required: ['sku'] } } },
    });
    expect(input.safeParse({ lines: [{ sku: 'A' }, { sku: 'B' }] }).success).toBe(true);
    expect(unknownKeysOf(input.safeParse({ lines: [{ sku: 'A' }, { sku: 'B', price: 0 }] }))).toEqual([{ path: ['lines', 1], keys: ['price'] }]);
  });

  it('keeps a map whose values are given by additionalProperties, closing the values', () => {
    const input = strictInputOf('t', {
      type: 'object',
      properties: {
        labels: { type: 'object', additionalProperties: { type: 'string' } },
        stock: { type: 'object', additionalProperties: { type: 'object', properties: { count: { type: 'integer' } } } },
        anything: { type: 'object', additionalProperties: {} },
      },
    });
    expect(input.safeParse({ labels: { team: 'a', tier: 'b' }, stock: { A: { count: 1 } }, anything: { x: [1], y: null } }).success).toBe(true);
    expect(input.safeParse({ labels: { team: 1 } }).success).toBe(false);
    expect(unknownKeysOf(input.safeParse({ stock: { A: { count: 1, price: 2 } } }))).toEqual([{ path: ['stock', 'A'], keys: ['price'] }]);
  });

  it('leaves an object that names no keys free-form, as its author declared it', () => {
    const input = strictInputOf('t', { type: 'object', properties: { metadata: { type: 'object' } } });
    expect(input.safeParse({ metadata: { source: 'crm', tags: ['a'] } }).success).toBe(true);
    expect(input.safeParse({ metadata: 'not an object' }).success).toBe(false);
  });

  it('closes the branches of anyOf, oneOf and allOf, and an object given without a type', () => {
    const input = strictInputOf('t', {
      type: 'object',
      properties: {
        target: { anyOf: [{ type: 'object', properties: { id: { type: 'string' } }, required: ['id'] }, { type: 'string' }] },
        pick: { oneOf: [{ properties: { a: { type: 'string' } }, required: ['a'] }, { properties: { b: { type: 'string' } }, required: ['b'] }] },
        both: { allOf: [{ type: 'object', properties: { a: { type: 'string' } } }, { type: 'object', properties: { b: { type: 'string' } } }] },
      },
    });
    expect(input.safeParse({ target: { id: '1' }, pick: { a: 'x' }, both: { a: 'x', b: 'y' } }).success).toBe(true);
    expect(input.safeParse({ target: 'by-name' }).success).toBe(true);
    expect(input.safeParse({ target: { id: '1', extra: 1 } }).success).toBe(false);
    expect(input.safeParse({ pick: { a: 'x', extra: 1 } }).success).toBe(false);
    expect(input.safeParse({ pick: 5 }).success).toBe(false);
    expect(unknownKeysOf(input.safeParse({ both: { a: 'x', b: 'y', c: 'z' } }))).toEqual([{ path: ['both'], keys: ['c'] }]);
  });

  it.each([
    ['$defs', {}],
    ['definitions', { $schema: 'http://json-schema.org/draft-07/schema#' }],
  ])('closes the objects a $ref points at in %s', (defs, draft) => {
    const input = strictInputOf('t', {
      ...draft,
      type: 'object',
      properties: { from: { $ref: `#/${defs}/place` }, to: { $ref: `#/${defs}/place` } },
      [defs]: { place: { type: 'object', properties: { city: { type: 'string' } } } },
    });
    expect(input.safeParse({ from: { city: 'Oslo' }, to: { city: 'Rome' } }).success).toBe(true);
    expect(unknownKeysOf(input.safeParse({ from: { city: 'Oslo' }, to: { city: 'Rome', zip: '0' } }))).toEqual([{ path: ['to'], keys: ['zip'] }]);
  });

  it('refuses an input schema that is not an object schema', () => {
    expect(() => strictInputOf('t', { type: 'array' })).toThrow(ToolDefinitionError);
  });
});
