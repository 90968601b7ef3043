import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

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
