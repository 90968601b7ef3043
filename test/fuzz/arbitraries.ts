import fc from 'fast-check';

/**
 * Hostile inputs for the gateway and the frame parser: what a careless model
 * or an attacker could send. Shared by the short runs in `npm test` and the
 * long run of `npm run fuzz`.
 */

/** Keys that break naive object handling, and the identity fields a caller must never set. */
export const NASTY_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', 'tenant_id', 'user_id', 'tenantId', 'userId', 'sub', 'scope', ''];

/** Numbers at the edges: -0, huge, unsafe integers, denormals; JSON turns ±Infinity and NaN into null. */
export const EDGE_NUMBERS = [0, -0, 1, -1, 0.1, 1e308, -1e308, 5e-324, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2, -(Number.MAX_SAFE_INTEGER + 2), 2 ** 53, 10_000_001, Infinity, -Infinity, NaN];

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code));

/** Strings of every kind: ASCII, full unicode, lone surrogates, control characters, the lookalikes of valid values. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string() },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme' }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary' }) },
  { weight: 2, arbitrary: fc.string({ unit: fc.oneof(loneSurrogate, fc.constantFrom('a', '\u0000', '\n', '\u202e', '\ufeff', '"', '\\')) }) },
  { weight: 1, arbitrary: fc.constantFrom(...NASTY_KEYS, 'NaN', 'Infinity', '-0', '1e308', 'null', 'undefined', 'A-1001', 'A-1001 ', 'a-1001', 'A-1001\u0000', '../../etc/passwd', '%00', '${7*7}') },
);

/** A huge string: past every argument limit, short of a body limit or around it. */
export const hugeString: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom(5_000, 20_000, 70_000, 300_000), fc.constantFrom('x', 'é', '😀', '\ud800'))
  .map(([length, unit]) => unit.repeat(Math.ceil(length / unit.length)));

/** JSON text nested `depth` levels deep, built without recursion. */
export function deepJsonText(depth: number, arrays: boolean): string {
  return arrays ? `${'['.repeat(depth)}"bottom"${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}"bottom"${'}'.repeat(depth)}`;
}

/**
 * Arrays or objects nested this deep; past a few thousand levels recursion in
 * a naive walker (JSON.stringify among them) overflows. Each carries a short
 * description, so a failing case can be printed.
 */
export const deeplyNested: fc.Arbitrary<unknown> = fc.tuple(fc.integer({ min: 1, max: 20_000 }), fc.boolean()).map(([depth, arrays]) => {
  let value: unknown = 'bottom';
  for (let i = 0; i < depth; i++) value = arrays ? [value] : { a: value };
  Object.defineProperty(value, fc.toStringMethod, { value: () => `<${arrays ? 'arrays' : 'objects'} nested ${depth} deep>` });
  return value;
});

const key = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...NASTY_KEYS, 'order_id', 'reason', 'amount_cents', 'label', 'ms') }, { weight: 2, arbitrary: nastyString });

/** Any JSON-able value built from the pieces above, with own `__proto__`/`constructor` keys at any depth. */
export const nastyValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    nastyString,
    fc.constantFrom(...EDGE_NUMBERS),
    fc.double(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(key, tie('value'), { maxKeys: 5 }),
  ),
})).value;

/** Arguments that look almost right for the example tools: the near misses that test strictness. */
export const nearMissArguments: fc.Arbitrary<Record<string, unknown>> = fc
  .record(
    {
      order_id: fc.constantFrom('A-1001', 'A-1002', 'A-1003', 'B-2002', 'ZZ-9999999', 'A-1001 ', 'a-1001', 'A-10', 'A-1001\u0000', 1001, null),
      reason: fc.oneof(fc.constantFrom('wrong size', 'no', '   ', 'changed my mind'), nastyString),
      amount_cents: fc.constantFrom(...EDGE_NUMBERS, '100', 100, 1),
      label: nastyString,
      ms: fc.constantFrom(1, 10, 0, -1, 1.5, 1e308),
      smuggled: fc.constantFrom<[string, unknown]>(['tenant_id', 'globex'], ['user_id', 'bob'], ['__proto__', { tenant_id: 'globex' }], ['constructor', { prototype: { admin: true } }], ['meta', { tenant_id: 'globex' }]),
    },
    { requiredKeys: ['order_id'] },
  )
  .map(({ smuggled, ...rest }) => {
    const args: Record<string, unknown> = { ...rest };
    if (smuggled) Object.defineProperty(args, smuggled[0], { value: smuggled[1], enumerable: true, configurable: true, writable: true });
    return args;
  });

/** Arguments each tool accepts, so that some fuzzed calls pass every check and start. */
export const VALID_ARGUMENTS: Readonly<Record<string, fc.Arbitrary<Record<string, unknown>>>> = {
  lookup_order: fc.record({ order_id: fc.constantFrom('A-1001', 'A-1002', 'B-2002', 'G-2001', 'ZZ-404404') }),
  sleepy_tool: fc.record({ label: nastyString, ms: fc.integer({ min: 1, max: 30 }) }),
  flaky_tool: fc.record({ label: nastyString, failures: fc.constant(0) }),
  broken_tool: fc.constant({}),
};

/** What a caller sends as `arguments`: an object, the JSON text a model emits, or anything else. */
export const nastyArguments: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: nearMissArguments },
  { weight: 2, arbitrary: nearMissArguments.map((args) => JSON.stringify(args)) },
  { weight: 3, arbitrary: nastyValue },
  { weight: 1, arbitrary: nastyValue.map((value) => JSON.stringify(value) ?? '') },
  { weight: 1, arbitrary: fc.constantFrom('', '{', '{"order_id": ', 'null', '[]', '"A-1001"', '{"order_id":"A-1001"}', '{"__proto__":{"order_id":"A-1001"}}') },
  { weight: 1, arbitrary: hugeString.map((s) => ({ order_id: 'A-1001', padding: s })) },
  { weight: 1, arbitrary: deeplyNested.map((nested) => ({ order_id: 'A-1001', nested })) },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

/** What a caller sends as the tool's name. */
export function toolNames(registry: readonly string[]): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...registry) },
    { weight: 2, arbitrary: nastyString },
    { weight: 1, arbitrary: fc.constantFrom(...registry.map((name) => name.toUpperCase()), ...registry.map((name) => ` ${name}`), '__proto__', 'constructor', 'hasOwnProperty', 'toString') },
    { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.constant(null), fc.constant(undefined), fc.array(fc.string(), { maxLength: 2 }), fc.dictionary(fc.string(), fc.string(), { maxKeys: 2 })) },
  );
}

/** Idempotency keys: fresh valid ones, and everything a key must not be. */
export const idempotencyKeys: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 4, arbitrary: fc.uuid().map((id) => `fz-${id}`) },
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: nastyString },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', 'a b', 'k'.repeat(200), 'k'.repeat(201), '../x', 'x/y', '%2F', 'ключ') },
);

/** Conversation ids: valid ones, and too long, empty, or with characters outside `[A-Za-z0-9._:-]`. */
export const sessionIds: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: fc.constantFrom('fz-session', 'a.b_c:d-1', 's'.repeat(128)) },
  { weight: 2, arbitrary: nastyString },
  { weight: 1, arbitrary: fc.constantFrom('', 's'.repeat(129), 'has space', 'new\nline', 'ü', 'a/b', '__proto__') },
);

/** The rule a conversation id must meet, from the API's documentation. */
export const VALID_SESSION = /^[A-Za-z0-9._:-]{1,128}$/;
/** The rule an Idempotency-Key must meet, from the API's documentation. */
export const VALID_KEY = /^[\x21-\x7e]{1,200}$/;

/** A realtime frame: valid events, near misses, unknown types, and raw garbage. */
export const frames: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: nastyValue.map((value) => JSON.stringify(value) ?? 'undefined') },
  { weight: 6, arbitrary: fc.record({ type: fc.constantFrom('response.function_call_arguments.done', 'response.output_item.done', 'response.created', 'response.done', 'input_audio_buffer.speech_started', 'tool_call.approve', 'response.cancel', 'session.update', 'constructor', '__proto__', 'toString'), call_id: nastyValue, name: nastyValue, arguments: nastyValue, item: nastyValue, response: nastyValue, approved: nastyValue, session: nastyValue, event_id: nastyValue }, { requiredKeys: ['type'] }).map((event) => JSON.stringify(event)) },
  { weight: 4, arbitrary: fc.record({ type: fc.constantFrom('response.output_item.done'), item: fc.record({ type: fc.constantFrom('function_call', 'message'), call_id: nastyValue, name: nastyValue, arguments: nastyValue }, { requiredKeys: ['type'] }) }).map((event) => JSON.stringify(event)) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(10, 100, 1_000, 5_000, 20_000), fc.boolean()).map(([depth, arrays]) => `{"type":"session.update","session":{"nested":${deepJsonText(depth, arrays)}}}`) },
  { weight: 2, arbitrary: nastyString },
  { weight: 2, arbitrary: fc.constantFrom('', '{', '[]', 'null', '{"type":1}', '{"type":"__proto__","__proto__":{"type":"x"}}', '{"__proto__":{"type":"response.cancel"}}', '{"type":"tool_call.approve","call_id":"c","approved":true,"extra":1}') },
);
