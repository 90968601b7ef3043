import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Connection, WorkflowClient } from '@temporalio/client';
import { Pool } from 'pg';
import { startCluster, type Cluster } from '../../src/cluster/cluster';
import { connectRealtime, spoken } from '../support/realtime-client';
import { readEvents } from '../support/sse';
import { waitFor } from '../support/wait';

/**
 * The cluster under faults: two servers and two workers as processes on the
 * Temporal server on PostgreSQL, with Redis between them. One cluster for the
 * whole file (it takes tens of seconds to start); each test restores what it
 * kills, and uses its own keys, users and orders so the tests do not see each
 * other's calls.
 *
 * Tenant rates are set low for every server (a burst of 30, then 2 a second) so
 * the cross-server rate test can empty a bucket at once and tell one shared
 * bucket from one per server even on a slow machine; it uses a tenant of its
 * own (`initech`), and the other tests stay inside the bursts of `acme` and
 * `globex` (a retry that attaches to its call takes no token).
 */
jest.setTimeout(120_000);

const RATE_PER_SEC = 2;
const BURST = 30;
/** Each refund stage lasts this long (the whole refund about 3×), so calls are still running when a test reaches them. */
const REFUND_STAGE_MS = 600;
const SCOPES = ['orders:read', 'orders:refund', 'orders:write'];

let cluster: Cluster;
let dir: string;
let store: Pool;
let temporal: Connection;
const run = Date.now().toString(36);
const keyOf = (name: string) => `${name}-${run}`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'holdline-faults-'));
  cluster = await startCluster({
    dir,
    // Each server talks to its own scripted model, whatever the developer's shell says.
    env: { LOG_LEVEL: 'info', OPENAI_API_KEY: '', HOLDLINE_MODEL_URL: '' },
    serverEnv: {
      HOLDLINE_TENANT_RATE_PER_SEC: String(RATE_PER_SEC),
      HOLDLINE_TENANT_BURST: String(BURST),
      // CI runs this beside other suites on 2 cores: a start Temporal takes over a second to confirm is slow, not down.
      HOLDLINE_BACKEND_TIMEOUT_MS: '3000',
      // The faults and limits under test here, not admission control (test/integration/admission.test.ts):
      // on a busy machine it would shed some lookups to their fallback before the tenant's bucket sees them.
      HOLDLINE_ADMISSION: 'off',
    },
    workerEnv: { HOLDLINE_REFUND_STAGE_MS: String(REFUND_STAGE_MS) },
  });
  store = new Pool({ connectionString: cluster.databaseUrl, max: 2 });
  // A pooled connection that PostgreSQL's shutdown closes must not become an unhandled error.
  store.on('error', () => undefined);
  temporal = await Connection.connect({ address: cluster.temporalAddress });
}, 180_000);

afterAll(async () => {
  await temporal?.close();
  await store?.end();
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

async function request(server: string, method: 'GET' | 'POST', path: string, token: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(`${server}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

const callTool = (server: string, token: string, tool: string, args: unknown, key: string) =>
  request(server, 'POST', '/v1/tool-calls', token, { tool, arguments: args }, { 'idempotency-key': key });

/**
 * Submits a call as a client does on a busy cluster: a refusal that says
 * "retry" (503, 429) is retried with the same key, which never starts the call
 * twice. Returns the first answer that is not such a refusal.
 */
async function submit(server: string, token: string, tool: string, args: unknown, key: string, timeoutMs = 30_000): Promise<Answer> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await callTool(server, token, tool, args, key);
    if (!(answer.status === 503 || answer.status === 429) || Date.now() > deadline) return answer;
    await delay(Math.min(1_000, Number(answer.headers.get('retry-after') ?? 1) * 1_000));
  }
}

/** The call's result: a 200 answer that is an envelope (a gateway refusal comes with another status). */
const isResult = (answer: Answer | undefined) => answer?.status === 200 && (answer.body?.status === 'ok' || answer.body?.status === 'error');

/**
 * What a real client does to get one call's result through a cluster that
 * loses processes: submit under its key, wait for the result, and on a refusal
 * or a dropped connection try again with the same key, on the other server
 * when this one is gone. Returns the result and how many requests it took.
 */
async function resultWithRetries(token: string, tool: string, args: unknown, key: string, prefer: number, timeoutMs = 60_000): Promise<{ envelope: any; requests: number }> {
  const deadline = Date.now() + timeoutMs;
  let server = prefer;
  let requests = 0;
  for (;;) {
    if (Date.now() > deadline) throw new Error(`no result for ${key} within ${timeoutMs} ms after ${requests} requests`);
    const base = cluster.servers[server % cluster.servers.length]!;
    let answer: Answer | undefined;
    try {
      requests += 1;
      answer = await callTool(base, token, tool, args, key);
      while (answer.status === 202 || (answer.status === 200 && !isResult(answer))) {
        requests += 1;
        answer = await request(base, 'GET', `/v1/tool-calls/${encodeURIComponent(key)}?wait=10000`, token);
      }
      if (isResult(answer)) return { envelope: answer.body, requests };
    } catch {
      // The server went away mid-request: the other one knows the call by its key.
      server += 1;
    }
    // The client's back-off, as Retry-After asks (1 s at most here).
    const retryAfterS = Number(answer?.headers.get('retry-after') ?? 0);
    await delay(Math.min(1_000, Math.max(100, retryAfterS * 1_000)));
  }
}

/** Rate decisions the servers made in their own memory because Redis did not answer in time (then the limit is per server). */
async function limiterFallbacks(): Promise<number> {
  let total = 0;
  for (const server of cluster.servers) {
    const text = await (await fetch(`${server}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('holdline_limiter_fallbacks_total{limit="tenant_rate"}'));
    total += line ? Number(line.split(' ').at(-1)) : 0;
  }
  return total;
}

async function providerRefunds(keys: readonly string[]): Promise<Map<string, number>> {
  const { rows } = await store.query<{ idempotency_key: string; n: number }>(
    'SELECT idempotency_key, COUNT(*)::int AS n FROM provider_refunds WHERE idempotency_key = ANY($1) GROUP BY idempotency_key',
    [keys],
  );
  return new Map(rows.map((row) => [row.idempotency_key, row.n]));
}

async function refundedCents(tenant: string, orderIds: readonly string[]): Promise<number> {
  const { rows } = await store.query<{ cents: number }>('SELECT COALESCE(SUM(refunded_cents), 0)::int AS cents FROM orders WHERE tenant_id = $1 AND order_id = ANY($2)', [
    tenant,
    orderIds,
  ]);
  return rows[0]!.cents;
}

describe('a cluster of two servers and two workers', () => {
  it('spreads calls over both servers and both workers, and every call completes', async () => {
    const calls = 16;
    const tokens = await Promise.all(Array.from({ length: calls }, (_, i) => cluster.token({ tenant: 'globex', user: `spread-${i}`, scopes: SCOPES })));
    const answers = await Promise.all(
      tokens.map((token, i) =>
        callTool(cluster.servers[i % 2]!, token, 'lookup_order', { order_id: `G-200${(i % 5) + 1}` }, keyOf(`spread-${i}`)).then(async (answer) => ({
          server: i % 2,
          // On a busy machine a lookup can outlast its ack window: the result is then one long poll away, on the same server.
          answer: answer.status === 202 ? await request(cluster.servers[i % 2]!, 'GET', `/v1/tool-calls/${keyOf(`spread-${i}`)}?wait=20000`, token) : answer,
        })),
      ),
    );
    for (const { answer } of answers) expect(answer).toMatchObject({ status: 200, body: { status: 'ok', tool: 'lookup_order' } });
    for (const server of [0, 1]) expect(answers.filter((a) => a.server === server)).toHaveLength(calls / 2);

    // Which worker ran each call: the identity on its completed workflow task.
    const workflows = new WorkflowClient({ connection: temporal, namespace: cluster.namespace });
    const identities = new Set<string>();
    for (const { answer } of answers) {
      const history = await workflows.getHandle(answer.body.workflow_id).fetchHistory();
      for (const event of history.events ?? []) {
        const identity = event.workflowTaskCompletedEventAttributes?.identity;
        if (identity) identities.add(identity);
      }
    }
    expect(identities.size).toBe(2);
  });

  it('lets a call started on one server be read, streamed, approved and cancelled on the other', async () => {
    const token = await cluster.token({ tenant: 'acme', user: 'across', scopes: SCOPES });
    const [one, other] = cluster.servers as [string, string];

    // A refund started on one server, read and streamed with its progress on the other.
    const refundKey = keyOf('across-refund');
    const started = await submit(one, token, 'refund_order', { order_id: 'A-1005', amount_cents: 100, reason: 'late delivery' }, refundKey);
    expect(started).toMatchObject({ status: 202, body: { status: 'accepted', call_id: refundKey } });
    const [read, events] = await Promise.all([
      request(other, 'GET', `/v1/tool-calls/${refundKey}`, token),
      readEvents(`${other}/v1/tool-calls/${refundKey}/events`, token, 30_000),
    ]);
    expect(read).toMatchObject({ status: 200, body: { status: 'running', call_id: refundKey, tool: 'refund_order' } });
    const progress = events.filter((e) => e.event === 'progress').map((e) => e.data.progress.pct as number);
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(events.at(-1)).toMatchObject({ event: 'completed', data: { result: { status: 'ok', call_id: refundKey, data: { order_id: 'A-1005', amount_cents: 100 } } } });

    // A cancellation started on one server, approved on the other.
    const approveKey = keyOf('across-approve');
    expect(await submit(one, token, 'cancel_order', { order_id: 'A-1001', reason: 'ordered twice' }, approveKey)).toMatchObject({ status: 202 });
    expect((await request(other, 'GET', `/v1/tool-calls/${approveKey}`, token)).body).toMatchObject({ status: 'awaiting_approval', call_id: approveKey });
    expect(await request(other, 'POST', `/v1/tool-calls/${approveKey}/approval`, token, { approved: true })).toMatchObject({ status: 202 });
    expect((await request(other, 'GET', `/v1/tool-calls/${approveKey}?wait=20000`, token)).body).toMatchObject({
      status: 'ok',
      data: { order_id: 'A-1001', state: 'cancelled', previous_state: 'placed' },
    });

    // Another, waiting for approval on one server, called off on the other: nothing changes.
    const cancelKey = keyOf('across-cancel');
    expect(await submit(one, token, 'cancel_order', { order_id: 'A-1004', reason: 'not sure anymore' }, cancelKey)).toMatchObject({ status: 202 });
    expect(await request(other, 'POST', `/v1/tool-calls/${cancelKey}/cancel`, token)).toMatchObject({
      status: 202,
      body: { status: 'cancel_requested', cancellable: true, call_id: cancelKey },
    });
    expect((await request(one, 'GET', `/v1/tool-calls/${cancelKey}?wait=20000`, token)).body).toMatchObject({ status: 'error', error_code: 'CANCELLED', retryable: false });
    const { rows } = await store.query<{ state: string }>("SELECT state FROM orders WHERE tenant_id = 'acme' AND order_id = 'A-1004'");
    expect(rows[0]!.state).toBe('placed');
  });

  it('gives a realtime session resumed on the other server, after its own was killed, the result of its call', async () => {
    const token = await cluster.token({ tenant: 'acme', user: 'caller', scopes: SCOPES });
    const [one, other] = cluster.servers as [string, string];
    const server = cluster.process('server-1');
    try {
      const client = await connectRealtime(one, { token });
      const { session_id } = await client.next((e) => e.type === 'tool_call.session', 'session');
      client.say('refund order A-1003 for $0.05');
      const accepted = await client.next((e) => e.type === 'tool_call.accepted', 'accepted');

      await server.kill('SIGKILL');
      await client.closed;

      const again = await connectRealtime(other, { token, query: { session_id } });
      expect(await again.next((e) => e.type === 'tool_call.session', 'session')).toMatchObject({ session_id, resumed: true });
      const done = await again.next((e) => e.type === 'tool_call.completed', 'completed', 30_000);
      expect(done).toMatchObject({ call_id: accepted.call_id, workflow_id: accepted.workflow_id, result: { status: 'ok', data: { amount_cents: 5 } } });
      await waitFor(() => spoken(again).some((text) => text.includes('I refunded $0.05')), 10_000, 'the result spoken by the other server');
      expect(again.all('tool_call.completed')).toHaveLength(1);
      expect(await providerRefunds([accepted.workflow_id])).toEqual(new Map([[accepted.workflow_id, 1]]));
      await again.close();
    } finally {
      if (!server.alive) await server.start();
    }
  });

  it('loses and duplicates nothing when a worker and a server are SIGKILLed under load', async () => {
    const calls = 40;
    const orders = { acme: ['A-1003', 'A-1005'], globex: ['G-2003', 'G-2005'] } as const;
    const before = { acme: await refundedCents('acme', orders.acme), globex: await refundedCents('globex', orders.globex) };
    const plan = await Promise.all(
      Array.from({ length: calls }, async (_, i) => {
        const tenant = i % 2 === 0 ? 'acme' : 'globex';
        const user = `load-${i}`;
        const key = keyOf(`load-${i}`);
        return {
          tenant,
          key,
          workflowId: `${tenant}/${user}/${key}`,
          token: await cluster.token({ tenant, user, scopes: SCOPES }),
          args: { order_id: orders[tenant][Math.floor(i / 2) % 2]!, amount_cents: 1, reason: 'load under faults' },
        };
      }),
    );
    const worker = cluster.process('worker-1');
    const server = cluster.process('server-1');
    const results = Promise.all(plan.map((call, i) => resultWithRetries(call.token, 'refund_order', call.args, call.key, i % 2, 90_000)));
    try {
      // Kill once money has started to move, while most calls are still running.
      const ids = plan.map((call) => call.workflowId);
      await waitFor(async () => (await providerRefunds(ids)).size >= 1, 30_000, 'a first refund paid');
      await Promise.all([worker.kill('SIGKILL'), server.kill('SIGKILL')]);
      const paidAtKill = (await providerRefunds(ids)).size;
      expect(paidAtKill).toBeLessThan(calls / 2);
      // As a supervisor would, start them again while the calls go on.
      await Promise.all([worker.start(), server.start()]);

      const finished = await results;
      expect(finished.map((r) => r.envelope)).toEqual(plan.map(() => expect.objectContaining({ status: 'ok', data: expect.objectContaining({ amount_cents: 1 }) })));
      expect(finished.map((r) => r.envelope.call_id)).toEqual(plan.map((call) => call.key));
      const retried = finished.filter((r) => r.requests > 2).length;
      // Lost: none. Duplicated: none. Each key paid exactly once, and the orders' ledger agrees with the provider.
      const paid = await providerRefunds(ids);
      expect(Object.fromEntries(ids.map((id) => [id, paid.get(id) ?? 0]))).toEqual(Object.fromEntries(ids.map((id) => [id, 1])));
      const after = { acme: await refundedCents('acme', orders.acme), globex: await refundedCents('globex', orders.globex) };
      expect(after.acme - before.acme + (after.globex - before.globex)).toBe(calls);
      // The faults reached the clients: those waiting on the killed server had to ask again.
      expect(retried).toBeGreaterThan(0);
    } finally {
      await results.catch(() => undefined);
      if (!worker.alive) await worker.start();
      if (!server.alive) await server.start();
    }
  });

  it('holds a tenant’s rate across servers: one bucket, not one per server', async () => {
    const waves = 5;
    const perWave = 16;
    // One user each: a user's own in-flight cap is another limit, not the one under test.
    const tokens = await Promise.all(Array.from({ length: waves * perWave }, (_, i) => cluster.token({ tenant: 'initech', user: `rate-${i}`, scopes: SCOPES })));
    const fallbacksBefore = await limiterFallbacks();
    const started = Date.now();
    const answers: { server: number; answer: Answer }[] = [];
    // Waves of concurrent calls, half to each server: a steady crowd rather than one spike a busy machine would serialize anyway.
    for (let wave = 0; wave < waves; wave++) {
      const slice = tokens.slice(wave * perWave, (wave + 1) * perWave);
      answers.push(
        ...(await Promise.all(
          slice.map((token, j) => {
            const i = wave * perWave + j;
            return callTool(cluster.servers[i % 2]!, token, 'lookup_order', { order_id: 'I-1001' }, keyOf(`rate-${i}`)).then((answer) => ({ server: i % 2, answer }));
          }),
        )),
      );
    }
    const elapsedS = (Date.now() - started) / 1000;
    const fallbacks = (await limiterFallbacks()) - fallbacksBefore;
    const limited = answers.filter(({ answer }) => answer.status === 429);
    for (const { answer } of limited) {
      expect(answer.body).toMatchObject({ status: 'error', error_code: 'RATE_LIMITED', retryable: true });
      expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    // A lookup shed by admission on a busy server is answered from its fallback: it never reached the
    // tenant's bucket, so it is neither admitted nor limited here.
    const fromFallback = ({ answer }: { answer: Answer }) => answer.body?.fallback === true || answer.body?.details?.fallback === true;
    // Admitted calls ran: initech has no orders, so each ends in the tool's ORDER_NOT_FOUND (or is still running at its ack).
    const admitted = answers.filter((entry) => entry.answer.status !== 429 && !fromFallback(entry));
    for (const { answer } of admitted) {
      expect([200, 202]).toContain(answer.status);
      expect(answer.body).toMatchObject({ tool: 'lookup_order' });
    }
    // One shared bucket: its burst plus what refilled meanwhile. Per-server buckets would admit about twice the burst.
    const figures = { admitted: admitted.length, burst: BURST, refilled: Math.ceil(RATE_PER_SEC * elapsedS), elapsedS, decidedInMemory: fallbacks };
    if (admitted.length > BURST + figures.refilled + 1 || admitted.length >= 2 * BURST) {
      throw new Error(`more calls admitted than one shared bucket allows: ${JSON.stringify(figures)}`);
    }
    expect(admitted.length).toBeGreaterThanOrEqual(BURST);
    for (const server of [0, 1]) {
      expect(admitted.some((a) => a.server === server)).toBe(true);
      expect(limited.some((a) => a.server === server)).toBe(true);
    }
  });

  it('finishes calls in flight across a Temporal restart, answers BACKEND_UNAVAILABLE meanwhile, then takes calls again', async () => {
    const token = await cluster.token({ tenant: 'acme', user: 'restart', scopes: SCOPES });
    const temporalServer = cluster.process('temporal');
    const inFlight = [0, 1].map((i) => ({ key: keyOf(`in-flight-${i}`), server: i, args: { order_id: 'A-1005', amount_cents: 2, reason: 'temporal restart' } }));
    for (const call of inFlight) {
      expect(await submit(cluster.servers[call.server]!, token, 'refund_order', call.args, call.key)).toMatchObject({ status: 202 });
    }
    try {
      // Running on a worker (progress reported) when Temporal goes away.
      await waitFor(
        async () => {
          const views = await Promise.all(inFlight.map((call) => request(cluster.servers[call.server]!, 'GET', `/v1/tool-calls/${call.key}`, token)));
          return views.every((view) => view.body.status === 'running' && view.body.progress !== undefined);
        },
        10_000,
        'both refunds under way',
      );
      await temporalServer.kill('SIGKILL');

      // New calls, on either server, are refused at once in the structured envelope. (A refund: a lookup has a
      // fallback that answers from the store while Temporal is away.)
      const refundWhileDown = { order_id: 'A-1003', amount_cents: 3, reason: 'temporal restart' };
      for (const [i, server] of cluster.servers.entries()) {
        const asked = Date.now();
        const refused = await callTool(server, token, 'refund_order', refundWhileDown, keyOf(`while-down-${i}`));
        // Within two of the servers' 3 s backend deadlines (the start, then the check that it did not happen).
        expect(Date.now() - asked).toBeLessThan(7_000);
        expect(refused.status).toBe(503);
        expect(refused.body).toMatchObject({ status: 'error', error_code: 'BACKEND_UNAVAILABLE', retryable: true, trace_id: expect.any(String) });
        expect(refused.headers.get('retry-after')).toBe('1');
      }

      await temporalServer.start();

      // The calls refused meanwhile go through when retried with their keys, on both servers.
      for (const [i] of cluster.servers.entries()) {
        const { envelope } = await resultWithRetries(token, 'refund_order', refundWhileDown, keyOf(`while-down-${i}`), i, 60_000);
        expect(envelope).toMatchObject({ status: 'ok', data: { order_id: 'A-1003', amount_cents: 3 } });
      }
      const fresh = await submit(cluster.servers[1]!, token, 'refund_order', refundWhileDown, keyOf('after-restart'));
      expect(fresh).toMatchObject({ status: 202, body: { status: 'accepted' } });
      expect((await request(cluster.servers[1]!, 'GET', `/v1/tool-calls/${keyOf('after-restart')}?wait=20000`, token)).body).toMatchObject({ status: 'ok' });

      // And the calls that were running when Temporal went away finish, once each.
      for (const call of inFlight) {
        const { envelope } = await resultWithRetries(token, 'refund_order', call.args, call.key, call.server, 60_000);
        expect(envelope).toMatchObject({ status: 'ok', call_id: call.key, data: { amount_cents: 2 } });
      }
      const ids = [...inFlight.map((call) => call.key), keyOf('while-down-0'), keyOf('while-down-1'), keyOf('after-restart')].map((key) => `acme/restart/${key}`);
      expect(await providerRefunds(ids)).toEqual(new Map(ids.map((id) => [id, 1])));
    } finally {
      if (!temporalServer.alive) await temporalServer.start();
    }
  });
});
