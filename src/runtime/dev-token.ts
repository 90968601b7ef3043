import { loadConfig } from './config';
import { issueDevToken } from './jwt-secret';

export interface DevTokenClaims {
  tenantId: string;
  userId: string;
  scopes: readonly string[];
  /** Default 12 hours, within `HOLDLINE_JWT_MAX_LIFETIME_S`. */
  ttlSeconds?: number;
}

/**
 * A development token Holdline started from the same environment accepts:
 * signed with `HOLDLINE_JWT_SECRET`, or with the secret generated in the data
 * directory on first start. For tests and demos; production tokens come from
 * the identity provider.
 */
export function createDevToken(claims: DevTokenClaims, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return issueDevToken(loadConfig(env), { ttlSeconds: 12 * 3600, ...claims });
}
