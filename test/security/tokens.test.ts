import { SignJWT } from 'jose';
import { DEFAULT_MAX_TOKEN_LIFETIME_SECONDS, TokenVerifier } from '../../src/gateway/auth';
import { freshKey, JWT_SECRET, startHarness, type Harness } from '../support/harness';

let h: Harness;
let starts = 0;
beforeAll(async () => {
  h = await startHarness();
  const calls = h.server.gateway.calls;
  const start = calls.start.bind(calls);
  calls.start = (...args) => {
    starts++;
    return start(...args);
  };
});
afterAll(() => h.stop());

const now = () => Math.floor(Date.now() / 1000);
const key = new TextEncoder().encode(JWT_SECRET);

/** A token as an attacker would craft it: every claim and header field chosen. */
async function craft(claims: Record<string, unknown>, header: Record<string, unknown> = { alg: 'HS256' }, secret: Uint8Array = key): Promise<string> {
  return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(secret);
}

const valid = () => ({ sub: 'mallory', tenant_id: 'acme', scope: 'orders:read', iat: now(), exp: now() + 600 });

/** Calls lookup_order with the token; expects 401 with the message, nothing started and no workflow. */
async function expectRefused(token: string, message: string | RegExp): Promise<void> {
  const before = starts;
  const callKey = freshKey('tok');
  const answer = await h.call('lookup_order', { order_id: 'A-1001' }, { key: callKey, token });
  expect(answer.status).toBe(401);
  expect(answer.body).toMatchObject({ status: 'error', error_code: 'UNAUTHENTICATED', retryable: false });
  expect(answer.body.message).toMatch(message);
  expect(answer.body.details).toBeUndefined();
  expect(starts).toBe(before);
  expect(await h.server.gateway.calls.snapshot(`acme/mallory/${callKey}`)).toBeUndefined();
}

describe('a token is trusted only when it is signed, current, complete and short-lived', () => {
  it('accepts a well-formed token (the baseline the refusals below differ from)', async () => {
    const answer = await h.call('lookup_order', { order_id: 'A-1001' }, { token: await craft(valid()) });
    expect(answer.status).toBe(200);
  });

  it('refuses alg: none', async () => {
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    await expectRefused(`${encode({ alg: 'none', typ: 'JWT' })}.${encode(valid())}.`, 'The token must be signed with HS256');
  });

  it('refuses alg: none even with a signature part', async () => {
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    await expectRefused(`${encode({ alg: 'none' })}.${encode(valid())}.${encode({ sig: 'x' })}`, /HS256|malformed|signature/);
  });

  it('refuses another HMAC algorithm with the right secret', async () => {
    await expectRefused(await craft(valid(), { alg: 'HS512' }), 'The token must be signed with HS256');
  });

  it('refuses a token signed with the wrong secret', async () => {
    await expectRefused(await craft(valid(), { alg: 'HS256' }, new TextEncoder().encode('another-secret-another-secret-0123456')), "The token's signature is invalid");
  });

  it('refuses a token whose payload was changed after signing', async () => {
    const [header, , signature] = (await craft(valid())).split('.');
    const forged = Buffer.from(JSON.stringify({ ...valid(), tenant_id: 'globex' })).toString('base64url');
    await expectRefused(`${header}.${forged}.${signature}`, "The token's signature is invalid");
  });

  it('refuses an expired token', async () => {
    await expectRefused(await craft({ ...valid(), iat: now() - 120, exp: now() - 60 }), 'The token has expired');
  });

  it('refuses a token that is not valid yet (nbf in the future)', async () => {
    await expectRefused(await craft({ ...valid(), nbf: now() + 3600 }), 'The token is not valid yet');
  });

  it('refuses a token without sub', async () => {
    const { sub: _sub, ...claims } = valid();
    await expectRefused(await craft(claims), /sub/);
  });

  it('refuses a token without tenant_id', async () => {
    const { tenant_id: _tenant, ...claims } = valid();
    await expectRefused(await craft(claims), /tenant_id/);
  });

  it('refuses a token without exp', async () => {
    const { exp: _exp, ...claims } = valid();
    await expectRefused(await craft(claims), /exp/);
  });

  it('refuses a token whose exp is years ahead', async () => {
    await expectRefused(await craft({ ...valid(), exp: now() + 5 * 365 * 86_400 }), /lives longer than/);
  });

  it('refuses a token whose exp − iat exceeds the maximum, even close to its expiry', async () => {
    await expectRefused(await craft({ ...valid(), iat: now() - 2 * DEFAULT_MAX_TOKEN_LIFETIME_SECONDS, exp: now() + 60 }), /lives longer than/);
  });

  it('refuses claims of the wrong type instead of coercing them', async () => {
    await expectRefused(await craft({ ...valid(), tenant_id: ['acme'] }), /tenant_id/);
    await expectRefused(await craft({ ...valid(), scope: { admin: true } }), /scope/);
  });

  it('honours a configured maximum lifetime, and will not issue a token beyond it', async () => {
    const verifier = new TokenVerifier(JWT_SECRET, { maxLifetimeSeconds: 60 });
    await expect(verifier.verify(await craft({ ...valid(), exp: now() + 30 }))).resolves.toMatchObject({ tenantId: 'acme', userId: 'mallory' });
    await expect(verifier.verify(await craft({ ...valid(), exp: now() + 120 }))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(verifier.issue({ tenantId: 'acme', userId: 'u', scopes: [], ttlSeconds: 61 })).rejects.toThrow(/lifetime/);
    expect(() => new TokenVerifier(JWT_SECRET, { maxLifetimeSeconds: 0 })).toThrow(/maxLifetimeSeconds/);
  });
});
