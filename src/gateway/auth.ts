import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import { z } from 'zod';
import { GatewayRejection } from './rejection';

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

export interface TokenVerifierOptions {
  /**
   * A token whose `exp − iat`, or whose `exp − now`, exceeds this is refused:
   * a leaked token must not stay good for years. Default 24 h.
   */
  maxLifetimeSeconds?: number;
}

export class TokenVerifier {
  private readonly key: Uint8Array;
  readonly maxLifetimeSeconds: number;
  constructor(secret: string, options: TokenVerifierOptions = {}) {
    this.key = new TextEncoder().encode(secret);
    this.maxLifetimeSeconds = options.maxLifetimeSeconds ?? DEFAULT_MAX_TOKEN_LIFETIME_SECONDS;
    if (!Number.isInteger(this.maxLifetimeSeconds) || this.maxLifetimeSeconds <= 0) {
      throw new RangeError(`maxLifetimeSeconds must be a positive integer, got ${options.maxLifetimeSeconds}`);
    }
  }

  /**
   * Verifies an HS256 token (any other algorithm, `none` included, is refused)
   * and returns its principal. Messages name what is wrong with the token, never
   * what a valid one would contain.
   */
  async verify(token: string | undefined): Promise<Principal> {
    if (!token) throw new GatewayRejection('UNAUTHENTICATED', 'A bearer token is required');
    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(token, this.key, { algorithms: ['HS256'], requiredClaims: ['exp', 'sub'] }));
    } catch (error) {
      throw new GatewayRejection('UNAUTHENTICATED', describeTokenError(error));
    }
    const claims = Claims.safeParse(payload);
    if (!claims.success) {
      const names = [...new Set(claims.error.issues.map((issue) => String(issue.path[0] ?? 'payload')))];
      throw new GatewayRejection('UNAUTHENTICATED', `The token's claims are invalid: ${names.join(', ')}`);
    }
    const { exp, iat } = claims.data;
    const now = Math.floor(Date.now() / 1000);
    if (exp - now > this.maxLifetimeSeconds || (iat !== undefined && exp - iat > this.maxLifetimeSeconds)) {
      throw new GatewayRejection('UNAUTHENTICATED', `The token lives longer than the ${this.maxLifetimeSeconds} s a token may`);
    }
    return {
      tenantId: claims.data.tenant_id,
      userId: claims.data.sub,
      scopes: new Set(claims.data.scope.split(' ').filter(Boolean)),
    };
  }

  async issue(claims: { tenantId: string; userId: string; scopes: readonly string[]; ttlSeconds?: number }): Promise<string> {
    TenantId.parse(claims.tenantId);
    const ttlSeconds = claims.ttlSeconds ?? Math.min(12 * 3600, this.maxLifetimeSeconds);
    if (!(ttlSeconds > 0 && ttlSeconds <= this.maxLifetimeSeconds)) {
      throw new RangeError(`A token's lifetime must be 1–${this.maxLifetimeSeconds} s, got ${claims.ttlSeconds}`);
    }
    return new SignJWT({ tenant_id: claims.tenantId, scope: claims.scopes.join(' ') })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(claims.userId)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
      .sign(this.key);
  }
}

function describeTokenError(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'The token has expired';
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'The token must be signed with HS256';
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return "The token's signature is invalid";
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf' && error.reason === 'check_failed') return 'The token is not valid yet';
    if (error.reason === 'missing') return `The token is missing a required claim (${error.claim})`;
    return `The token's ${error.claim} claim is invalid`;
  }
  return 'The token is malformed';
}

/** `Authorization: Bearer <token>` → token, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}
