import { createServer } from 'node:http';
import { createHttpToolSource, type HttpToolConfigInput } from '../../src/activities/http';
import { MAX_MESSAGE_CHARS } from '../../src/activities/http/message';
import { freshKey, startHarness, type Harness } from '../support/harness';
import { freePort } from '../support/ports';
import { readEvents } from '../support/sse';
import { waitFor } from '../support/wait';
import { killWorkerProcess, stopWorkerProcess } from '../support/worker-control';
import { startTestEndpoint, type TestEndpoint } from './support/http-endpoint';
import { httpTestTools, TOKEN_VARIABLE } from './support/http-tools';
import { startHttpWorkerProcess } from './support/http-worker-control';

const TOKEN = 's3cret-token';
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;

let endpoint: TestEndpoint;
let h: Harness;
beforeAll(async () => {
  endpoint = await startTestEndpoint();
  h = await startHarness({ sources: [createHttpToolSource(httpTestTools(endpoint.url), { env: { [TOKEN_VARIABLE]: TOKEN } })] });
});
afterAll(async () => {
  await h?.stop();
  await endpoint?.close();
});

/** The workflow id, and so the `Idempotency-Key` the endpoint sees, of an acme/alice call. */
const workflowIdOf = (key: string) => `acme/alice/${key}`;
const finalOf = async (harness: Harness, key: string) => (await harness.get(`/v1/tool-calls/${key}?wait=20000`)).body;

describe('an HTTP tool', () => {
  it("answers with the endpoint's JSON result over POST /v1/tool-calls", async () => {
    const key = freshKey('echo');
    const answer = await h.call('http_echo', { text: 'hello' }, { key });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ status: 'ok', data: { echoed: { text: 'hello' } }, attempts: 1, workflow_id: workflowIdOf(key) });
    expect(endpoint.to('POST', '/echo').filter((r) => r.headers['idempotency-key'] === workflowIdOf(key))).toHaveLength(1);
  });

  it("sends the call's idempotency key, trace context, caller and configured headers", async () => {
    const key = freshKey('headers');
    const answer = await h.call('http_echo', { text: 'who' }, { key });
    expect(answer.body.status).toBe('ok');
    const [request] = endpoint.withKey(answer.body.workflow_id);
    expect(request).toBeDefined();
    expect(request!.headers).toMatchObject({
      'idempotency-key': workflowIdOf(key),
      'holdline-trace-id': answer.body.trace_id,
      'holdline-tenant': 'acme',
      'holdline-user': 'alice',
      'holdline-call-id': key,
      'holdline-attempt': '1',
      'content-type': 'application/json',
      authorization: `Bearer ${TOKEN}`,
      'x-static': 'static-value',
    });
    expect(request!.headers.traceparent).toMatch(TRACEPARENT);
    expect(request!.body).toEqual({ text: 'who' });
  });

  it('sends the arguments of a GET tool as the query string', async () => {
    const key = freshKey('lookup');
    const answer = await h.call('http_lookup', { order_id: 'A-1/2', tags: ['x', 'y z'] }, { key });
    expect(answer.body).toMatchObject({ status: 'ok', data: { query: { order_id: ['A-1/2'], tags: ['x', 'y z'] } } });
    expect(endpoint.withKey(workflowIdOf(key))[0]).toMatchObject({ method: 'GET', body: undefined });
  });

  it("reports the endpoint's confidenceField as the envelope's confidence", async () => {
    const answer = await h.call('http_scored', {}, { key: freshKey('scored') });
    expect(answer.body).toMatchObject({ status: 'ok', confidence: 0.87 });
    expect(answer.body.data).toEqual({ answer: 'shipped' });
  });

  it('rejects arguments outside the input schema before calling the endpoint', async () => {
    const key = freshKey('strict');
    const answer = await h.call('http_echo', { text: 'hi', extra: true }, { key });
    expect(answer.body).toMatchObject({ status: 'error', error_code: 'INVALID_ARGUMENTS' });
    expect(endpoint.withKey(workflowIdOf(key))).toHaveLength(0);
  });

  it('rejects an unknown key in a nested object or an array of objects before calling the endpoint', async () => {
    const order = { sku: 'A-1', lines: [{ qty: 2 }] };
    const good = freshKey('nested-ok');
    expect((await h.call('http_order', { order }, { key: good })).body).toMatchObject({ status: 'ok', data: { echoed: { order } } });
    expect(endpoint.withKey(workflowIdOf(good))).toHaveLength(1);

    for (const args of [{ order: { ...order, price_cents: 0 } }, { order: { ...order, lines: [{ qty: 2, discount: 100 }] } }]) {
      const key = freshKey('nested');
      const answer = await h.call('http_order', args, { key });
      expect(answer.body).toMatchObject({ status: 'error', error_code: 'INVALID_ARGUMENTS' });
      expect(endpoint.withKey(workflowIdOf(key))).toHaveLength(0);
    }
  });
});

describe('an HTTP tool run as a local activity', () => {
  it('retries a 5xx with the same Idempotency-Key and ends ok, every attempt a local activity of the workflow', async () => {
    const key = freshKey('flaky-local');
    const answer = await h.call('http_flaky_local', { failures: 1 }, { key });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ status: 'ok', data: { attempts: 2 }, attempts: 2 });
    const requests = endpoint.withKey(workflowIdOf(key));
    expect(requests.map((r) => [r.headers['idempotency-key'], r.headers['holdline-attempt']])).toEqual([
      [workflowIdOf(key), '1'],
      [workflowIdOf(key), '2'],
    ]);
    const events = (await h.server.gateway.calls.handle(workflowIdOf(key)).fetchHistory()).events ?? [];
    expect(events.filter((e) => e.activityTaskScheduledEventAttributes)).toHaveLength(0);
    // Temporal records a local activity's outcome as a marker: one per attempt, the failed one included.
    const localActivities = events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity');
    expect(localActivities).toHaveLength(2);
  });
});

describe('an HTTP tool whose endpoint fails', () => {
  it("ends a 4xx in TOOL_FAILED with the endpoint's message, sanitized, without retrying", async () => {
    const key = freshKey('reject');
    const answer = await h.call('http_reject', { message: 'Order <b>A-1</b> is\u0007 closed\r\n\u202e' }, { key });
    expect(answer.body).toMatchObject({
      status: 'error',
      error_code: 'TOOL_FAILED',
      message: 'Order A-1 is closed',
      retryable: false,
      details: { type: 'HTTP_422' },
      attempts: 1,
    });
    expect(endpoint.withKey(workflowIdOf(key))).toHaveLength(1);
  });

  it('retries a 5xx with the same Idempotency-Key and ends ok on the second attempt', async () => {
    const key = freshKey('flaky');
    const answer = await h.call('http_flaky', { failures: 1 }, { key });
    expect(answer.body).toMatchObject({ status: 'ok', data: { attempts: 2 }, attempts: 2 });
    const requests = endpoint.withKey(workflowIdOf(key));
    expect(requests).toHaveLength(2);
    expect(requests.map((r) => r.headers['idempotency-key'])).toEqual([workflowIdOf(key), workflowIdOf(key)]);
    expect(requests.map((r) => r.headers['holdline-attempt'])).toEqual(['1', '2']);
    const traces = requests.map((r) => TRACEPARENT.exec(String(r.headers.traceparent))![1]);
    expect(traces[1]).toBe(traces[0]);
  });

  it('retries an attempt that timed out, within the budget', async () => {
    const key = freshKey('slow-once');
    expect((await h.call('http_slow', { hang_attempts: 1 }, { key })).status).toBe(202);
    expect(await finalOf(h, key)).toMatchObject({ status: 'ok', data: { attempts: 2 }, attempts: 2 });
    expect(endpoint.withKey(workflowIdOf(key))).toHaveLength(2);
  });

  it('ends in TIMEOUT when every attempt times out before the budget is spent', async () => {
    const key = freshKey('slow-always');
    const started = Date.now();
    expect((await h.call('http_slow', { hang_attempts: 99 }, { key })).status).toBe(202);
    const final = await finalOf(h, key);
    expect(final).toMatchObject({ status: 'error', error_code: 'TIMEOUT', retryable: true });
    expect(final.attempts).toBeGreaterThanOrEqual(2);
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(endpoint.withKey(workflowIdOf(key)).length).toBe(final.attempts);
  });

  it('ends a 2xx that is not JSON in TOOL_FAILED, without retrying', async () => {
    const key = freshKey('not-json');
    const answer = await h.call('http_not_json', {}, { key });
    expect(answer.body).toMatchObject({ status: 'error', error_code: 'TOOL_FAILED', retryable: false, details: { type: 'HTTP_NOT_JSON' } });
    expect(answer.body.message).toMatch(/not JSON \(text\/html\)/);
    expect(endpoint.withKey(workflowIdOf(key))).toHaveLength(1);
  });

  it('stops reading an answer over maxResponseBytes and ends in TOOL_FAILED', async () => {
    const key = freshKey('huge');
    const answer = await h.call('http_huge', {}, { key });
    expect(answer.body).toMatchObject({ status: 'error', error_code: 'TOOL_FAILED', retryable: false, details: { type: 'HTTP_RESPONSE_TOO_LARGE' } });
    expect(answer.body.message).toMatch(/larger than the 65536 bytes allowed/);
    await waitFor(() => endpoint.huge.readerLeft, 5_000, 'the reader hanging up');
    expect(endpoint.huge.written).toBeLessThan(endpoint.huge.total / 4);
    expect(endpoint.withKey(workflowIdOf(key))).toHaveLength(1);
  });

  it('ends a result outside the output schema in TOOL_FAILED through the adapter', async () => {
    const key = freshKey('shape');
    const answer = await h.call('http_wrong_shape', {}, { key });
    expect(answer.body).toMatchObject({ status: 'error', error_code: 'TOOL_FAILED', details: { type: 'INVALID_TOOL_OUTPUT' } });
    expect(endpoint.withKey(workflowIdOf(key))).toHaveLength(1);
  });
});

describe('an HTTP tool that starts a long-running job', () => {
  it('turns the progress the job reports into progress events, and its result into the answer', async () => {
    const key = freshKey('job');
    expect((await h.call('http_job', { steps: 4 }, { key })).status).toBe(202);
    const events = await readEvents(`${h.url}/v1/tool-calls/${key}/events`, await h.token(), 20_000);

    const progress = events.filter((e) => e.event === 'progress').map((e) => e.data.progress);
    expect(progress.length).toBeGreaterThanOrEqual(2);
    for (const p of progress) expect(p.message).toMatch(/^Step [1-4]$/);
    const pcts = progress.map((p) => p.pct as number);
    expect(pcts).toEqual([...pcts].sort((a, b) => a - b));
    const last = events.at(-1)!;
    expect(last.event).toBe('completed');
    expect(last.data.result).toMatchObject({ status: 'ok', data: { done: true, polls: 5 } });

    const polls = endpoint.withKey(workflowIdOf(key)).filter((r) => r.method === 'GET');
    expect(polls).toHaveLength(5);
    expect(polls[0]!.path).toMatch(/^\/jobs\/job-\d+$/);
    expect(polls[0]!.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it("ends a job that reports failed in TOOL_FAILED with the job's message, bounded and sanitized, without retrying", async () => {
    const key = freshKey('job-failed');
    const message = `Disk <b>full</b>\u0007 on volume ${'x'.repeat(1_000)}`;
    expect((await h.call('http_job', { steps: 1, fail_message: message }, { key })).status).toBe(202);
    const final = await finalOf(h, key);
    expect(final).toMatchObject({ status: 'error', error_code: 'TOOL_FAILED', retryable: false, details: { type: 'JOB_FAILED' }, attempts: 1 });
    expect(final.message).toMatch(/^Disk full on volume x+…$/);
    expect(Array.from(final.message as string)).toHaveLength(MAX_MESSAGE_CHARS);
    const requests = endpoint.withKey(workflowIdOf(key));
    expect(requests.filter((r) => r.method === 'POST')).toHaveLength(1);
    expect(requests.filter((r) => r.method === 'GET')).toHaveLength(2);
  });

  it('finds the status URL in the body when there is no Location header', async () => {
    const key = freshKey('job-body');
    expect((await h.call('http_job', { steps: 1, via_body: true }, { key })).status).toBe(202);
    expect(await finalOf(h, key)).toMatchObject({ status: 'ok', data: { done: true, polls: 2 } });
  });

  it('sends DELETE to the status URL once when the call is cancelled, and ends CANCELLED', async () => {
    const key = freshKey('job-cancel');
    const workflowId = workflowIdOf(key);
    expect((await h.call('http_job', { steps: -1 }, { key })).status).toBe(202);
    await waitFor(() => endpoint.withKey(workflowId).some((r) => r.method === 'GET'), 10_000, 'the first poll');

    const cancel = await h.post(`/v1/tool-calls/${key}/cancel`, {});
    expect(cancel.status).toBe(202);
    expect(await finalOf(h, key)).toMatchObject({ status: 'error', error_code: 'CANCELLED' });

    const requests = endpoint.withKey(workflowId);
    const deletes = requests.filter((r) => r.method === 'DELETE');
    expect(deletes).toHaveLength(1);
    expect(deletes[0]!.path).toBe(requests.find((r) => r.method === 'GET')!.path);
  });

  it('sends the configured cancel request when a call still waiting for its answer is cancelled', async () => {
    const key = freshKey('sync-cancel');
    const workflowId = workflowIdOf(key);
    expect((await h.call('http_slow_cancellable', { hang_attempts: 99 }, { key })).status).toBe(202);
    await waitFor(() => endpoint.withKey(workflowId).length === 1, 10_000, 'the request');

    expect((await h.post(`/v1/tool-calls/${key}/cancel`, {})).status).toBe(202);
    expect(await finalOf(h, key)).toMatchObject({ status: 'error', error_code: 'CANCELLED' });
    const cancels = endpoint.withKey(workflowId).filter((r) => r.path.startsWith('/cancel/'));
    expect(cancels).toHaveLength(1);
    expect(cancels[0]).toMatchObject({ method: 'POST', path: `/cancel/${encodeURIComponent(workflowId)}` });
    expect(cancels[0]!.query.get('call')).toBe(key);
  });
});

describe('an HTTP tool whose endpoint is not listening', () => {
  // Both tools call one port where nothing listens until the second test starts a server there.
  let port: number;
  let late: Harness;
  let listener: { requests: string[]; close(): Promise<void> } | undefined;
  const echoAt = (name: string, rest: Partial<HttpToolConfigInput>): HttpToolConfigInput => ({
    ...httpTestTools(`http://127.0.0.1:${port}`).find((tool) => tool.name === 'http_echo')!,
    name,
    budget: { ackAfterMs: 0, timeoutMs: 20_000 },
    ...rest,
  });
  beforeAll(async () => {
    port = await freePort();
    const tools = [
      echoAt('http_unreachable', { retry: { maxAttempts: 3, initialIntervalMs: 50, maxIntervalMs: 100 } }),
      echoAt('http_late', { retry: { maxAttempts: 50, initialIntervalMs: 100, maxIntervalMs: 200 } }),
    ];
    late = await startHarness({ sources: [createHttpToolSource(tools, { env: { [TOKEN_VARIABLE]: TOKEN } })] });
  });
  afterAll(async () => {
    await late?.stop();
    await listener?.close();
  });

  /** The failure types of the call's attempts that failed so far, from the workflow's history. */
  const failedAttemptsOf = async (key: string) => {
    const { events } = await late.server.gateway.calls.handle(workflowIdOf(key)).fetchHistory();
    return (events ?? []).flatMap((e) => (e.activityTaskFailedEventAttributes ? [e.activityTaskFailedEventAttributes.failure?.applicationFailureInfo?.type] : []));
  };

  it('retries a refused connection and ends in TOOL_FAILED HTTP_UNREACHABLE once its attempts are spent', async () => {
    const key = freshKey('unreachable');
    const started = Date.now();
    expect((await late.call('http_unreachable', { text: 'hi' }, { key })).status).toBe(202);
    const final = await finalOf(late, key);
    expect(final).toMatchObject({
      status: 'error',
      error_code: 'TOOL_FAILED',
      message: 'The endpoint could not be reached',
      retryable: true,
      details: { type: 'HTTP_UNREACHABLE' },
      attempts: 3,
    });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await failedAttemptsOf(key)).toEqual(['HTTP_UNREACHABLE', 'HTTP_UNREACHABLE', 'HTTP_UNREACHABLE']);
  });

  it('retries a refused connection inside the budget and ends ok once the endpoint listens', async () => {
    const key = freshKey('late');
    expect((await late.call('http_late', { text: 'hi' }, { key })).status).toBe(202);
    await waitFor(async () => (await failedAttemptsOf(key)).length >= 1, 10_000, 'a refused attempt');

    listener = await listenOn(port);
    const final = await finalOf(late, key);
    const refused = await failedAttemptsOf(key);
    expect(new Set(refused)).toEqual(new Set(['HTTP_UNREACHABLE']));
    expect(final).toMatchObject({ status: 'ok', data: { echoed: { text: 'hi' } }, attempts: refused.length + 1 });
    expect(listener.requests).toEqual([workflowIdOf(key)]);
  });
});

/** An endpoint on `port` that echoes a POST's JSON body and keeps each request's Idempotency-Key. */
async function listenOn(port: number): Promise<{ requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      requests.push(String(req.headers['idempotency-key']));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ echoed: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
    });
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
  return {
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('an HTTP tool whose worker is killed mid-call', () => {
  // The envelope's attempts count the workflow's own attempts: the activity's timed out and a second ran; the
  // local activity's attempt ran again when the dead worker's workflow task timed out, as the same attempt.
  it.each([
    ['as an activity', 'http_create_ticket', 2],
    ['as a local activity', 'http_create_ticket_local', 1],
  ])('run %s, does the side effect once per Idempotency-Key and answers once a worker runs again', async (_how, tool, attempts) => {
    const crash = await startHarness({
      withoutWorker: true,
      sources: [createHttpToolSource(httpTestTools(endpoint.url), { env: { [TOKEN_VARIABLE]: TOKEN } })],
    });
    const start = () => startHttpWorkerProcess({ taskQueue: crash.taskQueue, endpointUrl: endpoint.url, token: TOKEN });
    try {
      const first = await start();
      const key = freshKey('crash');
      const workflowId = workflowIdOf(key);
      expect((await crash.call(tool, { subject: 'Printer on fire', hang_first: true }, { key })).status).toBe(202);

      // The endpoint did the side effect and holds its answer: kill the worker before it hears back.
      await waitFor(() => endpoint.effects.get(workflowId) === 1, 15_000, 'the side effect');
      await killWorkerProcess(first);

      const second = await start();
      try {
        const final = await finalOf(crash, key);
        expect(final).toMatchObject({ status: 'ok', data: { subject: 'Printer on fire' } });
        expect(final.attempts).toBeGreaterThanOrEqual(attempts);
      } finally {
        await stopWorkerProcess(second);
      }
      expect(endpoint.effects.get(workflowId)).toBe(1);
      const requests = endpoint.withKey(workflowId);
      expect(requests.length).toBeGreaterThanOrEqual(2);
      expect(new Set(requests.map((r) => r.headers['idempotency-key']))).toEqual(new Set([workflowId]));
    } finally {
      await crash.stop();
    }
  }, 60_000);
});

describe('a misconfigured HTTP tool', () => {
  const base = () => httpTestTools('http://127.0.0.1:9')[0]!;

  it('names the tool and the header when an environment variable is missing', () => {
    expect(() => createHttpToolSource([base()], { env: {} })).toThrow(
      'tool "http_echo" headers.Authorization reads the environment variable HTTP_TEST_TOKEN, which is not set',
    );
  });

  it('names the tool and the input when the input schema is not an object', () => {
    expect(() => createHttpToolSource([{ ...base(), input: { type: 'string' } }], { env: { [TOKEN_VARIABLE]: 'x' } })).toThrow(
      /tool "http_echo" is misdeclared: the input JSON Schema must have "type": "object"/,
    );
  });

  it('names the tool and the field of a bad entry', () => {
    expect(() => createHttpToolSource([{ ...base(), method: 'FETCH' as 'GET' }], { env: { [TOKEN_VARIABLE]: 'x' } })).toThrow(/tool "http_echo" is misdeclared: method/);
    expect(() => createHttpToolSource([{ ...base(), cancel: { url: 'http://x.example/{job_id}' } }], { env: { [TOKEN_VARIABLE]: 'x' } })).toThrow(
      /tool "http_echo" is misdeclared: cancel\.url: unknown variable \{job_id\}/,
    );
  });

  it('refuses two tools of one name', () => {
    expect(() => createHttpToolSource([base(), base()], { env: { [TOKEN_VARIABLE]: 'x' } })).toThrow(/tool "http_echo" is misdeclared: two HTTP tools/);
  });
});
