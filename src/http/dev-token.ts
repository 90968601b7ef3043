import type { Request } from 'express';
import { z } from 'zod';
import { GatewayRejection, TenantId, type TokenVerifier } from '../gateway';

const DevTokenBody = z.strictObject({
  tenant: TenantId,
  user: z.string().min(1).max(200),
  /** Scopes are space-separated in the token: one with a space would grant two. */
  scopes: z.array(z.string().regex(/^[\x21-\x7e]{1,100}$/, 'a scope is printable ASCII without spaces')).max(50).default([]),
  /** Default 12 hours, or the longest a token may live if that is shorter. */
  ttl_seconds: z.number().int().positive().optional(),
});

/**
 * `POST /dev/token` (development only): a token for any tenant, user and
 * scopes, signed with this server's secret, so the console can sign in with a
 * click. Never served when NODE_ENV=production.
 */
export async function issueDevToken(req: Request, verifier: TokenVerifier): Promise<{ token: string; expires_in: number }> {
  if (!verifier.canIssue) {
    throw new GatewayRejection('FORBIDDEN', 'This server has no HS256 key to sign development tokens with (its keys are public keys or an identity provider\'s): sign in with a token from your identity provider');
  }
  const body = DevTokenBody.safeParse(req.body);
  if (!body.success) {
    const names = [...new Set(body.error.issues.map((issue) => String(issue.path[0] ?? 'body')))];
    throw new GatewayRejection('INVALID_ARGUMENTS', `Invalid ${names.join(', ')}: the body is {"tenant": lowercase id, "user": string, "scopes": [string without spaces], "ttl_seconds"?: number}`);
  }
  const { tenant, user, scopes, ttl_seconds } = body.data;
  const ttlSeconds = ttl_seconds ?? Math.min(12 * 3600, verifier.maxLifetimeSeconds);
  if (ttlSeconds > verifier.maxLifetimeSeconds) {
    throw new GatewayRejection('INVALID_ARGUMENTS', `ttl_seconds may be at most ${verifier.maxLifetimeSeconds}, the longest a token may live here`);
  }
  const token = await verifier.issue({ tenantId: tenant, userId: user, scopes, ttlSeconds });
  return { token, expires_in: ttlSeconds };
}
