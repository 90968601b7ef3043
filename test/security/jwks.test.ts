import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type JWK, type KeyLike } from 'jose';
import { TokenVerifier } from '../../src/gateway/auth';
import { GatewayRejection } from '../../src/gateway/rejection';
import { RemoteKeySet } from '../../src/gateway/remote-keys';
import { importVerificationKeys } from '../../src/gateway/verification-keys';
import { startHarness } from '../support/harness';
import { connectRealtime } from '../support/realtime-client';
import { waitFor } from '../support/wait';
import { issueDevToken } from '../../src/http/dev-token';

const ISSUER = 'https://idp.test';
const AUDIENCE = 'holdline';
const now = () => Math.floor(Date.now() / 1000);

interface IdpKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: KeyLike;
  jwk: JWK;
}

async function idpKey(kid: string, alg: 'RS256' | 'ES256'): Promise<IdpKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg);
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** An identity provider's JWKS endpoint on loopback: its keys can change, it can fail and it can go away. */
class JwksServer {
  keys: IdpKey[] = [];
  fetches = 0;
  failing = false;
  private server: Server | undefined;
  url = '';

  async start(port = 0): Promise<void> {
    this.server = createServer((req, res) => {
      this.fetches++;
      if (this.failing) return void res.writeHead(500).end('down for maintenance');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: this.keys.map((key) => key.jwk) }));
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/.well-known/jwks.json`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server?.close(() => resolve());
      this.server?.closeAllConnections();
    });
  }
}

function tokenOf(key: IdpKey, claims: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT({ tenant_id: 'acme', scope: 'orders:read', iss: ISSUER, aud: AUDIENCE, ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .setSubject('alice')
    .setIssuedAt()
    .setExpirationTime(now() + 600)
    .sign(key.privateKey);
}

async function refusal(verifier: TokenVerifier, token: string): Promise<GatewayRejection> {
  const error = await verifier.verify(token).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof GatewayRejection)) throw new Error(`expected a refusal, got ${String(error)}`);
  return error;
}

let rs1: IdpKey;
let es1: IdpKey;
let rs2: IdpKey;
beforeAll(async () => {
  [rs1, es1, rs2] = await Promise.all([idpKey('rs-1', 'RS256'), idpKey('es-1', 'ES256'), idpKey('rs-2', 'RS256')]);
});

describe("tokens of an identity provider, verified with its JWKS", () => {
  let idp: JwksServer;
  beforeEach(async () => {
    idp = new JwksServer();
    idp.keys = [rs1, es1];
    await idp.start();
  });
  afterEach(() => idp.stop());

  const verifierFor = (options: Partial<ConstructorParameters<typeof RemoteKeySet>[0]> = {}) =>
    new TokenVerifier([], { issuer: ISSUER, audience: AUDIENCE, jwks: new RemoteKeySet({ url: new URL(idp.url), cooldownMs: 200, timeoutMs: 1_000, ...options }) });

  it('accepts RS256 and ES256 tokens from the key set, fetched once and cached', async () => {
    const verifier = verifierFor();
    await expect(verifier.verify(await tokenOf(rs1))).resolves.toMatchObject({ userId: 'alice', tenantId: 'acme' });
    await expect(verifier.verify(await tokenOf(es1))).resolves.toMatchObject({ userId: 'alice' });
    for (let i = 0; i < 20; i++) await verifier.verify(await tokenOf(i % 2 ? rs1 : es1));
    expect(idp.fetches).toBe(1);
    // The set's keys obey the same rules as configured ones.
    expect((await refusal(verifier, await tokenOf(rs1, { iss: 'https://evil.test' }))).message).toBe("The token's issuer is not accepted here");
    expect((await refusal(verifier, await tokenOf(rs1, { aud: 'someone-else' }))).message).toBe("The token's audience is not this service");
    const forged = await new SignJWT({ tenant_id: 'acme', iss: ISSUER, aud: AUDIENCE })
      .setProtectedHeader({ alg: 'HS256', kid: 'rs-1' })
      .setSubject('mallory')
      .setExpirationTime(now() + 60)
      .sign(new TextEncoder().encode(JSON.stringify(rs1.jwk).padEnd(32, '-')));
    expect((await refusal(verifier, forged)).message).toBe('The token must be signed with RS256 or ES256');
  });

  it('accepts a key that appears in the set (rollover) once the set is fetched again, and refuses a kid the set does not hold', async () => {
    const verifier = verifierFor();
    await verifier.verify(await tokenOf(rs1));
    idp.keys = [rs1, es1, rs2];
    // A new kid makes the verifier fetch again, at most once per cooldown.
    await waitFor(async () => verifier.verify(await tokenOf(rs2)).then(() => true, () => false), 5_000, 'the new key accepted');
    expect(idp.fetches).toBeGreaterThanOrEqual(2);
    expect(idp.fetches).toBeLessThanOrEqual(3);
    const stranger = await idpKey('nobody', 'RS256');
    const refused = await refusal(verifier, await tokenOf(stranger));
    expect(refused).toMatchObject({ code: 'UNAUTHENTICATED', message: "The token's kid names no key known here", httpStatus: 401 });
  });

  it('keeps verifying cached keys while the JWKS is down; an unknown kid is 401 while a set fetched within the cooldown vouches, 503 with Retry-After after', async () => {
    const recent = verifierFor({ cooldownMs: 60_000 });
    const later = verifierFor({ cooldownMs: 150 });
    await recent.verify(await tokenOf(rs1));
    await later.verify(await tokenOf(rs1));
    await idp.stop();
    for (const verifier of [recent, later]) {
      await expect(verifier.verify(await tokenOf(rs1))).resolves.toMatchObject({ userId: 'alice' });
      await expect(verifier.verify(await tokenOf(es1))).resolves.toMatchObject({ userId: 'alice' });
    }
    // The set fetched a moment ago does not hold rs-2: the caller's token is at fault.
    expect(await refusal(recent, await tokenOf(rs2))).toMatchObject({ code: 'UNAUTHENTICATED', httpStatus: 401 });
    // Past the cooldown rs-2 might be a new key of the provider: without its set, this server cannot tell. Its problem, not the caller's.
    let unknown: GatewayRejection | undefined;
    await waitFor(async () => (unknown = await refusal(later, await tokenOf(rs2))).code === 'BACKEND_UNAVAILABLE', 5_000, '503 past the cooldown');
    expect(unknown).toMatchObject({ httpStatus: 503, message: "The identity provider's keys cannot be fetched to check this token; try again shortly" });
    expect(unknown!.retryAfterMs).toBeGreaterThanOrEqual(1_000);
    await expect(later.verify(await tokenOf(rs1))).resolves.toMatchObject({ userId: 'alice' });
  });

  it('uses the last fetched set past its cache age while the JWKS fails, and serves a new key once it is back', async () => {
    const verifier = verifierFor({ cacheMaxAgeMs: 1, cooldownMs: 1_000 });
    await verifier.verify(await tokenOf(rs1));
    idp.failing = true;
    const before = idp.fetches;
    await expect(verifier.verify(await tokenOf(rs1))).resolves.toMatchObject({ userId: 'alice' });
    expect(idp.fetches).toBe(before + 1);
    // Within the cooldown of a failed fetch no token waits on the JWKS: a kid the stale set lacks is 503 at once.
    expect((await refusal(verifier, await tokenOf(rs2))).code).toBe('BACKEND_UNAVAILABLE');
    expect(idp.fetches).toBe(before + 1);
    idp.failing = false;
    idp.keys = [rs2];
    await waitFor(async () => verifier.verify(await tokenOf(rs2)).then(() => true, () => false), 5_000, 'rs-2 accepted once the JWKS is back');
    // The set no longer holds rs-1: once fetched again, its tokens are refused.
    expect((await refusal(verifier, await tokenOf(rs1))).message).toBe("The token's kid names no key known here");
  });

  it('answers 503 when the JWKS was never reachable, and refuses a token without kid when the set holds several keys of its algorithm', async () => {
    const verifier = verifierFor();
    await idp.stop();
    expect(await refusal(verifier, await tokenOf(rs1))).toMatchObject({ code: 'BACKEND_UNAVAILABLE', httpStatus: 503 });
    const again = new JwksServer();
    again.keys = [rs1, rs2];
    await again.start();
    try {
      const fresh = new TokenVerifier([], { jwks: new RemoteKeySet({ url: new URL(again.url) }) });
      const noKid = await new SignJWT({ tenant_id: 'acme' }).setProtectedHeader({ alg: 'RS256' }).setSubject('alice').setExpirationTime(now() + 60).sign(rs1.privateKey);
      expect((await refusal(fresh, noKid)).message).toBe('The token has no kid and several keys could verify it: it must name its key');
    } finally {
      await again.stop();
    }
  });
});

describe('a server whose identity provider is unreachable', () => {
  it('answers HTTP calls and realtime upgrades 503 with Retry-After, not 401, and counts it by reason', async () => {
    const idp = new JwksServer();
    idp.keys = [rs1];
    await idp.start();
    const dev = importVerificationKeys([{ kid: 'dev', alg: 'HS256', secret: 'dev-secret-dev-secret-dev-secret-000001' }]);
    const verifier = new TokenVerifier(dev, { jwks: new RemoteKeySet({ url: new URL(idp.url), cooldownMs: 200 }) });
    const h = await startHarness({ verifier });
    try {
      const ok = await h.call('lookup_order', { order_id: 'A-1002' }, { token: await tokenOf(rs1, { scope: 'orders:read' }) });
      expect(ok.status).toBe(200);
      await idp.stop();
      expect((await h.call('lookup_order', { order_id: 'A-1002' }, { token: await tokenOf(rs1) })).status).toBe(200);
      let answer = await h.call('lookup_order', { order_id: 'A-1002' }, { token: await tokenOf(rs2) });
      await waitFor(async () => (answer = await h.call('lookup_order', { order_id: 'A-1002' }, { token: await tokenOf(rs2) })).status === 503, 5_000, '503 past the cooldown');
      expect(answer.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(answer.body).toMatchObject({ status: 'error', error_code: 'BACKEND_UNAVAILABLE', retryable: true });
      await expect(connectRealtime(h.url, { token: await tokenOf(rs2) })).rejects.toMatchObject({ status: 503 });
      // Development tokens signed with a configured key do not depend on the provider.
      expect((await h.call('lookup_order', { order_id: 'A-1002' })).status).toBe(200);
      const metrics = await (await fetch(`${h.url}/metrics`)).text();
      expect(Number(/holdline_auth_failures_total\{reason="jwks_unavailable"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(2);
    } finally {
      await h.stop();
      await idp.stop();
    }
  });

  it('refuses POST /dev/token with FORBIDDEN, not a 500, when every key is the identity provider\'s', async () => {
    const verifier = new TokenVerifier(importVerificationKeys([]), { jwks: new RemoteKeySet({ url: new URL('http://127.0.0.1:9/jwks.json'), cooldownMs: 200 }) });
    expect(verifier.canIssue).toBe(false);
    const request = { body: { tenant: 'acme', user: 'alice', scopes: [] } } as unknown as Parameters<typeof issueDevToken>[0];
    await expect(issueDevToken(request, verifier)).rejects.toMatchObject({ code: 'FORBIDDEN', message: expect.stringMatching(/identity provider/) });
  });
});
