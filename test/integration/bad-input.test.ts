import { SignJWT } from 'jose';
import { startHarness, freshKey, JWT_SECRET, type Harness } from '../support/harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.stop());

/** Every rejection below must leave no workflow behind: nothing ran. */
async function expectNothingRan(key: string): Promise<void> {
  expect(await h.server.gateway.calls.snapshot(`acme/alice/${key}`)).toBeUndefined();
}

describe('bad input ends in an error envelope and runs nothing', () => {
  it('rejects a body that is not JSON with 400', async () => {
    const answer = await h.post('/v1/tool-calls', '{"tool": "lookup_order", "arguments": {');
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ status: 'error', error_code: 'INVALID_ARGUMENTS', retryable: false });
  });

  it('rejects arguments that are a malformed JSON string', async () => {
    const key = freshKey();
    const answer = await h.call('lookup_order', '{"order_id": ', { key });
    expect(answer.status).toBe(400);
    expect(answer.body.message).toBe('The arguments are not valid JSON');
    await expectNothingRan(key);
  });

  it('rejects an unknown tool with 404 and names the known ones', async () => {
    const key = freshKey();
    const answer = await h.call('delete_everything', {}, { key });
    expect(answer.status).toBe(404);
    expect(answer.body).toMatchObject({ error_code: 'UNKNOWN_TOOL' });
    expect(answer.body.message).toContain('lookup_order');
    await expectNothingRan(key);
  });

  it('rejects extra keys', async () => {
    const key = freshKey();
    const answer = await h.call('lookup_order', { order_id: 'A-1001', include_secrets: true }, { key });
    expect(answer.status).toBe(400);
    expect(answer.body.details.issues[0]).toMatchObject({ code: 'unrecognized_keys', path: 'include_secrets' });
    await expectNothingRan(key);
  });

  it('rejects wrong types with the zod issues', async () => {
    const key = freshKey();
    const answer = await h.call('refund_order', { order_id: 1001, amount_cents: 'ten', reason: 'x' }, { key });
    expect(answer.status).toBe(400);
    expect(answer.body.details.issues.map((i: { path: string }) => i.path).sort()).toEqual(['amount_cents', 'order_id', 'reason']);
    await expectNothingRan(key);
  });

  it('never trusts a tenant_id inside the arguments', async () => {
    const key = freshKey();
    const answer = await h.call('lookup_order', { order_id: 'G-2001', tenant_id: 'globex' }, { key });
    expect(answer.status).toBe(400);
    expect(answer.body.error_code).toBe('INVALID_ARGUMENTS');
    await expectNothingRan(key);
  });

  it('rejects oversized arguments with 413', async () => {
    const key = freshKey();
    const answer = await h.call('lookup_order', { order_id: 'A-1001', padding: 'x'.repeat(5_000) }, { key });
    expect(answer.status).toBe(413);
    expect(answer.body).toMatchObject({ error_code: 'INVALID_ARGUMENTS', details: { limit_bytes: 4_096 } });
    await expectNothingRan(key);
  });

  it('rejects a body beyond the HTTP limit with 413', async () => {
    const answer = await h.post('/v1/tool-calls', { tool: 'lookup_order', arguments: { order_id: 'x'.repeat(100_000) } });
    expect(answer.status).toBe(413);
    expect(answer.body.error_code).toBe('INVALID_ARGUMENTS');
  });

  describe('authentication', () => {
    const args = { order_id: 'A-1001' };
    const sign = (claims: Record<string, unknown>, secret = JWT_SECRET, exp = Math.floor(Date.now() / 1000) + 60) =>
      new SignJWT({ tenant_id: 'acme', scope: 'orders:read', ...claims })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('mallory')
        .setExpirationTime(exp)
        .sign(new TextEncoder().encode(secret));

    it.each([
      ['no token', async () => '', 'A bearer token is required'],
      ['a bad signature', async () => sign({}, 'another-secret-another-secret-012345'), "The token's signature is invalid"],
      ['an expired token', async () => sign({}, JWT_SECRET, Math.floor(Date.now() / 1000) - 10), 'The token has expired'],
      ['alg: none', async () => unsignedToken(), 'The token must be signed with HS256'],
      ['a tenant_id that cannot be a tenant', async () => sign({ tenant_id: 'ACME/../globex' }), "The token's claims are invalid"],
    ])('rejects %s with 401', async (_name, makeToken, message) => {
      const key = freshKey();
      const answer = await h.call('lookup_order', args, { key, token: await makeToken() });
      expect(answer.status).toBe(401);
      expect(answer.body).toMatchObject({ error_code: 'UNAUTHENTICATED', retryable: false });
      expect(answer.body.message).toContain(message);
      await expectNothingRan(key);
    });

    it('rejects a missing scope with 403', async () => {
      const key = freshKey();
      const token = await h.token({ scopes: ['orders:read'] });
      const answer = await h.call('refund_order', { order_id: 'A-1003', reason: 'no scope' }, { key, token });
      expect(answer.status).toBe(403);
      expect(answer.body).toMatchObject({ error_code: 'FORBIDDEN', message: 'refund_order needs the scope orders:refund' });
      await expectNothingRan(key);
    });

    it('does not let another tenant read, approve or cancel a call', async () => {
      const key = freshKey('mine');
      await h.call('cancel_order', { order_id: 'A-1004', reason: 'other tenant test' }, { key });
      const globex = await h.token({ tenant: 'globex' });
      expect((await h.get(`/v1/tool-calls/${key}`, globex)).status).toBe(404);
      expect((await h.post(`/v1/tool-calls/${key}/approval`, { approved: true }, globex)).status).toBe(404);
      expect((await h.post(`/v1/tool-calls/${key}/cancel`, {}, globex)).status).toBe(404);
      expect((await h.get(`/v1/tool-calls/${key}`)).body.status).toBe('awaiting_approval');
      await h.post(`/v1/tool-calls/${key}/cancel`, {});
      expect((await h.get(`/v1/tool-calls/${key}?wait=10000`)).body.error_code).toBe('CANCELLED');
    });
  });

  describe('policy', () => {
    it('limits the calls one session has in flight', async () => {
      const limited = await startHarness({ limits: { sessionMaxInFlight: 2 } });
      try {
        const answers = [];
        for (let i = 0; i < 3; i++) {
          answers.push(await limited.call('sleepy_tool', { label: freshKey(), ms: 800 }, { session: 'flood' }));
        }
        expect(answers.map((a) => a.status)).toEqual([202, 202, 429]);
        expect(answers[2]!.body).toMatchObject({ error_code: 'RATE_LIMITED', retryable: true });
        const otherSession = await limited.call('sleepy_tool', { label: freshKey(), ms: 10 }, { session: 'calm' });
        expect(otherSession.status).toBe(202);
      } finally {
        await limited.stop();
      }
    });

    it('rate-limits a tenant, with Retry-After', async () => {
      const limited = await startHarness({ limits: { tenantRatePerSec: 1, tenantBurst: 2 } });
      try {
        const statuses = [];
        let last;
        for (let i = 0; i < 3; i++) {
          last = await limited.call('lookup_order', { order_id: 'A-1001' });
          statuses.push(last.status);
        }
        expect(statuses).toEqual([200, 200, 429]);
        expect(last!.headers.get('retry-after')).toBe('1');
        const globex = await limited.call('lookup_order', { order_id: 'G-2001' }, { token: await limited.token({ tenant: 'globex' }) });
        expect(globex.status).toBe(200);
      } finally {
        await limited.stop();
      }
    });
  });

  it('rejects an approval body that is not {approved: boolean}', async () => {
    const answer = await h.post('/v1/tool-calls/whatever/approval', { approved: 'yes' });
    expect(answer.status).toBe(400);
  });

  it('answers an unknown route with an error envelope', async () => {
    const answer = await h.get('/v2/nothing');
    expect(answer.status).toBe(404);
    expect(answer.body.status).toBe('error');
  });
});

function unsignedToken(): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const exp = Math.floor(Date.now() / 1000) + 60;
  return `${encode({ alg: 'none', typ: 'JWT' })}.${encode({ sub: 'mallory', tenant_id: 'acme', scope: 'orders:read', exp })}.`;
}
