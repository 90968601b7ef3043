import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { KeyConfigError, RemoteKeySet, TokenVerifier, importVerificationKeys, type VerificationKey } from '../gateway';
import { ConfigError, type Config } from './config';

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

/** What the verifier is built from: the JWT and JWKS variables of the configuration. */
export type AuthConfig = Pick<Config, 'HOLDLINE_DATA_DIR'> &
  Partial<
    Pick<
      Config,
      | 'NODE_ENV'
      | 'HOLDLINE_JWT_SECRET'
      | 'HOLDLINE_JWT_MAX_LIFETIME_S'
      | 'HOLDLINE_JWT_KEYS'
      | 'HOLDLINE_JWT_SIGNING_KID'
      | 'HOLDLINE_JWKS_URL'
      | 'HOLDLINE_JWKS_CACHE_MAX_AGE_S'
      | 'HOLDLINE_JWKS_COOLDOWN_S'
      | 'HOLDLINE_JWKS_TIMEOUT_MS'
      | 'HOLDLINE_JWT_ISSUER'
      | 'HOLDLINE_JWT_AUDIENCE'
    >
  >;

/**
 * The verification keys the configuration names, checked and imported:
 * HOLDLINE_JWT_SECRET as the key without kid, then HOLDLINE_JWT_KEYS (a JSON
 * list when it starts with `[`, else the path of a file holding one). With
 * neither, and no JWKS, development generates a secret (see resolveJwtSecret).
 * A bad list throws a ConfigError naming the variable.
 */
export function readVerificationKeys(config: AuthConfig): { keys: VerificationKey[]; generated?: string } {
  const specs: unknown[] = [];
  let generated: string | undefined;
  if (config.HOLDLINE_JWT_SECRET) specs.push({ alg: 'HS256', secret: config.HOLDLINE_JWT_SECRET });
  if (config.HOLDLINE_JWT_KEYS) specs.push(...keyListOf(config.HOLDLINE_JWT_KEYS));
  if (specs.length === 0 && !config.HOLDLINE_JWKS_URL && config.NODE_ENV !== 'production') {
    const { secret, source } = resolveJwtSecret(undefined, config.HOLDLINE_DATA_DIR);
    if (source === 'generated') generated = join(config.HOLDLINE_DATA_DIR, 'jwt-secret');
    specs.push({ alg: 'HS256', secret });
  }
  let keys: VerificationKey[];
  try {
    keys = importVerificationKeys(specs);
  } catch (error) {
    if (error instanceof KeyConfigError) throw new ConfigError(`Invalid configuration:\n  HOLDLINE_JWT_KEYS: ${error.message}`);
    throw error;
  }
  if (config.HOLDLINE_JWT_SIGNING_KID && keys.some((key) => key.signing)) {
    throw new ConfigError('Invalid configuration:\n  HOLDLINE_JWT_SIGNING_KID: a key of HOLDLINE_JWT_KEYS is marked signing already: say it in one place');
  }
  return { keys, ...(generated ? { generated } : {}) };
}

function keyListOf(value: string): unknown[] {
  const inline = value.startsWith('[');
  let text = value;
  if (!inline) {
    try {
      text = readFileSync(value, 'utf8');
    } catch (error) {
      throw new ConfigError(`Invalid configuration:\n  HOLDLINE_JWT_KEYS=${JSON.stringify(value)}: cannot read the key file (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
  }
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch {
    throw new ConfigError(`Invalid configuration:\n  HOLDLINE_JWT_KEYS: ${inline ? 'is not' : 'the key file does not hold'} a JSON list of keys`);
  }
  if (!Array.isArray(list)) throw new ConfigError('Invalid configuration:\n  HOLDLINE_JWT_KEYS: must be a JSON list of keys');
  return list;
}

/** The verifier the configuration describes: its keys, its JWKS, the required iss and aud, the longest lifetime. */
export function createTokenVerifier(config: AuthConfig): { verifier: TokenVerifier; generated?: string } {
  const { keys, generated } = readVerificationKeys(config);
  const commaList = (value: string | undefined) => value?.split(',').map((item) => item.trim()).filter(Boolean);
  const issuer = commaList(config.HOLDLINE_JWT_ISSUER);
  const audience = commaList(config.HOLDLINE_JWT_AUDIENCE);
  if (keys.length === 0 && !config.HOLDLINE_JWKS_URL) {
    throw new ConfigError('Invalid configuration:\n  HOLDLINE_JWT_SECRET, HOLDLINE_JWT_KEYS or HOLDLINE_JWKS_URL is required to verify tokens');
  }
  try {
    const verifier = new TokenVerifier(keys, {
      ...(config.HOLDLINE_JWT_MAX_LIFETIME_S ? { maxLifetimeSeconds: config.HOLDLINE_JWT_MAX_LIFETIME_S } : {}),
      ...(issuer?.length ? { issuer } : {}),
      ...(audience?.length ? { audience } : {}),
      ...(config.HOLDLINE_JWT_SIGNING_KID ? { signingKid: config.HOLDLINE_JWT_SIGNING_KID } : {}),
      ...(config.HOLDLINE_JWKS_URL
        ? {
            jwks: new RemoteKeySet({
              url: new URL(config.HOLDLINE_JWKS_URL),
              cacheMaxAgeMs: (config.HOLDLINE_JWKS_CACHE_MAX_AGE_S ?? 600) * 1000,
              cooldownMs: (config.HOLDLINE_JWKS_COOLDOWN_S ?? 30) * 1000,
              timeoutMs: config.HOLDLINE_JWKS_TIMEOUT_MS ?? 2_000,
            }),
          }
        : {}),
    });
    return { verifier, ...(generated ? { generated } : {}) };
  } catch (error) {
    if (error instanceof RangeError) throw new ConfigError(`Invalid configuration:\n  HOLDLINE_JWT_SIGNING_KID: ${error.message}`);
    throw error;
  }
}

/**
 * Reads the keys again and hands them to the verifier, which verifies with
 * them from the next token on. A list that does not load leaves the verifier
 * with the keys it had. Only a key file changes: an inline list or
 * HOLDLINE_JWT_SECRET is what the process was started with.
 */
export function reloadVerificationKeys(verifier: TokenVerifier, config: AuthConfig): { kids: (string | undefined)[] } {
  const { keys } = readVerificationKeys(config);
  try {
    verifier.replaceKeys(keys, config.HOLDLINE_JWT_SIGNING_KID);
  } catch (error) {
    if (error instanceof RangeError) throw new ConfigError(`Invalid configuration:\n  HOLDLINE_JWT_KEYS: ${error.message}`);
    throw error;
  }
  return { kids: verifier.kids };
}

/**
 * Reloads the key file on SIGHUP (the rotation steps "add the new key", "sign
 * with it", "remove the old one", without a restart). `reload` is what the
 * signal runs: true when the new keys are in use.
 */
export function reloadKeysOnSighup(verifier: TokenVerifier, config: AuthConfig, logger: Logger): { reload(): boolean; stop(): void } {
  const reload = (): boolean => {
    try {
      const { kids } = reloadVerificationKeys(verifier, config);
      logger.info({ kids: kids.map((kid) => kid ?? '(no kid)') }, 'JWT verification keys reloaded');
      return true;
    } catch (error) {
      logger.error({ err: error }, 'JWT verification keys not reloaded: the keys in use stay');
      return false;
    }
  };
  const onSignal = () => void reload();
  process.on('SIGHUP', onSignal);
  return { reload, stop: () => process.off('SIGHUP', onSignal) };
}

/** A token signed with this deployment's signing key, for development: `npm run token` and `npm run talk`. */
export function issueDevToken(config: AuthConfig, claims: { tenantId: string; userId: string; scopes: readonly string[]; ttlSeconds?: number }): Promise<string> {
  return createTokenVerifier(config).verifier.issue(claims);
}
