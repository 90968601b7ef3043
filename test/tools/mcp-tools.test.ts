import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { createMcpToolSource, META_IDEMPOTENCY_KEY, type McpServerConfig, type McpToolSource } from '../../src/activities/mcp';
import { freshKey, startHarness, type Harness } from '../support/harness';
import { freePort } from '../support/ports';
import { connectRealtime, type RealtimeTestClient } from '../support/realtime-client';
import { readEvents } from '../support/sse';
import { TEST_SCOPES } from '../support/test-tools';
import { waitFor } from '../support/wait';
import { startHttpMcpServer, type HttpMcpServer } from './support/mcp-http-server';
import { readEventsFile, type McpTestEvent } from './support/mcp-test-server';

const ROOT = resolve(__dirname, '../..');
const STDIO_SERVER = join(__dirname, 'support/mcp-stdio-server.ts');
const terminal = (e: Record<string, any>) => ['tool_call.completed', 'tool_call.failed', 'tool_call.cancelled'].includes(e.type);

let h: Harness;
let token: string;
let dir: string;
let eventsFile: string;
let web: HttpMcpServer;
let late: HttpMcpServer | undefined;
let latePort: number;
let crm: McpToolSource;
let webSource: McpToolSource;
let lateSource: McpToolSource;
/** The Streamable HTTP server again, its counting tool run as a local activity. */
let localSource: McpToolSource;
const mcpLogs: Record<string, any>[] = [];
const logger = pino(
  { level: 'debug' },
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) mcpLogs.push(JSON.parse(line) as Record<string, any>);
      done();
    },
  }),
);

/** The stdio server's events so far (every process it was, in order). */
const crmEvents = (): McpTestEvent[] => readEventsFile(eventsFile);
const callsOf = (events: McpTestEvent[], tool: string) => events.filter((e) => e.event === 'call' && e.tool === tool);
/** The final envelope of a call over the HTTP API, waiting past an ack. */
async function callToEnd(tool: string, args: unknown, key?: string): Promise<Record<string, any>> {
  const answer = await h.call(tool, args, { token, ...(key ? { key } : {}) });
  if (answer.body.status !== 'accepted') return answer.body as Record<string, any>;
  return (await h.get(`/v1/tool-calls/${answer.body.call_id}?wait=20000`, token)).body as Record<string, any>;
}
const ofCall = (key: string) => (e: McpTestEvent) => e.meta?.[META_IDEMPOTENCY_KEY] === `acme/alice/${key}`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'holdline-mcp-'));
  eventsFile = join(dir, 'crm-events.jsonl');
  web = await startHttpMcpServer();
  latePort = await freePort();

  const crmConfig: McpServerConfig = {
    name: 'crm',
    command: process.execPath,
    args: ['--import', 'tsx', STDIO_SERVER],
    cwd: ROOT,
    env: { MCP_TEST_EVENTS: eventsFile },
    tools: {
      echo: { as: 'crm_echo' },
      lookup_customer: { as: 'crm_lookup', confidenceField: 'confidence' },
      slow_count: { as: 'crm_count', budget: { ackAfterMs: 0 } },
      locked_record: { as: 'crm_locked' },
      delete_customer: { as: 'crm_delete' },
      'get-time': { as: 'crm_time' },
      whoami: { as: 'crm_whoami' },
      crash: { as: 'crm_crash', retry: { maxAttempts: 1 } },
    },
  };
  const webConfig: McpServerConfig = {
    name: 'web',
    url: web.url,
    headers: { authorization: { env: 'WEB_MCP_TOKEN', prefix: 'Bearer ' } },
    tools: {
      echo: { as: 'web_echo' },
      slow_count: { as: 'web_count', budget: { ackAfterMs: 0 } },
      lookup_customer: { as: 'web_lookup' },
      enable_extra: { as: 'web_enable' },
      extra: { as: 'web_extra' },
    },
  };
  const lateConfig: McpServerConfig = { name: 'late', url: `http://127.0.0.1:${latePort}/mcp`, tools: { echo: { as: 'late_echo' } } };
  const localConfig: McpServerConfig = { name: 'local', url: web.url, headers: { authorization: 'Bearer web-secret' }, tools: { slow_count: { as: 'local_count', runAs: 'local-activity', budget: { ackAfterMs: 0 } } } };

  crm = createMcpToolSource(crmConfig, { logger });
  webSource = createMcpToolSource(webConfig, { logger, env: { WEB_MCP_TOKEN: 'web-secret' } });
  lateSource = createMcpToolSource(lateConfig, { logger, reconnect: { initialMs: 100, maxMs: 400 } });
  localSource = createMcpToolSource(localConfig, { logger });
  await Promise.all([crm.ready, webSource.ready, lateSource.ready, localSource.ready]);
  h = await startHarness({ sources: [crm, webSource, lateSource, localSource] });
  token = await h.token({ scopes: [...TEST_SCOPES, 'mcp:crm', 'mcp:web', 'mcp:late', 'mcp:local'] });
});

afterAll(async () => {
  await h?.stop();
  await Promise.all([crm?.close(), webSource?.close(), lateSource?.close(), localSource?.close()]);
  await Promise.all([web?.close(), late?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

const open: RealtimeTestClient[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

describe('listing', () => {
  it('serves only the allow-listed tools, under their configured names, to callers holding the server scope', async () => {
    const listed = await h.get('/v1/tools', token);
    const names: string[] = listed.body.tools.map((t: { name: string }) => t.name);
    expect(names).toEqual(expect.arrayContaining(['crm_echo', 'crm_lookup', 'crm_count', 'crm_locked', 'crm_delete', 'crm_time', 'web_echo', 'web_count']));
    expect(names).not.toContain('secret_tool');
    expect(names).not.toContain('get-time');
    expect(names).not.toContain('late_echo');
    const echo = listed.body.tools.find((t: { name: string }) => t.name === 'crm_echo');
    expect(echo).toMatchObject({ description: 'Says the text back.', parameters: { type: 'object', required: ['text'], additionalProperties: false } });

    const withoutScope = await h.get('/v1/tools');
    expect(withoutScope.body.tools.map((t: { name: string }) => t.name)).not.toContain('crm_echo');
    const forbidden = await h.call('crm_echo', { text: 'hi' });
    expect(forbidden.body).toMatchObject({ status: 'error', error_code: 'FORBIDDEN' });
  });

  it('answers UNKNOWN_TOOL for a tool the allow-list leaves out, and never calls it', async () => {
    const answer = await h.call('secret_tool', {}, { token });
    expect(answer.status).toBe(404);
    expect(answer.body).toMatchObject({ status: 'error', error_code: 'UNKNOWN_TOOL' });
    expect(callsOf(crmEvents(), 'secret_tool')).toHaveLength(0);
    expect(callsOf(web.events, 'secret_tool')).toHaveLength(0);
  });

  it('sets safe defaults from annotations: read-only tools read and cancellable, destructive ones wait for approval, idempotence recorded', () => {
    const info = new Map(crm.tools().map((tool) => [tool.name, tool]));
    expect(info.get('crm_echo')).toMatchObject({ upstream: 'echo', idempotent: true, spec: { sideEffect: 'read', cancellable: true, needsApproval: false, scopes: ['mcp:crm'] } });
    expect(info.get('crm_delete')).toMatchObject({ annotations: { destructiveHint: true }, spec: { sideEffect: 'write', needsApproval: true, cancellable: false } });
    // No annotations: a write tool, destructive as the MCP specification presumes, so it waits for approval.
    expect(info.get('crm_time')).toMatchObject({ upstream: 'get-time', spec: { sideEffect: 'write', needsApproval: true } });
    expect(info.get('crm_echo')!.spec.budget).toMatchObject({ ackAfterMs: 1_000, timeoutMs: 30_000, heartbeatTimeoutMs: 5_000 });
    expect(info.get('crm_echo')!.spec.activity).toBe('mcp:crm');
    const listing = mcpLogs.find((line) => line.mcp_server === 'crm' && line.listed !== undefined);
    expect(listing?.serving).toEqual(expect.arrayContaining([expect.objectContaining({ tool: 'crm_echo', idempotent: true })]));
  });
});

describe('validation', () => {
  it.each([
    ['an unknown key', { text: 'hi', extra: 1 }],
    ['a wrong type', { text: 5 }],
    ['a missing field', {}],
  ])('rejects %s with INVALID_ARGUMENTS before the server is called', async (_what, args) => {
    const before = callsOf(crmEvents(), 'echo').length + callsOf(web.events, 'echo').length;
    for (const tool of ['crm_echo', 'web_echo']) {
      const answer = await h.call(tool, args, { token });
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ status: 'error', error_code: 'INVALID_ARGUMENTS' });
    }
    // A valid call after them reaches the server: had the invalid ones gone through, they would be counted before it.
    expect((await callToEnd('crm_echo', { text: 'after' })).status).toBe('ok');
    expect((await callToEnd('web_echo', { text: 'after' })).status).toBe('ok');
    expect(callsOf(crmEvents(), 'echo').length + callsOf(web.events, 'echo').length).toBe(before + 2);
  });
});

describe('calls', () => {
  it('runs a tool of a stdio server over the HTTP API, passing the call key downstream', async () => {
    const key = freshKey('echo');
    const answer = await callToEnd('crm_echo', { text: 'hello' }, key);
    expect(answer).toMatchObject({ status: 'ok', tool: 'crm_echo', data: { text: 'echo: hello' }, attempts: 1 });
    const [call] = crmEvents().filter(ofCall(key));
    expect(call).toMatchObject({ tool: 'echo', args: { text: 'hello' } });
  });

  it('runs a tool of a Streamable HTTP server with the configured headers', async () => {
    const answer = await callToEnd('web_echo', { text: 'over http' });
    expect(answer).toMatchObject({ status: 'ok', data: { text: 'echo: over http' } });
    expect(web.requestHeaders.every((headers) => headers.authorization === 'Bearer web-secret')).toBe(true);
  });

  it('returns structured content as data, with its confidence', async () => {
    const answer = await callToEnd('crm_lookup', { id: 'C-7' });
    expect(answer).toMatchObject({ status: 'ok', data: { id: 'C-7', name: 'Customer C-7', confidence: 0.87 }, confidence: 0.87 });
    const plain = await callToEnd('web_lookup', { id: 'C-8' });
    expect(plain.data).toEqual({ id: 'C-8', name: 'Customer C-8', confidence: 0.87 });
    expect(plain.confidence).toBeUndefined();
  });

  it('turns an isError result into TOOL_FAILED with its text, without retrying', async () => {
    const key = freshKey('locked');
    const answer = await callToEnd('crm_locked', {}, key);
    expect(answer).toMatchObject({
      status: 'error',
      error_code: 'TOOL_FAILED',
      retryable: false,
      message: 'Customer record is locked by another agent; try again later',
      details: { type: 'MCP_TOOL_ERROR' },
      attempts: 1,
    });
    expect(crmEvents().filter(ofCall(key))).toHaveLength(1);
  });

  it('runs a call over a realtime session and gives the model the result', async () => {
    const client = await connectRealtime(h.url, { token });
    open.push(client);
    await client.next((e) => e.type === 'session.updated', 'session.updated');
    client.say('call web_lookup with {"id": "R-1"}');
    const done = await client.next(terminal, 'terminal');
    expect(done).toMatchObject({ type: 'tool_call.completed', result: { status: 'ok', data: { id: 'R-1', name: 'Customer R-1' } } });
    const output = () => h.model.received.find((e) => e.type === 'conversation.item.create' && (e.item as any).call_id === done.call_id && (e.item as any).type === 'function_call_output');
    await waitFor(() => output() !== undefined, 5_000, 'the output given to the model');
    expect(JSON.parse((output()!.item as any).output)).toMatchObject({ status: 'ok', data: { id: 'R-1' } });
  });

  it('waits for approval before calling a destructive tool', async () => {
    const key = freshKey('delete');
    const answer = await h.call('crm_delete', { id: 'C-9' }, { token, key });
    expect(answer.status).toBe(202);
    expect((await h.get(`/v1/tool-calls/${key}`, token)).body.status).toBe('awaiting_approval');
    expect(crmEvents().filter(ofCall(key))).toHaveLength(0);
    await h.post(`/v1/tool-calls/${key}/approval`, { approved: true }, token);
    const final = await h.get(`/v1/tool-calls/${key}?wait=20000`, token);
    expect(final.body).toMatchObject({ status: 'ok', data: { text: 'deleted C-9' } });
    expect(crmEvents().filter(ofCall(key))).toHaveLength(1);
  });
});

describe('progress and cancellation', () => {
  it('streams MCP progress notifications as progress events', async () => {
    const key = freshKey('count');
    const answer = await h.call('crm_count', { steps: 4, step_ms: 250 }, { token, key });
    expect(answer.status).toBe(202);
    const events = await readEvents(`${h.url}/v1/tool-calls/${key}/events`, token);
    const progress = events.filter((e) => e.event === 'progress').map((e) => e.data.progress);
    expect(progress.length).toBeGreaterThanOrEqual(2);
    for (const p of progress) expect(p).toEqual({ stage: 'running', pct: expect.any(Number), message: expect.stringMatching(/^Counted [1-4]$/) });
    expect(progress.map((p) => p.pct)).toEqual([...progress.map((p) => p.pct)].sort((a, b) => a - b));
    expect(events.filter((e) => ['completed', 'failed', 'cancelled'].includes(e.event))).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({ event: 'completed', data: { result: { status: 'ok', data: { text: 'counted to 4' } } } });
  });

  it('cancels a running call on explicit cancel: the stdio server is told, the call ends CANCELLED', async () => {
    const key = freshKey('cancel');
    await h.call('crm_count', { steps: 100, step_ms: 100 }, { token, key });
    await waitFor(() => crmEvents().some(ofCall(key)), 10_000, 'the server started the call');
    const cancel = await h.post(`/v1/tool-calls/${key}/cancel`, {}, token);
    expect(cancel.body).toMatchObject({ status: 'cancel_requested', cancellable: true });
    const final = await h.get(`/v1/tool-calls/${key}?wait=20000`, token);
    expect(final.body).toMatchObject({ status: 'error', error_code: 'CANCELLED' });
    const started = crmEvents().findIndex(ofCall(key));
    await waitFor(() => crmEvents().slice(started).some((e) => e.event === 'cancelled' && e.tool === 'slow_count'), 5_000, 'the server saw the cancellation');
  });

  it('cancels a running call on barge-in over a realtime session: the HTTP server is told', async () => {
    const client = await connectRealtime(h.url, { token });
    open.push(client);
    await client.next((e) => e.type === 'session.updated', 'session.updated');
    const cancelledBefore = web.events.filter((e) => e.event === 'cancelled').length;
    client.say('call web_count with {"steps": 100, "step_ms": 100}');
    const accepted = await client.next((e) => e.type === 'tool_call.accepted', 'accepted');
    await client.next((e) => e.type === 'tool_call.progress' && e.call_id === accepted.call_id, 'progress');
    client.send({ type: 'input_audio_buffer.append', audio: 'AAAA' });
    const done = await client.next(terminal, 'terminal');
    expect(done).toMatchObject({ type: 'tool_call.cancelled', call_id: accepted.call_id, result: { error_code: 'CANCELLED' } });
    await waitFor(() => web.events.filter((e) => e.event === 'cancelled').length > cancelledBefore, 5_000, 'the server saw the cancellation');
    expect(client.events.filter(terminal)).toHaveLength(1);
  });
});

describe('a tool run as a local activity', () => {
  it('streams its progress and ends ok, without any activity task in its history', async () => {
    const key = freshKey('local-count');
    expect((await h.call('local_count', { steps: 4, step_ms: 250 }, { token, key })).status).toBe(202);
    const events = await readEvents(`${h.url}/v1/tool-calls/${key}/events`, token);
    const progress = events.filter((e) => e.event === 'progress').map((e) => e.data.progress);
    expect(progress.length).toBeGreaterThanOrEqual(2);
    for (const p of progress) expect(p).toEqual({ stage: 'running', pct: expect.any(Number), message: expect.stringMatching(/^Counted [1-4]$/) });
    expect(events.at(-1)).toMatchObject({ event: 'completed', data: { result: { status: 'ok', data: { text: 'counted to 4' } } } });
    const history = (await h.server.gateway.calls.handle(`acme/alice/${key}`).fetchHistory()).events ?? [];
    expect(history.filter((e) => e.activityTaskScheduledEventAttributes)).toHaveLength(0);
    expect(history.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')).toHaveLength(1);
  });
});

describe('servers that go away and come back', () => {
  it('ends a call whose stdio server crashes in one envelope, and the next call works after the reconnect', async () => {
    const firstPid = (await callToEnd('crm_whoami', {})).data.pid as number;

    const key = freshKey('crash');
    const answer = await callToEnd('crm_crash', {}, key);
    expect(answer).toMatchObject({ status: 'error', error_code: 'TOOL_FAILED', retryable: true, details: { type: 'MCP_UNAVAILABLE' }, attempts: 1 });
    expect(answer.message).toMatch(/MCP server crm closed the connection during the call/);
    await waitFor(() => h.logs.some((line) => line.call_id === key && line.msg === 'tool call finished'), 5_000, 'the call logged');
    expect(h.logs.filter((line) => line.call_id === key && line.msg === 'tool call finished')).toHaveLength(1);

    // The attempt waits for the server to be started again (an ack first, if that takes longer than the tool's ack time).
    const after = await callToEnd('crm_whoami', {});
    expect(after).toMatchObject({ status: 'ok', attempts: 1 });
    expect(after.data.pid).not.toBe(firstPid);
    expect(mcpLogs.some((line) => line.mcp_server === 'crm' && /reachable again/.test(line.msg))).toBe(true);
    expect(mcpLogs.some((line) => line.mcp_server === 'crm' && /connection lost/.test(line.msg))).toBe(true);
    expect(mcpLogs.some((line) => line.mcp_server === 'crm' && line.stderr?.includes('crashing on purpose'))).toBe(true);
  });

  it('lists the tools again when the server says they changed', async () => {
    const before = await h.call('web_extra', { n: 1 }, { token });
    expect(before.body).toMatchObject({ status: 'error', error_code: 'UNKNOWN_TOOL' });
    expect(before.body.message).toMatch(/MCP server web does not offer a tool named "extra"/);
    expect((await callToEnd('web_enable', {})).status).toBe('ok');
    await waitFor(() => webSource.specs().some((spec) => spec.name === 'web_extra'), 5_000, 'web_extra served');
    expect(await callToEnd('web_extra', { n: 2 })).toMatchObject({ status: 'ok', data: { text: 'extra 2' } });
  });

  it('leaves the tools of a server down at start unavailable, naming the cause, then serves them once it is up', async () => {
    const answer = await h.call('late_echo', { text: 'anyone?' }, { token });
    expect(answer.status).toBe(404);
    expect(answer.body).toMatchObject({ status: 'error', error_code: 'UNKNOWN_TOOL' });
    expect(answer.body.message).toMatch(/MCP server late is unreachable: .*; retrying/);
    // Other servers' tools work meanwhile.
    expect((await callToEnd('web_echo', { text: 'still here' })).status).toBe('ok');
    // Retried in the background, logged once.
    await waitFor(() => mcpLogs.some((line) => line.mcp_server === 'late' && line.failed_attempts >= 2), 5_000, 'a second attempt');
    expect(mcpLogs.filter((line) => line.mcp_server === 'late' && /unreachable/.test(line.msg) && line.level >= 40)).toHaveLength(1);

    late = await startHttpMcpServer(latePort);
    await waitFor(() => lateSource.specs().some((spec) => spec.name === 'late_echo'), 10_000, 'late_echo served');
    expect(lateSource.unavailable().size).toBe(0);
    const listed = await h.get('/v1/tools', token);
    expect(listed.body.tools.map((t: { name: string }) => t.name)).toContain('late_echo');
    const called = await callToEnd('late_echo', { text: 'now' });
    expect(called).toMatchObject({ status: 'ok', data: { text: 'echo: now' } });
    expect(mcpLogs.some((line) => line.mcp_server === 'late' && /reachable again/.test(line.msg))).toBe(true);

    // An HTTP server has no connection to lose: its going away shows as a broken event stream, which a ping confirms.
    await late.close();
    late = undefined;
    await waitFor(() => mcpLogs.some((line) => line.mcp_server === 'late' && /connection lost/.test(line.msg)), 10_000, 'the loss noticed');
  });

  it('names why a stdio server that cannot start is unavailable', async () => {
    const source = createMcpToolSource({ name: 'ghost', command: join(dir, 'no-such-server'), tools: { echo: {} } }, { logger, reconnect: { initialMs: 5_000, maxMs: 5_000 } });
    try {
      await source.ready;
      expect(source.specs()).toHaveLength(0);
      expect(source.unavailable().get('echo')).toMatch(/^MCP server ghost is unreachable: .*ENOENT.*; retrying$/);
    } finally {
      await source.close();
    }
  });
});
