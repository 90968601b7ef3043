import { SignJWT } from 'jose';
import { freshKey, JWT_SECRET, startHarness, type Harness } from '../support/harness';
import { connectRealtime } from '../support/realtime-client';
import { waitFor } from '../support/wait';

/**
 * Log lines never carry a token, the JWT secret, or a field a tool declares
 * sensitive (cancel_order's and refund_order's `reason`), whatever happens to
 * the call: success, approval, rejection, a forged or expired token.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.stop());

const SECRET_REASON = 'REASON-7f3a9c-my-divorce-lawyer-said-so';

function logText(): string {
  return h.logs.map((line) => JSON.stringify(line)).join('\n');
}

function expectNotLogged(...secrets: string[]): void {
  expect(h.logs.length).toBeGreaterThan(0);
  const text = logText();
  for (const secret of secrets) expect(text).not.toContain(secret);
}

describe('log lines carry no secret, token or sensitive field', () => {
  it('for a cancel_order that is approved and runs', async () => {
    const token = await h.token({ user: 'logger-1' });
    const key = freshKey('log');
    const before = h.logs.length;
    const accepted = await h.call('cancel_order', { order_id: 'A-1004', reason: SECRET_REASON }, { key, token });
    expect(accepted.status).toBe(202);
    await h.post(`/v1/tool-calls/${key}/approval`, { approved: true }, token);
    await h.get(`/v1/tool-calls/${key}?wait=10000`, token);
    await waitFor(() => h.logs.slice(before).some((line) => line.call_id === key && line.msg === 'tool call finished'), 10_000, 'the call’s log line');
    // The call was logged, with its arguments redacted.
    expect(h.logs.slice(before).find((line) => line.call_id === key && line.arguments)).toMatchObject({ arguments: { order_id: 'A-1004', reason: '[redacted]' } });
    expectNotLogged(token, JWT_SECRET, SECRET_REASON);
  });

  it('for a refund, whose reason is sensitive too', async () => {
    const token = await h.token({ user: 'logger-2' });
    const answer = await h.call('refund_order', { order_id: 'A-1002', amount_cents: 100, reason: SECRET_REASON }, { token });
    await h.get(`/v1/tool-calls/${answer.body.call_id}?wait=15000`, token);
    expectNotLogged(token, JWT_SECRET, SECRET_REASON);
  });

  it('for calls rejected after authentication: bad arguments, a missing scope, a conflict', async () => {
    const token = await h.token({ user: 'logger-3', scopes: ['orders:read'] });
    await h.call('cancel_order', { order_id: 'not an order', reason: SECRET_REASON }, { token });
    await h.call('cancel_order', { order_id: 'A-1004', reason: SECRET_REASON }, { token });
    const key = freshKey('log');
    const full = await h.token({ user: 'logger-3' });
    await h.call('cancel_order', { order_id: 'A-1004', reason: SECRET_REASON }, { key, token: full });
    await h.call('cancel_order', { order_id: 'A-1004', reason: `${SECRET_REASON}-other` }, { key, token: full });
    await h.post(`/v1/tool-calls/${key}/cancel`, {}, full);
    expectNotLogged(token, full, JWT_SECRET, SECRET_REASON);
  });

  it('for forged, expired and malformed tokens', async () => {
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ sub: 'mallory', tenant_id: 'acme', scope: 'orders:write' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(now + 60)
      .sign(new TextEncoder().encode('another-secret-another-secret-0123456'));
    const expired = await new SignJWT({ sub: 'mallory', tenant_id: 'acme', scope: 'orders:write' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt(now - 120)
      .setExpirationTime(now - 60)
      .sign(new TextEncoder().encode(JWT_SECRET));
    const malformed = 'eyJhbGciOiJIUzI1NiJ9.not-base64!.sig';
    for (const token of [forged, expired, malformed]) {
      await h.call('cancel_order', { order_id: 'A-1004', reason: SECRET_REASON }, { token });
      await h.get(`/v1/tool-calls/${freshKey()}`, token);
      await connectRealtime(h.url, { token }).then(
        (client) => client.close(),
        () => undefined,
      );
    }
    expectNotLogged(forged, expired, malformed, JWT_SECRET, SECRET_REASON);
  });

  it('for a realtime session whose model calls a tool with a sensitive field', async () => {
    const token = await h.token({ user: 'logger-4' });
    const client = await connectRealtime(h.url, { token });
    try {
      await client.next((e) => e.type === 'session.updated', 'session.updated');
      client.say(`call cancel_order with {"order_id": "A-1004", "reason": "${SECRET_REASON}"}`);
      await client.next((e) => e.type === 'tool_call.approval_requested', 'approval requested');
    } finally {
      await client.close();
    }
    expectNotLogged(token, JWT_SECRET, SECRET_REASON);
  });
});
