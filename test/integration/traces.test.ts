import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import pino from 'pino';
import supportDesk from '../../examples/support-desk';
import { loadConfig } from '../../src/runtime/config';
import { startHoldline, type RunningHoldline } from '../../src/runtime/holdline';
import { issueDevToken } from '../../src/runtime/jwt-secret';
import { freePort } from '../support/ports';
import { connectRealtime, type RealtimeTestClient } from '../support/realtime-client';
import { waitFor } from '../support/wait';

/** One span as the OTLP/HTTP JSON exporter sends it. */
interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: Record<string, unknown>;
}

/** An OTLP/HTTP receiver for traces (`POST /v1/traces`, JSON), standing in for a collector such as Jaeger. */
async function startReceiver(): Promise<{ url: string; spans: ReceivedSpan[]; services: Set<string>; close(): Promise<void> }> {
  const spans: ReceivedSpan[] = [];
  const services = new Set<string>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      const raw = Buffer.concat(chunks);
      const body = JSON.parse((req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8')) as OtlpBody;
      for (const resourceSpans of body.resourceSpans ?? []) {
        const service = attributesOf(resourceSpans.resource?.attributes)['service.name'];
        if (typeof service === 'string') services.add(service);
        for (const scope of resourceSpans.scopeSpans ?? []) {
          for (const span of scope.spans ?? []) {
            spans.push({ traceId: span.traceId, spanId: span.spanId, ...(span.parentSpanId ? { parentSpanId: span.parentSpanId } : {}), name: span.name, attributes: attributesOf(span.attributes) });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${port}`, spans, services, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: number | string; boolValue?: boolean; doubleValue?: number };
}
interface OtlpBody {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: { spans?: { traceId: string; spanId: string; parentSpanId?: string; name: string; attributes?: OtlpAttribute[] }[] }[];
  }[];
}

function attributesOf(list: OtlpAttribute[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map(({ key, value }) => [key, value.stringValue ?? value.intValue ?? value.boolValue ?? value.doubleValue]));
}

describe('traces (OTEL_EXPORTER_OTLP_ENDPOINT set)', () => {
  let dataDir: string;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let running: RunningHoldline | undefined;
  let client: RealtimeTestClient | undefined;
  let token: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'holdline-traces-'));
    receiver = await startReceiver();
    const env = {
      HOLDLINE_DATA_DIR: dataDir,
      PORT: String(await freePort()),
      TEMPORAL_ADDRESS: process.env.HOLDLINE_TEST_TEMPORAL_ADDRESS!,
      TEMPORAL_TASK_QUEUE: `traces-${randomUUID()}`,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_SERVICE_NAME: 'holdline-traces-test',
    };
    running = await startHoldline({ env, logger: pino({ level: 'silent' }), tools: supportDesk });
    token = await issueDevToken(loadConfig(env), { tenantId: 'acme', userId: 'tracer', scopes: ['orders:read'] });
  }, 60_000);

  afterAll(async () => {
    await client?.close();
    await running?.stop();
    await receiver?.close();
    rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  /**
   * The spans of the one OpenTelemetry trace that carries this Holdline trace
   * id, once it holds every expected span name; fails if the id shows up in
   * more than one trace.
   */
  async function traceOf(holdlineTraceId: string, expected: readonly string[]): Promise<ReceivedSpan[]> {
    const tagged = () => receiver.spans.filter((span) => span.attributes['holdline.trace_id'] === holdlineTraceId);
    const inTrace = () => {
      const otelTraceIds = new Set(tagged().map((span) => span.traceId));
      return otelTraceIds.size === 1 ? receiver.spans.filter((span) => otelTraceIds.has(span.traceId)) : [];
    };
    const complete = () => expected.every((name) => inTrace().some((span) => span.name === name));
    await waitFor(() => complete() || new Set(tagged().map((span) => span.traceId)).size > 1, 20_000, `the spans of ${holdlineTraceId}`).catch(() => undefined);
    // Every span with this Holdline trace id is in one OpenTelemetry trace.
    expect(new Set(tagged().map((span) => span.traceId)).size).toBe(1);
    expect(inTrace().map((span) => span.name)).toEqual(expect.arrayContaining([...expected]));
    return inTrace();
  }

  /** The spans by name; each of `names` parented inside the trace (only the first has no parent here). */
  function expectTree(spans: ReceivedSpan[], root: string): void {
    const ids = new Set(spans.map((span) => span.spanId));
    const roots = spans.filter((span) => !span.parentSpanId || !ids.has(span.parentSpanId));
    expect(roots.map((span) => span.name)).toEqual([root]);
  }

  it('makes one trace of an HTTP call: request, gateway, workflow start, workflow and activity', async () => {
    const answer = await fetch(`${running!.apiUrl}/v1/tool-calls`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': 'trace-http-1' },
      body: JSON.stringify({ tool: 'lookup_order', arguments: { order_id: 'A-1001' } }),
    });
    expect(answer.status).toBe(200);
    const envelope = (await answer.json()) as { status: string; trace_id: string };
    expect(envelope.status).toBe('ok');

    const spans = await traceOf(envelope.trace_id, [
      'POST /v1/tool-calls',
      'holdline.gateway.submit',
      'StartWorkflow:toolCallWorkflow',
      'RunWorkflow:toolCallWorkflow',
      'RunActivity:lookup_order',
    ]);
    expectTree(spans, 'POST /v1/tool-calls');
    for (const name of ['POST /v1/tool-calls', 'holdline.gateway.submit', 'RunWorkflow:toolCallWorkflow', 'RunActivity:lookup_order']) {
      const span = spans.find((candidate) => candidate.name === name)!;
      expect({ name, trace_id: span.attributes['holdline.trace_id'] }).toEqual({ name, trace_id: envelope.trace_id });
    }
    const gateway = spans.find((span) => span.name === 'holdline.gateway.submit')!;
    expect(gateway.attributes).toMatchObject({ 'holdline.tool': 'lookup_order', 'holdline.tenant': 'acme' });
    const activity = spans.find((span) => span.name === 'RunActivity:lookup_order')!;
    expect(activity.attributes).toMatchObject({ 'holdline.tool': 'lookup_order', 'holdline.tenant': 'acme' });
    expect(receiver.services).toContain('holdline-traces-test');
  }, 40_000);

  it('makes one trace of a realtime function call', async () => {
    client = await connectRealtime(running!.apiUrl!, { token });
    await client.next((event) => event.type === 'tool_call.session', 'session');
    client.say('look up order A-1002');
    const completed = await client.next((event) => event.type === 'tool_call.completed', 'completed', 20_000);
    const traceId = completed.trace_id as string;

    const spans = await traceOf(traceId, [
      'realtime function_call',
      'holdline.gateway.submit',
      'StartWorkflow:toolCallWorkflow',
      'RunWorkflow:toolCallWorkflow',
      'RunActivity:lookup_order',
    ]);
    expectTree(spans, 'realtime function_call');
    const call = spans.find((span) => span.name === 'realtime function_call')!;
    expect(call.attributes).toMatchObject({ 'holdline.trace_id': traceId, 'holdline.tool': 'lookup_order', 'holdline.tenant': 'acme' });
    expect(spans.find((span) => span.name === 'RunWorkflow:toolCallWorkflow')!.attributes['holdline.trace_id']).toBe(traceId);
  }, 40_000);
});
