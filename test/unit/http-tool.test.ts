import { ToolFailure } from '../../src/contracts/errors';
import { confidenceOf } from '../../src/contracts/tool-spec';
import { confidentResult } from '../../src/activities/http/call';
import { createHttpToolSource, type HttpToolConfigInput } from '../../src/activities/http';
import { cancelRequestOf, cancelUrlOf } from '../../src/activities/http/cancel';
import { cancelTemplateProblem, httpToolConfig } from '../../src/activities/http/config';
import { progressOf, statusUrlOf } from '../../src/activities/http/job';
import { endpointMessageOf, MAX_MESSAGE_CHARS, sanitizeMessage } from '../../src/activities/http/message';
import { callHeadersOf, headerSafe, queryOf, traceparentOf, urlWithQuery } from '../../src/activities/http/wire';

describe('an endpoint message', () => {
  it('loses markup, control and bidi characters, and runs of whitespace', () => {
    expect(sanitizeMessage('Order <b>A-1</b> is\u0007 closed\r\n\t <script>alert(1)</script>now\u202e!')).toBe('Order A-1 is closed now !');
  });

  it('is cut to the bound with an ellipsis', () => {
    const message = sanitizeMessage('x'.repeat(5_000));
    expect(Array.from(message)).toHaveLength(MAX_MESSAGE_CHARS);
    expect(message.endsWith('…')).toBe(true);
  });

  it('does not split a character made of two UTF-16 units', () => {
    const message = sanitizeMessage('😀'.repeat(400), 10);
    expect(message).toBe(`${'😀'.repeat(9)}…`);
  });

  it.each([
    ['{"message":"Card declined"}', 'Card declined'],
    ['{"error":"Not allowed"}', 'Not allowed'],
    ['{"error":{"code":"x","message":"Order closed"}}', 'Order closed'],
    ['{"detail":"elsewhere"}', '{"detail":"elsewhere"}'],
    ['<html><body><h1>Bad Request</h1></body></html>', 'Bad Request'],
    ['"a JSON string"', 'a JSON string'],
  ])('is found in %s', (body, expected) => {
    expect(endpointMessageOf(body)).toBe(expected);
  });

  it('is absent when nothing readable is left', () => {
    expect(endpointMessageOf('<br/>\u0000  ')).toBeUndefined();
    expect(endpointMessageOf('')).toBeUndefined();
  });
});

describe('traceparent', () => {
  const W3C = /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/;

  it('is well formed and the same for the same call and attempt', () => {
    const value = traceparentOf('tool-req-0123abcd', 'k-1', 1);
    expect(value).toMatch(W3C);
    expect(traceparentOf('tool-req-0123abcd', 'k-1', 1)).toBe(value);
  });

  it('keeps the trace across attempts and gives each attempt its own parent id', () => {
    const [, trace1, parent1] = traceparentOf('tool-req-1', 'k', 1).split('-');
    const [, trace2, parent2] = traceparentOf('tool-req-1', 'k', 2).split('-');
    expect(trace2).toBe(trace1);
    expect(parent2).not.toBe(parent1);
  });

  it('keeps a trace id that already is a W3C trace id, and never uses all zeros', () => {
    expect(traceparentOf('4bf92f3577b34da6a3ce929d0e0e4736', 'k', 1).split('-')[1]).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(traceparentOf('0'.repeat(32), 'k', 1).split('-')[1]).not.toBe('0'.repeat(32));
  });
});

describe('call headers', () => {
  it('pass plain values unchanged and percent-encode the rest reversibly', () => {
    expect(headerSafe('acme/alice/k-1')).toBe('acme/alice/k-1');
    for (const value of ['Zoë Ünal', '100%', 'line\nbreak', 'tab\there']) {
      const safe = headerSafe(value);
      expect(safe).toMatch(/^[\x21-\x7e]*$/);
      expect(decodeURIComponent(safe)).toBe(value);
    }
  });

  it('name the call, its caller and the attempt', () => {
    const headers = callHeadersOf({ callId: 'k-1', idempotencyKey: 'acme/al%20ice/k-1', traceId: 'tool-req-1', tenantId: 'acme', userId: 'al ice', attempt: 3 });
    expect(headers).toMatchObject({
      'idempotency-key': 'acme/al%2520ice/k-1',
      'holdline-trace-id': 'tool-req-1',
      'holdline-tenant': 'acme',
      'holdline-user': 'al%20ice',
      'holdline-call-id': 'k-1',
      'holdline-attempt': '3',
    });
    expect(headers.traceparent).toBe(traceparentOf('tool-req-1', 'k-1', 3));
  });
});

describe('arguments as a query string', () => {
  it('print scalars, repeat arrays, give objects as JSON and leave out null', () => {
    const query = queryOf({ q: 'a b&c', n: 3, ok: false, tags: ['x', 'y'], filter: { since: 1 }, none: null });
    expect(query.toString()).toBe('q=a+b%26c&n=3&ok=false&tags=x&tags=y&filter=%7B%22since%22%3A1%7D');
  });

  it('keeps the query the URL already has', () => {
    expect(urlWithQuery('https://api.example.com/orders?v=2', { id: 'A/1' })).toBe('https://api.example.com/orders?v=2&id=A%2F1');
  });
});

describe('the cancel request', () => {
  const values = { idempotency_key: 'acme/alice/k 1', call_id: 'k 1', trace_id: 't', status_url: 'https://api.example.com/jobs/7' };

  it('fills the template, percent-encoding all but the status URL', () => {
    expect(cancelUrlOf('https://api.example.com/cancel/{idempotency_key}?call={call_id}', values)).toBe(
      'https://api.example.com/cancel/acme%2Falice%2Fk%201?call=k%201',
    );
    expect(cancelUrlOf('{status_url}/cancel', values)).toBe('https://api.example.com/jobs/7/cancel');
  });

  it('is not sent when the template needs a job that never started', () => {
    expect(cancelRequestOf({ method: 'POST', url: '{status_url}/cancel' }, { call_id: 'k' })).toBeUndefined();
    expect(cancelRequestOf(undefined, { call_id: 'k' })).toBeUndefined();
    expect(cancelRequestOf(undefined, values)).toEqual({ method: 'DELETE', url: values.status_url });
  });

  it.each([
    ['https://x.example/{job}', /unknown variable \{job\}/],
    ['https://x.example/?u={status_url}', /only start the template/],
    ['/relative/{call_id}', /absolute/],
  ])('template %s is refused', (template, problem) => {
    expect(cancelTemplateProblem(template)).toMatch(problem);
  });
});

describe('a long-running job', () => {
  it('reports progress within bounds, keeping what the job leaves out', () => {
    const first = progressOf({ percent: 140.4, message: 'Copying <i>files</i>', stage: 'copy' });
    expect(first).toEqual({ stage: 'copy', pct: 100, message: 'Copying files' });
    expect(progressOf({ message: 'Still copying' }, { stage: 'copy', pct: 40, message: 'x' })).toEqual({ stage: 'copy', pct: 40, message: 'Still copying' });
    expect(progressOf({})).toEqual({ stage: 'running', pct: 0, message: '' });
  });

  it('has a status URL from Location or the body, resolved against the request, on the same origin only', () => {
    expect(statusUrlOf('/jobs/1', undefined, 'https://api.example.com/v1/run')).toBe('https://api.example.com/jobs/1');
    expect(statusUrlOf(null, { status_url: 'jobs/2' }, 'https://api.example.com/v1/run')).toBe('https://api.example.com/v1/jobs/2');
    expect(statusUrlOf(null, { id: 3 }, 'https://api.example.com/v1/run')).toBeUndefined();
    expect(() => statusUrlOf('https://elsewhere.example/jobs/1', undefined, 'https://api.example.com/v1/run')).toThrow(ToolFailure);
  });
});

describe('confidenceField', () => {
  it('is taken out of the result and becomes its confidence', () => {
    expect(confidenceOf(confidentResult({ answer: 'yes', score: 0.8 }, 'score'))).toEqual({ output: { answer: 'yes' }, confidence: 0.8 });
  });

  it('leaves a result without it alone', () => {
    expect(confidenceOf(confidentResult({ answer: 'yes' }, 'score'))).toEqual({ output: { answer: 'yes' } });
    expect(confidentResult([1], 'score')).toEqual([1]);
  });

  it('fails a result whose confidence is not between 0 and 1', () => {
    expect(() => confidentResult({ score: 1.5 }, 'score')).toThrow(/score must be a number between 0 and 1/);
    expect(() => confidentResult({ score: '0.5' }, 'score')).toThrow(ToolFailure);
  });
});

describe('an HTTP tool entry', () => {
  const entry = {
    name: 'lookup',
    description: 'Looks up a thing.',
    input: { type: 'object', properties: {} },
    url: 'https://api.example.com/lookup',
    scopes: ['things:read'],
    sideEffect: 'read' as const,
    budget: { ackAfterMs: 1_000, timeoutMs: 5_000 },
  } satisfies HttpToolConfigInput;

  it('fills its defaults', () => {
    expect(httpToolConfig.parse(entry)).toMatchObject({ method: 'POST', maxResponseBytes: 1024 * 1024, job: { pollIntervalMs: 500 } });
  });

  it('refuses unknown fields, non-http URLs and headers Holdline sets itself', () => {
    expect(httpToolConfig.safeParse({ ...entry, retries: 3 }).success).toBe(false);
    expect(httpToolConfig.safeParse({ ...entry, url: 'file:///etc/passwd' }).success).toBe(false);
    const reserved = httpToolConfig.safeParse({ ...entry, headers: { 'Idempotency-Key': 'x' } });
    expect(reserved.success ? [] : reserved.error.issues.map((issue) => issue.path.join('.'))).toEqual(['headers.Idempotency-Key']);
  });

  it('runs as a local activity when it says so, and refuses one that would heartbeat', () => {
    const [spec] = createHttpToolSource([{ ...entry, runAs: 'local-activity' }]).specs();
    expect(spec).toMatchObject({ runAs: 'local-activity' });
    expect(createHttpToolSource([entry]).specs()[0]).toMatchObject({ runAs: 'activity' });
    expect(httpToolConfig.safeParse({ ...entry, runAs: 'thread' }).success).toBe(false);
    expect(() => createHttpToolSource([{ ...entry, runAs: 'local-activity', budget: { ...entry.budget, heartbeatTimeoutMs: 1_000 } }])).toThrow(/local activities cannot heartbeat/);
  });
});
