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
});

export class TokenVerifier {
  private readonly key: Uint8Array;
  constructor(secret: string) {
    this.key = new TextEncoder().encode(secret);
  }

  /** Verifies an HS256 token (any other algorithm, `none` included, is refused) and returns its principal. */
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
      throw new GatewayRejection('UNAUTHENTICATED', `The token's claims are invalid: ${claims.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    return {
      tenantId: claims.data.tenant_id,
      userId: claims.data.sub,
      scopes: new Set(claims.data.scope.split(' ').filter(Boolean)),
    };
  }

  async issue(claims: { tenantId: string; userId: string; scopes: readonly string[]; ttlSeconds?: number }): Promise<string> {
    TenantId.parse(claims.tenantId);
    return new SignJWT({ tenant_id: claims.tenantId, scope: claims.scopes.join(' ') })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(claims.userId)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + (claims.ttlSeconds ?? 12 * 3600))
      .sign(this.key);
  }
}

function describeTokenError(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'The token has expired';
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'The token must be signed with HS256';
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return "The token's signature is invalid";
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `The token is missing a required claim (${error.claim})`;
  return 'The token is malformed';
}

/** `Authorization: Bearer <token>` → token, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}
