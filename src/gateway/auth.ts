import { SignJWT, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWSHeaderParameters, type KeyLike } from 'jose';
import { z } from 'zod';
import { GatewayRejection } from './rejection';
import { RemoteKeyError, type RemoteKeySet } from './remote-keys';
import { PUBLIC_KEY_ALGORITHMS, TOKEN_ALGORITHMS, type TokenAlgorithm, type VerificationKey } from './verification-keys';

/** Who is calling, from a verified token only: never from a tool's arguments. */
export interface Principal {
  tenantId: string;
  userId: string;
  scopes: ReadonlySet<string>;
}

/** Tenant ids end up in workflow ids as `<tenant>/<key>`, so they may not contain `/`. */
export const TenantId = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'tenant_id must be lowercase letters, digits, _ or -');

const Claims = z.object({
  sub: z.string().min(1).max(200),
  tenant_id: TenantId,
  scope: z.string().max(2_000).default(''),
  exp: z.number(),
  iat: z.number().optional(),
});

/** The longest a token may live, from its `iat` (or from now when it has none) to its `exp`. */
export const DEFAULT_MAX_TOKEN_LIFETIME_SECONDS = 24 * 3600;

/** Why a token was refused: the label of `holdline_auth_failures_total`. */
export const AUTH_FAILURE_REASONS = [
  'missing_token',
  'malformed',
  'algorithm',
  'unknown_kid',
  'ambiguous_kid',
  'signature',
  'expired',
  'not_yet_valid',
  'issuer',
  'audience',
  'lifetime',
  'claims',
  'jwks_unavailable',
] as const;
export type AuthFailureReason = (typeof AUTH_FAILURE_REASONS)[number];

export interface TokenVerifierOptions {
  /**
   * A token whose `exp − iat`, or whose `exp − now`, exceeds this is refused:
   * a leaked token must not stay good for years. Default 24 h.
   */
  maxLifetimeSeconds?: number;
  /** When set, a token's `iss` must be one of these. Default: not checked. */
  issuer?: string | readonly string[];
  /** When set, a token's `aud` must name one of these. Default: not checked. */
  audience?: string | readonly string[];
  /** An identity provider's key set, for RS256/ES256 tokens whose kid no configured key has. Default: none. */
  jwks?: RemoteKeySet;
  /** Which HS256 key `issue()` signs with. Default: the key marked `signing`, else the key without kid, else the only HS256 key. */
  signingKid?: string;
}

/**
 * Verifies bearer tokens against several keys at once, so keys can rotate
 * without logging anyone out. A token's `kid` picks its key; a token without
 * one is verified by the key without kid of its algorithm, else only when
 * exactly one key could verify it. Each key admits its own algorithm only.
 * `replaceKeys` swaps the list at once: a verification under way finishes
 * with the key it picked.
 */
export class TokenVerifier {
  private keys: readonly VerificationKey[] = [];
  private signingKey: VerificationKey | undefined;
  private readonly listeners: ((reason: AuthFailureReason) => void)[] = [];
  readonly maxLifetimeSeconds: number;
  private readonly issuers: string[] | undefined;
  private readonly audiences: string[] | undefined;
  private readonly jwks: RemoteKeySet | undefined;

  /** `keys`: one HS256 secret (as before), or a list of keys. */
  constructor(keys: string | readonly VerificationKey[], private readonly options: TokenVerifierOptions = {}) {
    this.maxLifetimeSeconds = options.maxLifetimeSeconds ?? DEFAULT_MAX_TOKEN_LIFETIME_SECONDS;
    if (!Number.isInteger(this.maxLifetimeSeconds) || this.maxLifetimeSeconds <= 0) {
      throw new RangeError(`maxLifetimeSeconds must be a positive integer, got ${options.maxLifetimeSeconds}`);
    }
    this.issuers = listOf(options.issuer);
    this.audiences = listOf(options.audience);
    this.jwks = options.jwks;
    this.replaceKeys(typeof keys === 'string' ? [{ kid: undefined, alg: 'HS256', key: new TextEncoder().encode(keys) }] : keys, options.signingKid);
  }

  /**
   * Verifies with these keys from now on, and signs with `signingKid` (default
   * as in the constructor). Throws, keeping the keys it had, when the list
   * would leave no way to verify a token or names a signing key it lacks.
   */
  replaceKeys(keys: readonly VerificationKey[], signingKid = this.options.signingKid): void {
    if (keys.length === 0 && !this.jwks) throw new RangeError('A verifier needs at least one key or a JWKS');
    const kids = keys.map((key) => key.kid);
    if (new Set(kids).size !== kids.length) throw new RangeError('Each kid may name one key, and one key at most may have none');
    let signing: VerificationKey | undefined;
    if (signingKid !== undefined) {
      signing = keys.find((key) => key.kid === signingKid);
      if (!signing || signing.alg !== 'HS256') throw new RangeError(`The signing key "${signingKid}" must be one of the HS256 keys`);
    } else {
      const secrets = keys.filter((key) => key.alg === 'HS256');
      signing = secrets.find((key) => key.signing) ?? secrets.find((key) => key.kid === undefined) ?? (secrets.length === 1 ? secrets[0] : undefined);
    }
    this.keys = [...keys];
    this.signingKey = signing;
  }

  /** The kids of the keys verifying now (`undefined` for the key without kid). */
  get kids(): (string | undefined)[] {
    return this.keys.map((key) => key.kid);
  }

  /** Called with the reason of every refusal, for the auth-failure metric. */
  onFailure(listener: (reason: AuthFailureReason) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Verifies a token and returns its principal. A refusal is UNAUTHENTICATED
   * (401) with a message naming what is wrong with the token, never what a
   * valid one would contain; a token whose key only the identity provider's
   * JWKS could vouch for, while it cannot be fetched, is BACKEND_UNAVAILABLE
   * (503, Retry-After): the server's problem, not the caller's.
   */
  async verify(token: string | undefined): Promise<Principal> {
    try {
      return await this.verifyOrFail(token);
    } catch (error) {
      const failure = error instanceof AuthFailure ? error : new AuthFailure('malformed', 'The token is malformed');
      for (const listener of this.listeners) listener(failure.reason);
      throw failure.rejection();
    }
  }

  private async verifyOrFail(token: string | undefined): Promise<Principal> {
    if (!token) throw new AuthFailure('missing_token', 'A bearer token is required');
    let header: JWSHeaderParameters;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw new AuthFailure('malformed', 'The token is malformed');
    }
    const alg = header.alg as TokenAlgorithm;
    const admitted = this.algorithms();
    if (!admitted.includes(alg)) throw new AuthFailure('algorithm', `The token must be signed with ${admitted.join(' or ')}`);
    const key = await this.keyFor(header, alg);
    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(token, key, {
        algorithms: [alg],
        requiredClaims: ['exp', 'sub', ...(this.issuers ? ['iss'] : []), ...(this.audiences ? ['aud'] : [])],
        ...(this.issuers ? { issuer: this.issuers } : {}),
        ...(this.audiences ? { audience: this.audiences } : {}),
      }));
    } catch (error) {
      throw describeTokenError(error);
    }
    const claims = Claims.safeParse(payload);
    if (!claims.success) {
      const names = [...new Set(claims.error.issues.map((issue) => String(issue.path[0] ?? 'payload')))];
      throw new AuthFailure('claims', `The token's claims are invalid: ${names.join(', ')}`);
    }
    const { exp, iat } = claims.data;
    const now = Math.floor(Date.now() / 1000);
    if (exp - now > this.maxLifetimeSeconds || (iat !== undefined && exp - iat > this.maxLifetimeSeconds)) {
      throw new AuthFailure('lifetime', `The token lives longer than the ${this.maxLifetimeSeconds} s a token may`);
    }
    return {
      tenantId: claims.data.tenant_id,
      userId: claims.data.sub,
      scopes: new Set(claims.data.scope.split(' ').filter(Boolean)),
    };
  }

  /** The algorithms some key admits, in a fixed order. */
  private algorithms(): TokenAlgorithm[] {
    const present = new Set<TokenAlgorithm>(this.keys.map((key) => key.alg));
    if (this.jwks) for (const alg of PUBLIC_KEY_ALGORITHMS) present.add(alg);
    return TOKEN_ALGORITHMS.filter((alg) => present.has(alg));
  }

  private async keyFor(header: JWSHeaderParameters, alg: TokenAlgorithm): Promise<Uint8Array | KeyLike> {
    const keys = this.keys;
    const remote = this.jwks && PUBLIC_KEY_ALGORITHMS.includes(alg) ? this.jwks : undefined;
    if (typeof header.kid === 'string') {
      const local = keys.find((key) => key.kid === header.kid);
      if (local) {
        if (local.alg !== alg) throw new AuthFailure('algorithm', `The token's alg does not match its key's (${local.alg})`);
        return local.key;
      }
      if (remote) return this.remoteKey(remote, header);
      throw new AuthFailure('unknown_kid', "The token's kid names no key known here");
    }
    const withoutKid = keys.find((key) => key.kid === undefined && key.alg === alg);
    if (withoutKid) return withoutKid.key;
    const candidates = keys.filter((key) => key.alg === alg);
    if (candidates.length === 1 && !remote) return candidates[0]!.key;
    if (candidates.length === 0 && remote) return this.remoteKey(remote, header);
    throw ambiguous();
  }

  private async remoteKey(remote: RemoteKeySet, header: JWSHeaderParameters): Promise<KeyLike> {
    try {
      return await remote.keyFor(header);
    } catch (error) {
      if (!(error instanceof RemoteKeyError)) throw error;
      switch (error.miss.kind) {
        case 'unknown_kid':
          throw new AuthFailure('unknown_kid', header.kid === undefined ? 'No key of the identity provider matches the token' : "The token's kid names no key known here");
        case 'ambiguous':
          throw ambiguous();
        case 'unusable_key':
          throw new AuthFailure('unknown_kid', "The identity provider's key for this token cannot verify it");
        case 'unavailable':
          throw new AuthFailure('jwks_unavailable', "The identity provider's keys cannot be fetched to check this token; try again shortly", error.miss.retryAfterMs);
      }
    }
  }

  /** Whether `issue()` has an HS256 key to sign with (not when every key is a public key or the identity provider's). */
  get canIssue(): boolean {
    return this.signingKey !== undefined;
  }

  async issue(claims: { tenantId: string; userId: string; scopes: readonly string[]; ttlSeconds?: number }): Promise<string> {
    TenantId.parse(claims.tenantId);
    const signing = this.signingKey;
    if (!signing) throw new RangeError('No HS256 key to sign development tokens with: set HOLDLINE_JWT_SIGNING_KID');
    const ttlSeconds = claims.ttlSeconds ?? Math.min(12 * 3600, this.maxLifetimeSeconds);
    if (!(ttlSeconds > 0 && ttlSeconds <= this.maxLifetimeSeconds)) {
      throw new RangeError(`A token's lifetime must be 1–${this.maxLifetimeSeconds} s, got ${claims.ttlSeconds}`);
    }
    const jwt = new SignJWT({ tenant_id: claims.tenantId, scope: claims.scopes.join(' ') })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT', ...(signing.kid !== undefined ? { kid: signing.kid } : {}) })
      .setSubject(claims.userId)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds);
    if (this.issuers) jwt.setIssuer(this.issuers[0]!);
    if (this.audiences) jwt.setAudience(this.audiences[0]!);
    return jwt.sign(signing.key);
  }
}

/** A refusal with its metric reason; becomes a GatewayRejection at the verifier's edge. */
class AuthFailure extends Error {
  constructor(
    readonly reason: AuthFailureReason,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = new.target.name;
  }

  rejection(): GatewayRejection {
    return this.reason === 'jwks_unavailable'
      ? new GatewayRejection('BACKEND_UNAVAILABLE', this.message, { retryAfterMs: this.retryAfterMs ?? 1_000 })
      : new GatewayRejection('UNAUTHENTICATED', this.message);
  }
}

function ambiguous(): AuthFailure {
  return new AuthFailure('ambiguous_kid', 'The token has no kid and several keys could verify it: it must name its key');
}

function listOf(value: string | readonly string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const list = (typeof value === 'string' ? [value] : [...value]).filter(Boolean);
  return list.length ? list : undefined;
}

function describeTokenError(error: unknown): AuthFailure {
  if (error instanceof joseErrors.JWTExpired) return new AuthFailure('expired', 'The token has expired');
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return new AuthFailure('signature', "The token's signature is invalid");
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf' && error.reason === 'check_failed') return new AuthFailure('not_yet_valid', 'The token is not valid yet');
    if (error.claim === 'iss') return new AuthFailure('issuer', error.reason === 'missing' ? 'The token has no issuer (iss), which is required here' : "The token's issuer is not accepted here");
    if (error.claim === 'aud') return new AuthFailure('audience', error.reason === 'missing' ? 'The token has no audience (aud), which is required here' : "The token's audience is not this service");
    if (error.reason === 'missing') return new AuthFailure('claims', `The token is missing a required claim (${error.claim})`);
    return new AuthFailure('claims', `The token's ${error.claim} claim is invalid`);
  }
  return new AuthFailure('malformed', 'The token is malformed');
}

/** `Authorization: Bearer <token>` → token, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}
