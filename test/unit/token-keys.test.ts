import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, decodeProtectedHeader, exportJWK, exportPKCS8, exportSPKI, generateKeyPair, type KeyLike } from 'jose';
import { TokenVerifier, type AuthFailureReason } from '../../src/gateway/auth';
import { GatewayRejection } from '../../src/gateway/rejection';
import { importVerificationKeys } from '../../src/gateway/verification-keys';
import { ConfigError, loadConfig } from '../../src/runtime/config';
import { createTokenVerifier, reloadVerificationKeys } from '../../src/runtime/jwt-secret';

const SECRET_A = 'secret-a-secret-a-secret-a-secret-a-0001';
const SECRET_B = 'secret-b-secret-b-secret-b-secret-b-0002';
const now = () => Math.floor(Date.now() / 1000);
const claims = () => ({ tenant_id: 'acme', scope: 'orders:read', sub: 'alice', iat: now(), exp: now() + 600 });
const bytes = (secret: string) => new TextEncoder().encode(secret);

function sign(key: KeyLike | Uint8Array, header: Record<string, unknown>, payload: Record<string, unknown> = claims()): Promise<string> {
  return new SignJWT(payload).setProtectedHeader(header as { alg: string }).sign(key);
}

/** The verifier's refusal: its code, message and metric reason. */
async function refusal(verifier: TokenVerifier, token: string): Promise<{ code: string; message: string; reason: AuthFailureReason; retryAfterMs?: number }> {
  const reasons: AuthFailureReason[] = [];
  verifier.onFailure((reason) => reasons.push(reason));
  try {
    await verifier.verify(token);
  } catch (error) {
    if (!(error instanceof GatewayRejection)) throw error;
    return { code: error.code, message: error.message, reason: reasons.at(-1)!, ...(error.retryAfterMs ? { retryAfterMs: error.retryAfterMs } : {}) };
  }
  throw new Error('the token was accepted');
}

let rsa: { publicKey: KeyLike; privateKey: KeyLike };
let ec: { publicKey: KeyLike; privateKey: KeyLike };
let rsaPem: string;
let ecJwk: Record<string, unknown>;
beforeAll(async () => {
  rsa = await generateKeyPair('RS256');
  ec = await generateKeyPair('ES256');
  rsaPem = await exportSPKI(rsa.publicKey);
  ecJwk = { ...(await exportJWK(ec.publicKey)) };
});

const keyList = () =>
  importVerificationKeys([
    { kid: 'a', alg: 'HS256', secret: SECRET_A },
    { kid: 'b', alg: 'HS256', secret: SECRET_B },
    { kid: 'rs', alg: 'RS256', publicKey: rsaPem },
    { kid: 'es', alg: 'ES256', publicKey: ecJwk },
  ]);

describe('TokenVerifier with several keys', () => {
  it("picks each token's key by its kid: HS256, RS256 and ES256", async () => {
    const verifier = new TokenVerifier(keyList());
    await expect(verifier.verify(await sign(bytes(SECRET_A), { alg: 'HS256', kid: 'a' }))).resolves.toMatchObject({ userId: 'alice', tenantId: 'acme' });
    await expect(verifier.verify(await sign(bytes(SECRET_B), { alg: 'HS256', kid: 'b' }))).resolves.toMatchObject({ userId: 'alice' });
    await expect(verifier.verify(await sign(rsa.privateKey, { alg: 'RS256', kid: 'rs' }))).resolves.toMatchObject({ userId: 'alice' });
    await expect(verifier.verify(await sign(ec.privateKey, { alg: 'ES256', kid: 'es' }))).resolves.toMatchObject({ userId: 'alice' });
  });

  it('refuses a kid no key has, and a token signed by another key than its kid names', async () => {
    const verifier = new TokenVerifier(keyList());
    expect(await refusal(verifier, await sign(bytes(SECRET_A), { alg: 'HS256', kid: 'gone' }))).toMatchObject({
      code: 'UNAUTHENTICATED',
      message: "The token's kid names no key known here",
      reason: 'unknown_kid',
    });
    expect(await refusal(verifier, await sign(bytes(SECRET_A), { alg: 'HS256', kid: 'b' }))).toMatchObject({ message: "The token's signature is invalid", reason: 'signature' });
  });

  it('refuses a token without kid when several keys could verify it, and accepts it when exactly one can', async () => {
    const several = new TokenVerifier(keyList());
    expect(await refusal(several, await sign(bytes(SECRET_A), { alg: 'HS256' }))).toMatchObject({
      message: 'The token has no kid and several keys could verify it: it must name its key',
      reason: 'ambiguous_kid',
    });
    // One RS256 key among them: the only one that could verify an RS256 token.
    await expect(several.verify(await sign(rsa.privateKey, { alg: 'RS256' }))).resolves.toMatchObject({ userId: 'alice' });
    // A key without kid is the one for tokens without kid, however many others there are.
    const withLegacy = new TokenVerifier(importVerificationKeys([{ alg: 'HS256', secret: SECRET_A }, { kid: 'b', alg: 'HS256', secret: SECRET_B }]));
    await expect(withLegacy.verify(await sign(bytes(SECRET_A), { alg: 'HS256' }))).resolves.toMatchObject({ userId: 'alice' });
    expect((await refusal(withLegacy, await sign(bytes(SECRET_B), { alg: 'HS256' }))).reason).toBe('signature');
    // A token that names a kid is never checked against the key without one.
    expect((await refusal(withLegacy, await sign(bytes(SECRET_A), { alg: 'HS256', kid: 'legacy' }))).reason).toBe('unknown_kid');
  });

  it('refuses alg none, algorithms no key admits, and a key used with another algorithm than its own', async () => {
    const verifier = new TokenVerifier(keyList());
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    expect(await refusal(verifier, `${encode({ alg: 'none', kid: 'a' })}.${encode(claims())}.`)).toMatchObject({
      message: 'The token must be signed with HS256 or RS256 or ES256',
      reason: 'algorithm',
    });
    expect((await refusal(verifier, await sign(bytes(SECRET_A), { alg: 'HS512', kid: 'a' }))).reason).toBe('algorithm');
    // The classic confusion: the RSA public key's PEM used as an HMAC secret, under the RSA key's kid.
    const confused = await sign(bytes(rsaPem), { alg: 'HS256', kid: 'rs' });
    expect(await refusal(verifier, confused)).toMatchObject({ message: "The token's alg does not match its key's (RS256)", reason: 'algorithm' });
    // The same confusion without kid: the HS256 keys are tried, never the RSA key.
    const single = new TokenVerifier(importVerificationKeys([{ kid: 'rs', alg: 'RS256', publicKey: rsaPem }]));
    expect(await refusal(single, await sign(bytes(rsaPem), { alg: 'HS256' }))).toMatchObject({ message: 'The token must be signed with RS256', reason: 'algorithm' });
    expect((await refusal(verifier, await sign(ec.privateKey, { alg: 'ES256', kid: 'rs' }))).reason).toBe('algorithm');
  });

  it('requires iss and aud when configured, naming which is wrong', async () => {
    const verifier = new TokenVerifier(keyList(), { issuer: ['https://idp.example'], audience: 'holdline' });
    const good = { ...claims(), iss: 'https://idp.example', aud: ['other', 'holdline'] };
    await expect(verifier.verify(await sign(rsa.privateKey, { alg: 'RS256', kid: 'rs' }, good))).resolves.toMatchObject({ userId: 'alice' });
    const cases: [Record<string, unknown>, string, AuthFailureReason][] = [
      [{ ...good, iss: 'https://evil.example' }, "The token's issuer is not accepted here", 'issuer'],
      [{ ...good, iss: undefined }, 'The token has no issuer (iss), which is required here', 'issuer'],
      [{ ...good, aud: 'someone-else' }, "The token's audience is not this service", 'audience'],
      [{ ...good, aud: undefined }, 'The token has no audience (aud), which is required here', 'audience'],
    ];
    for (const [payload, message, reason] of cases) {
      expect(await refusal(verifier, await sign(rsa.privateKey, { alg: 'RS256', kid: 'rs' }, JSON.parse(JSON.stringify(payload))))).toMatchObject({ message, reason });
    }
  });

  it('refuses expired tokens and tokens that live longer than allowed', async () => {
    const verifier = new TokenVerifier(keyList(), { maxLifetimeSeconds: 3600 });
    expect(await refusal(verifier, await sign(ec.privateKey, { alg: 'ES256', kid: 'es' }, { ...claims(), iat: now() - 120, exp: now() - 60 }))).toMatchObject({
      message: 'The token has expired',
      reason: 'expired',
    });
    expect(await refusal(verifier, await sign(ec.privateKey, { alg: 'ES256', kid: 'es' }, { ...claims(), exp: now() + 7200 }))).toMatchObject({
      message: 'The token lives longer than the 3600 s a token may',
      reason: 'lifetime',
    });
    expect((await refusal(verifier, 'not.a-token')).reason).toBe('malformed');
    expect(await refusal(verifier, '')).toMatchObject({ reason: 'missing_token', message: 'A bearer token is required' });
  });

  it('signs development tokens with the signing key, its kid and the configured iss and aud', async () => {
    const verifier = new TokenVerifier(keyList(), { signingKid: 'b', issuer: 'https://idp.example', audience: 'holdline' });
    const token = await verifier.issue({ tenantId: 'acme', userId: 'bob', scopes: ['orders:read'] });
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'HS256', kid: 'b' });
    await expect(verifier.verify(token)).resolves.toMatchObject({ userId: 'bob' });
    verifier.replaceKeys(keyList(), 'a');
    expect(decodeProtectedHeader(await verifier.issue({ tenantId: 'acme', userId: 'bob', scopes: [] })).kid).toBe('a');
    // A key file says which key signs by marking it, so a reload can move signing to a new key.
    const marked = new TokenVerifier(importVerificationKeys([{ kid: 'a', alg: 'HS256', secret: SECRET_A }, { kid: 'b', alg: 'HS256', secret: SECRET_B, signing: true }]));
    expect(decodeProtectedHeader(await marked.issue({ tenantId: 'acme', userId: 'bob', scopes: [] })).kid).toBe('b');
    expect(() => importVerificationKeys([{ kid: 'a', alg: 'HS256', secret: SECRET_A, signing: true }, { kid: 'b', alg: 'HS256', secret: SECRET_B, signing: true }])).toThrow(/several keys are marked signing/);
    expect(() => importVerificationKeys([{ kid: 'rs', alg: 'RS256', publicKey: rsaPem, signing: true }])).toThrow(/Unrecognized key/);
    // Several HS256 keys and no signing kid: there is no telling which to sign with.
    await expect(new TokenVerifier(keyList()).issue({ tenantId: 'acme', userId: 'bob', scopes: [] })).rejects.toThrow(/HOLDLINE_JWT_SIGNING_KID/);
  });

  it('replaces its keys at once, and keeps them when the new list is unusable', async () => {
    const verifier = new TokenVerifier(importVerificationKeys([{ kid: 'a', alg: 'HS256', secret: SECRET_A }]));
    const aToken = await sign(bytes(SECRET_A), { alg: 'HS256', kid: 'a' });
    verifier.replaceKeys(importVerificationKeys([{ kid: 'b', alg: 'HS256', secret: SECRET_B }]));
    expect((await refusal(verifier, aToken)).reason).toBe('unknown_kid');
    expect(() => verifier.replaceKeys([])).toThrow(/at least one key/);
    expect(() => verifier.replaceKeys(importVerificationKeys([{ kid: 'a', alg: 'HS256', secret: SECRET_A }]), 'missing')).toThrow(/signing key "missing"/);
    expect(verifier.kids).toEqual(['b']);
  });
});

describe('importVerificationKeys', () => {
  it.each([
    ['a duplicate kid', () => [{ kid: 'a', alg: 'HS256', secret: SECRET_A }, { kid: 'a', alg: 'HS256', secret: SECRET_B }], /appears twice/],
    ['two keys without kid', () => [{ alg: 'HS256', secret: SECRET_A }, { alg: 'HS256', secret: SECRET_B }], /at most one may/],
    ['a short secret', () => [{ kid: 'a', alg: 'HS256', secret: 'short' }], /at least 32 characters/],
    ['alg none', () => [{ kid: 'a', alg: 'none', secret: SECRET_A }], /key 0\.alg/],
    ['an RS256 key given to ES256', () => [{ kid: 'x', alg: 'ES256', publicKey: rsaPem }], /not a P-256 EC key/],
    ['an EC key given to RS256', () => [{ kid: 'x', alg: 'RS256', publicKey: ecJwk }], /declared RS256 but is a ec key/],
    ['a private JWK', () => [{ kid: 'x', alg: 'ES256', publicKey: { ...ecJwk, d: 'c2VjcmV0' } }], /private JWK/],
    ['a secret and a public key in one entry', () => [{ kid: 'x', alg: 'RS256', publicKey: rsaPem, secret: SECRET_A }], /Unrecognized key/],
  ])('refuses %s', (_name, list, message) => {
    expect(() => importVerificationKeys(list())).toThrow(message);
  });

  it('refuses a private PEM and an RSA key under 2048 bits', async () => {
    expect(() => importVerificationKeys([{ kid: 'x', alg: 'RS256', publicKey: 'x' }])).toThrow(/not a public key/);
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const privatePem = await exportPKCS8(privateKey);
    expect(() => importVerificationKeys([{ kid: 'x', alg: 'RS256', publicKey: privatePem }])).toThrow(/is a private key/);
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(() => importVerificationKeys([{ kid: 'x', alg: 'RS256', publicKey: small }])).toThrow(/at least 2048 bits/);
  });
});

describe('the verifier the configuration describes', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'holdline-keys-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads HOLDLINE_JWT_KEYS inline or from a file, with HOLDLINE_JWT_SECRET as the key without kid', async () => {
    const file = join(dir, 'keys.json');
    writeFileSync(file, JSON.stringify([{ kid: 'a', alg: 'HS256', secret: SECRET_A }]));
    const config = loadConfig({ HOLDLINE_DATA_DIR: dir, HOLDLINE_JWT_KEYS: file, HOLDLINE_JWT_SECRET: SECRET_B, HOLDLINE_JWT_SIGNING_KID: 'a' });
    const { verifier } = createTokenVerifier(config);
    expect(verifier.kids).toEqual([undefined, 'a']);
    await expect(verifier.verify(await sign(bytes(SECRET_B), { alg: 'HS256' }))).resolves.toMatchObject({ userId: 'alice' });
    expect(decodeProtectedHeader(await verifier.issue({ tenantId: 'acme', userId: 'a', scopes: [] })).kid).toBe('a');
    const inline = createTokenVerifier(loadConfig({ HOLDLINE_DATA_DIR: dir, HOLDLINE_JWT_KEYS: JSON.stringify([{ kid: 'rs', alg: 'RS256', publicKey: rsaPem }]) }));
    expect(inline.verifier.kids).toEqual(['rs']);
    expect(inline.generated).toBeUndefined();
  });

  it('reloads a changed key file, and keeps the keys in use when the new file is bad', async () => {
    const file = join(dir, 'keys.json');
    writeFileSync(file, JSON.stringify([{ kid: 'a', alg: 'HS256', secret: SECRET_A }]));
    const config = loadConfig({ HOLDLINE_DATA_DIR: dir, HOLDLINE_JWT_KEYS: file });
    const { verifier } = createTokenVerifier(config);
    writeFileSync(file, JSON.stringify([{ kid: 'a', alg: 'HS256', secret: SECRET_A }, { kid: 'b', alg: 'HS256', secret: SECRET_B }]));
    expect(reloadVerificationKeys(verifier, config).kids).toEqual(['a', 'b']);
    writeFileSync(file, '[{"kid": "a", "alg": "HS256"');
    expect(() => reloadVerificationKeys(verifier, config)).toThrow(/HOLDLINE_JWT_KEYS: the key file does not hold a JSON list/);
    expect(verifier.kids).toEqual(['a', 'b']);
  });

  it('stops at start-up naming the variable', () => {
    expect(() => createTokenVerifier(loadConfig({ HOLDLINE_DATA_DIR: dir, HOLDLINE_JWT_KEYS: join(dir, 'missing.json') }))).toThrow(/HOLDLINE_JWT_KEYS=.*cannot read the key file \(ENOENT\)/);
    expect(() => createTokenVerifier(loadConfig({ HOLDLINE_DATA_DIR: dir, HOLDLINE_JWT_KEYS: '[{"kid":"a","alg":"HS256","secret":"x"}]' }))).toThrow(ConfigError);
    expect(() => createTokenVerifier(loadConfig({ HOLDLINE_DATA_DIR: dir, HOLDLINE_JWT_SECRET: SECRET_A, HOLDLINE_JWT_SIGNING_KID: 'nope' }))).toThrow(/HOLDLINE_JWT_SIGNING_KID/);
    expect(() => loadConfig({ HOLDLINE_JWKS_URL: 'ftp://idp.example/jwks' })).toThrow(/HOLDLINE_JWKS_URL/);
    expect(() => loadConfig({ NODE_ENV: 'production', HOLDLINE_JWKS_URL: 'https://idp.example/.well-known/jwks.json' })).not.toThrow();
  });
});
