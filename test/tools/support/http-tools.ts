import type { HttpToolConfigInput } from '../../../src/activities/http';

/** The secret the tools send as `Authorization`, read from this variable. */
export const TOKEN_VARIABLE = 'HTTP_TEST_TOKEN';

const scopes = ['test'];
const quick = { ackAfterMs: 8_000, timeoutMs: 10_000 };
const object = (properties: Record<string, unknown>, required: string[] = Object.keys(properties)) => ({ type: 'object', properties, required });

/**
 * The HTTP tools of the tests, as a tools file would declare them, each
 * against one path of the test endpoint (test/tools/support/http-endpoint.ts).
 */
export function httpTestTools(base: string): HttpToolConfigInput[] {
  const tool = (name: string, path: string, rest: Partial<HttpToolConfigInput> = {}): HttpToolConfigInput => ({
    name,
    description: `Calls ${path} of the test endpoint.`,
    input: object({}),
    url: `${base}${path}`,
    headers: { Authorization: { env: TOKEN_VARIABLE, prefix: 'Bearer ' }, 'X-Static': 'static-value' },
    scopes,
    sideEffect: 'read',
    budget: quick,
    retry: { maxAttempts: 3, initialIntervalMs: 50, maxIntervalMs: 100 },
    ...rest,
  });
  return [
    tool('http_echo', '/echo', {
      input: object({ text: { type: 'string' } }),
      output: object({ echoed: object({ text: { type: 'string' } }) }),
    }),
    tool('http_lookup', '/lookup', {
      method: 'GET',
      input: object({ order_id: { type: 'string' }, tags: { type: 'array', items: { type: 'string' } } }),
    }),
    tool('http_scored', '/scored', { confidenceField: 'score' }),
    tool('http_create_ticket', '/tickets', {
      sideEffect: 'write',
      input: object({ subject: { type: 'string' }, hang_first: { type: 'boolean' } }, ['subject']),
      // A dead worker's attempt is given up after 1 s of silence.
      budget: { ackAfterMs: 0, timeoutMs: 30_000, attemptTimeoutMs: 10_000, heartbeatTimeoutMs: 1_000 },
      retry: { maxAttempts: 5, initialIntervalMs: 100, maxIntervalMs: 500 },
    }),
    tool('http_create_ticket_local', '/tickets', {
      sideEffect: 'write',
      input: object({ subject: { type: 'string' }, hang_first: { type: 'boolean' } }, ['subject']),
      // Run inside the workflow's task: a dead worker's attempt is run again once that task times out (10 s).
      runAs: 'local-activity',
      budget: { ackAfterMs: 0, timeoutMs: 30_000, attemptTimeoutMs: 20_000 },
      retry: { maxAttempts: 5, initialIntervalMs: 100, maxIntervalMs: 500 },
    }),
    tool('http_reject', '/reject', { input: object({ message: { type: 'string' } }) }),
    tool('http_order', '/echo', {
      input: object({ order: object({ sku: { type: 'string' }, lines: { type: 'array', items: object({ qty: { type: 'integer' } }) } }, ['sku']) }),
    }),
    tool('http_flaky', '/flaky', { input: object({ failures: { type: 'integer' } }) }),
    tool('http_flaky_local', '/flaky', { input: object({ failures: { type: 'integer' } }), runAs: 'local-activity' }),
    tool('http_slow', '/slow', {
      input: object({ hang_attempts: { type: 'integer' } }),
      budget: { ackAfterMs: 0, timeoutMs: 2_500, attemptTimeoutMs: 800 },
      retry: { maxAttempts: 5, initialIntervalMs: 50, maxIntervalMs: 100 },
    }),
    tool('http_slow_cancellable', '/slow', {
      input: object({ hang_attempts: { type: 'integer' } }),
      cancellable: true,
      budget: { ackAfterMs: 0, timeoutMs: 15_000, heartbeatTimeoutMs: 1_000 },
      cancel: { method: 'POST', url: `${base}/cancel/{idempotency_key}?call={call_id}` },
    }),
    tool('http_not_json', '/not-json'),
    tool('http_huge', '/huge', { maxResponseBytes: 64 * 1024 }),
    tool('http_wrong_shape', '/wrong-shape', { output: object({ ticket_id: { type: 'string' } }) }),
    tool('http_job', '/jobs', {
      input: object({ steps: { type: 'integer' }, via_body: { type: 'boolean' }, fail_message: { type: 'string' } }, ['steps']),
      output: object({ done: { type: 'boolean' }, polls: { type: 'integer' } }),
      cancellable: true,
      budget: { ackAfterMs: 0, timeoutMs: 15_000, heartbeatTimeoutMs: 1_000 },
      job: { pollIntervalMs: 100 },
    }),
  ];
}
