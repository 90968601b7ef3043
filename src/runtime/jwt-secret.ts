import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TokenVerifier } from '../gateway';
import type { Config } from './config';

/**
 * The HS256 secret: HOLDLINE_JWT_SECRET when set; in development, one
 * generated on first start and kept in the data directory, so tokens printed
 * by `npm run token` keep working across restarts.
 */
export function resolveJwtSecret(explicit: string | undefined, dataDir: string): { secret: string; source: 'env' | 'file' | 'generated' } {
  if (explicit) return { secret: explicit, source: 'env' };
  const path = join(dataDir, 'jwt-secret');
  try {
    const stored = readFileSync(path, 'utf8').trim();
    if (stored.length >= 32) return { secret: stored, source: 'file' };
  } catch {
    // Not there yet: generate it below.
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(path, `${secret}\n`, { mode: 0o600 });
  return { secret, source: 'generated' };
}

/** A token signed with this deployment's secret, for development: `npm run token` and `npm run talk`. */
export function issueDevToken(
  config: Pick<Config, 'HOLDLINE_JWT_SECRET' | 'HOLDLINE_DATA_DIR'> & Partial<Pick<Config, 'HOLDLINE_JWT_MAX_LIFETIME_S'>>,
  claims: { tenantId: string; userId: string; scopes: readonly string[]; ttlSeconds?: number },
): Promise<string> {
  const secret = resolveJwtSecret(config.HOLDLINE_JWT_SECRET, config.HOLDLINE_DATA_DIR).secret;
  return new TokenVerifier(secret, config.HOLDLINE_JWT_MAX_LIFETIME_S ? { maxLifetimeSeconds: config.HOLDLINE_JWT_MAX_LIFETIME_S } : {}).issue(claims);
}
