import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CallListSchema, type CallSummary } from '../../src/contracts/calls';
import { startHarness, freshKey, type Harness } from '../support/harness';
import { TEST_SCOPES } from '../support/test-tools';
import { waitFor } from '../support/wait';

/**
 * GET /v1/tool-calls: calls from Temporal visibility. The dev server is shared
 * with other files, so every user and session here is fresh.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});

const fresh = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;
const alice = fresh('alice');
const bob = fresh('bob');
const desk = fresh('desk');
const approvals = fresh('approvals');
let aliceToken: string;
let bobToken: string;

async function list(query: string, token: string): Promise<{ calls: CallSummary[]; next_page_token?: string }> {
  const answer = await h.get(`/v1/tool-calls${query}`, token);
  expect(answer.status).toBe(200);
  return CallListSchema.parse(answer.body);
}

/** Visibility lags a start by a moment: wait until the list shows `count` calls. */
async function listed(query: string, token: string, count: number): Promise<CallSummary[]> {
  let calls: CallSummary[] = [];
  await waitFor(async () => (calls = (await list(query, token)).calls).length >= count, 10_000, `${count} calls listed for ${query}`);
  return calls;
}

beforeAll(async () => {
  aliceToken = await h.token({ user: alice });
  bobToken = await h.token({ user: bob });
  for (let i = 0; i < 3; i++) expect((await h.call('lookup_order', { order_id: 'A-1001' }, { token: aliceToken, session: desk })).status).toBe(200);
  const cancel = await h.call('cancel_order', { order_id: 'A-1004', reason: 'changed my mind' }, { token: aliceToken, session: approvals, key: freshKey('cancel') });
  expect(cancel.status).toBe(202);
  expect((await h.call('lookup_order', { order_id: 'A-1002' }, { token: bobToken, session: desk })).status).toBe(200);
});

afterAll(async () => {
  // Deny the call still waiting, so it does not wait out its approval window on the shared server.
  for (const call of (await list('?status=awaiting_approval', aliceToken)).calls) await h.post(`/v1/tool-calls/${call.call_id}/approval`, { approved: false }, aliceToken);
  await h.stop();
});

describe('GET /v1/tool-calls', () => {
  it("lists the caller's calls from visibility, with tool, session, status and times", async () => {
    const calls = await listed('', aliceToken, 4);
    expect(calls).toHaveLength(4);
    expect(calls.every((call) => call.user_id === alice && call.tenant_id === 'acme')).toBe(true);
    const lookups = calls.filter((call) => call.tool === 'lookup_order');
    expect(lookups).toHaveLength(3);
    for (const call of lookups) {
      expect(call).toMatchObject({ status: 'ok', session_id: desk, workflow_id: `acme/${alice}/${call.call_id}` });
      expect(Date.parse(call.closed_at!)).toBeGreaterThanOrEqual(Date.parse(call.started_at));
      expect(call.duration_ms).toBeGreaterThanOrEqual(0);
      expect(call.cancellable).toBeUndefined();
    }
    const waiting = calls.find((call) => call.tool === 'cancel_order')!;
    expect(waiting).toMatchObject({ status: 'awaiting_approval', session_id: approvals, cancellable: true });
    expect(waiting.closed_at).toBeUndefined();
    // Arguments as the audit memo keeps them: cancel_order's reason is a sensitive field.
    expect(waiting.arguments).toMatchObject({ reason: '[redacted]' });
    expect(waiting.arguments!.order_id).toMatch(/^A-/);
    expect(lookups[0]!.arguments).toMatchObject({ order_id: expect.stringMatching(/^A-/) });
  });

  it('filters by status, tool and session', async () => {
    await listed('', aliceToken, 4);
    expect((await list('?status=awaiting_approval', aliceToken)).calls.map((call) => call.tool)).toEqual(['cancel_order']);
    expect((await list('?status=ok&tool=lookup_order', aliceToken)).calls).toHaveLength(3);
    expect((await list(`?session=${approvals}`, aliceToken)).calls.map((call) => call.tool)).toEqual(['cancel_order']);
    expect((await list('?tool=refund_order', aliceToken)).calls).toEqual([]);
    // An empty parameter is no filter, as a form sends it.
    expect((await list('?status=&tool=', aliceToken)).calls).toHaveLength(4);
  });

  it('pages with next_page_token until every call was listed once', async () => {
    await listed('', aliceToken, 4);
    const seen: string[] = [];
    let token: string | undefined;
    for (let page = 0; page < 5; page++) {
      const answer: { calls: CallSummary[]; next_page_token?: string } = await list(`?page_size=2${token ? `&page_token=${token}` : ''}`, aliceToken);
      expect(answer.calls.length).toBeLessThanOrEqual(2);
      seen.push(...answer.calls.map((call) => call.call_id));
      token = answer.next_page_token;
      if (!token) break;
    }
    expect(token).toBeUndefined();
    expect(seen).toHaveLength(4);
    expect(new Set(seen).size).toBe(4);
  });

  it("shows another user of the tenant and another tenant none of the caller's calls", async () => {
    await listed('', aliceToken, 4);
    const bobs = await listed('', bobToken, 1);
    expect(bobs.map((call) => call.user_id)).toEqual([bob]);
    // Naming another user without the operator scope still lists only one's own.
    expect((await list(`?user=${alice}`, bobToken)).calls.map((call) => call.user_id)).toEqual([bob]);
    const stranger = await h.token({ tenant: fresh('globex'), user: alice });
    expect((await list('', stranger)).calls).toEqual([]);
    expect((await list(`?user=${alice}`, await h.token({ tenant: fresh('globex'), user: 'ops', scopes: ['holdline:operator'] }))).calls).toEqual([]);
  });

  it("shows an operator the tenant's calls, or one user's", async () => {
    const operator = await h.token({ user: fresh('ops'), scopes: [...TEST_SCOPES, 'holdline:operator'] });
    const atDesk = await listed(`?session=${desk}`, operator, 4);
    expect(atDesk.map((call) => call.user_id).sort()).toEqual([alice, alice, alice, bob].sort());
    expect((await list(`?user=${bob}`, operator)).calls.map((call) => call.user_id)).toEqual([bob]);
  });

  it('treats filter values as values: quotes cannot widen the query', async () => {
    await listed('', aliceToken, 4);
    const injected = encodeURIComponent(`x' OR WorkflowId STARTS_WITH '`);
    expect((await list(`?tool=${injected}`, bobToken)).calls).toEqual([]);
    expect((await list(`?session=${encodeURIComponent(`${desk}' OR HoldlineTenant = 'acme`)}`, bobToken)).calls).toEqual([]);
    // A quote in a user id (kept by the workflow id's encoding) is escaped, not a way out of the literal.
    const quoted = await h.token({ user: fresh("o'neil") });
    expect((await h.call('lookup_order', { order_id: 'A-1001' }, { token: quoted })).status).toBe(200);
    expect((await listed('', quoted, 1)).map((call) => call.tool)).toEqual(['lookup_order']);
    const backslash = await h.get(`/v1/tool-calls?tool=${encodeURIComponent('a\\b')}`, bobToken);
    expect(backslash.status).toBe(400);
  });

  it('answers 400 for a bad status, page size or page token', async () => {
    const first = await list('?page_size=1', aliceToken);
    // A token continues the list it came from, not another.
    const elsewhere = await h.get(`/v1/tool-calls?page_size=1&tool=lookup_order&page_token=${first.next_page_token}`, aliceToken);
    expect(elsewhere.status).toBe(400);
    for (const query of ['?status=finished', '?page_size=101', '?page_size=0', '?page_token=not*a*token', '?page_token=AAAA', '?tool=a&tool=b', '?wat=1']) {
      const answer = await h.get(`/v1/tool-calls${query}`, aliceToken);
      expect({ query, status: answer.status, code: answer.body.error_code }).toEqual({ query, status: 400, code: 'INVALID_ARGUMENTS' });
    }
  });

  it('needs a token', async () => {
    expect((await h.get('/v1/tool-calls', '')).status).toBe(401);
  });
});

describe('POST /dev/token and GET /v1/info', () => {
  it('mints a development token the API accepts, for the tenant, user and scopes asked', async () => {
    const user = fresh('erin');
    const minted = await h.post('/dev/token', { tenant: 'acme', user, scopes: ['orders:read'] }, '');
    expect(minted.status).toBe(200);
    expect(typeof minted.body.token).toBe('string');
    const tools = await h.get('/v1/tools', minted.body.token);
    expect(tools.status).toBe(200);
    expect(tools.body.tools.map((tool: { name: string }) => tool.name)).toEqual(['lookup_order']);
    expect((await h.call('lookup_order', { order_id: 'A-1001' }, { token: minted.body.token })).status).toBe(200);
    expect((await listed('', minted.body.token, 1)).map((call) => call.user_id)).toEqual([user]);
  });

  it('refuses a scope with a space, a bad tenant, and a lifetime past the limit', async () => {
    for (const body of [
      { tenant: 'acme', user: 'x', scopes: ['orders:read holdline:operator'] },
      { tenant: 'Acme/evil', user: 'x', scopes: [] },
      { tenant: 'acme', user: '', scopes: [] },
      { tenant: 'acme', user: 'x', scopes: [], ttl_seconds: 10 * 24 * 3600 },
      { tenant: 'acme', user: 'x', scopes: [], role: 'admin' },
    ]) {
      const answer = await h.post('/dev/token', body, '');
      expect({ body, status: answer.status, code: answer.body.error_code }).toEqual({ body, status: 400, code: 'INVALID_ARGUMENTS' });
    }
  });

  it("tells clients the namespace, Holdline's version and (when known) the Temporal UI", async () => {
    const { version } = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
    const info = await h.get('/v1/info', aliceToken);
    expect(info.status).toBe(200);
    expect(info.body).toEqual({ namespace: 'default', version });
    expect((await h.get('/v1/info', '')).status).toBe(401);
  });

  it('has no /dev/token in production, and reports the Temporal UI it is given', async () => {
    const production = await startHarness({ withoutWorker: true, production: true, temporalUiUrl: 'http://127.0.0.1:8233/' });
    try {
      const answer = await production.post('/dev/token', { tenant: 'acme', user: 'x', scopes: [] }, '');
      expect(answer.status).toBe(404);
      expect(answer.body.token).toBeUndefined();
      expect((await production.get('/v1/info')).body).toMatchObject({ namespace: 'default', temporal_ui_url: 'http://127.0.0.1:8233' });
    } finally {
      await production.stop();
    }
  });
});
