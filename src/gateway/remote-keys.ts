import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, type JWSHeaderParameters, type KeyLike } from 'jose';

export interface RemoteKeySetOptions {
  /** The identity provider's JWKS (`…/.well-known/jwks.json`). */
  url: URL;
  /** How long a fetched key set is used before it is fetched again. Default 10 min. */
  cacheMaxAgeMs?: number;
  /**
   * After a fetch, how long a token with an unknown kid waits before it may
   * fetch again; after a failed fetch, how long the set is not fetched at all.
   * Default 30 s.
   */
  cooldownMs?: number;
  /** How long one fetch may take. Default 2 s: a token waits for it. */
  timeoutMs?: number;
  /** How long past its cache age the last fetched set still verifies while the JWKS cannot be fetched. Default 1 h. */
  staleIfErrorMs?: number;
}

/** Why a key could not be found: the key set does not hold it, or the key set could not be read to tell. */
export type RemoteKeyMiss =
  | { kind: 'unknown_kid' }
  | { kind: 'ambiguous' }
  /** The set holds a key for the kid that cannot verify (a private or unsupported key). */
  | { kind: 'unusable_key' }
  | { kind: 'unavailable'; retryAfterMs: number; cause: unknown };

export class RemoteKeyError extends Error {
  constructor(readonly miss: RemoteKeyMiss) {
    super(`remote key set: ${miss.kind}`);
    this.name = new.target.name;
  }
}

/**
 * jose's remote key set (fetch on first use, cache for `cacheMaxAgeMs`, fetch
 * again for an unknown kid at most once per `cooldownMs`), with two things
 * added for a gateway: when the JWKS cannot be fetched, the keys of the last
 * fetched set keep verifying (for up to `staleIfErrorMs` past their age), and
 * no token waits on a fetch again until the cooldown has passed. A kid that
 * no reachable set can vouch for then is the server's problem, not the
 * caller's: it is reported as `unavailable`, not `unknown_kid`.
 */
export class RemoteKeySet {
  private readonly remote: ReturnType<typeof createRemoteJWKSet>;
  private readonly cooldownMs: number;
  private readonly cacheMaxAgeMs: number;
  private readonly staleIfErrorMs: number;
  private failedAt: number | undefined;
  private lastError: unknown;
  /** When the set the remote holds was fetched: the set's identity changes on each successful fetch. */
  private fetched: { set: unknown; at: number } | undefined;

  constructor(readonly options: RemoteKeySetOptions) {
    this.cooldownMs = options.cooldownMs ?? 30_000;
    this.cacheMaxAgeMs = options.cacheMaxAgeMs ?? 600_000;
    this.staleIfErrorMs = options.staleIfErrorMs ?? 3_600_000;
    this.remote = createRemoteJWKSet(options.url, {
      cacheMaxAge: this.cacheMaxAgeMs,
      cooldownDuration: this.cooldownMs,
      timeoutDuration: options.timeoutMs ?? 2_000,
    });
  }

  /** The public key for this header (`alg` one of the public-key algorithms), or a RemoteKeyError. */
  async keyFor(header: JWSHeaderParameters): Promise<KeyLike> {
    if (this.failedAt !== undefined && Date.now() - this.failedAt < this.cooldownMs) return this.fromStale(header);
    try {
      const key = await this.remote(header);
      this.noteFetched();
      return key;
    } catch (error) {
      this.noteFetched();
      if (error instanceof joseErrors.JWKSNoMatchingKey) throw new RemoteKeyError({ kind: 'unknown_kid' });
      if (error instanceof joseErrors.JWKSMultipleMatchingKeys) throw new RemoteKeyError({ kind: 'ambiguous' });
      if (!isFetchFailure(error)) throw new RemoteKeyError({ kind: 'unusable_key' });
      this.failedAt = Date.now();
      this.lastError = error;
      return this.fromStale(header);
    }
  }

  /** True while the last fetch failed and its cooldown runs. */
  get unavailable(): boolean {
    return this.failedAt !== undefined && Date.now() - this.failedAt < this.cooldownMs;
  }

  private noteFetched(): void {
    const set = this.remote.jwks();
    if (set !== undefined && set !== this.fetched?.set) {
      this.fetched = { set, at: Date.now() };
      this.failedAt = undefined;
    }
  }

  private async fromStale(header: JWSHeaderParameters): Promise<KeyLike> {
    const retryAfterMs = Math.max(1_000, (this.failedAt ?? Date.now()) + this.cooldownMs - Date.now());
    const unavailable = () => new RemoteKeyError({ kind: 'unavailable', retryAfterMs, cause: this.lastError });
    if (!this.fetched || Date.now() - this.fetched.at > this.cacheMaxAgeMs + this.staleIfErrorMs) throw unavailable();
    try {
      return await createLocalJWKSet(this.fetched.set as never)(header);
    } catch (error) {
      if (error instanceof joseErrors.JWKSMultipleMatchingKeys) throw new RemoteKeyError({ kind: 'ambiguous' });
      throw unavailable();
    }
  }
}

/**
 * The JWKS could not be read: no answer in time, a refused connection, a
 * status other than 200, a body that is not a key set. A key of a readable
 * set that does not import is not one of these.
 */
function isFetchFailure(error: unknown): boolean {
  if (error instanceof joseErrors.JWKSTimeout) return true;
  if (error instanceof joseErrors.JWKSInvalid) return /malformed/i.test(error.message);
  if (error instanceof joseErrors.JOSEError) return /HTTP response/.test(error.message);
  return true;
}
