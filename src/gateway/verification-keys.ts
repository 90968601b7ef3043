import { createPublicKey, type KeyObject } from 'node:crypto';
import { z } from 'zod';

/**
 * The algorithms a token may be signed with, each bound to one kind of key:
 * an HS256 key is a shared secret and verifies HS256 only; an RS256 or ES256
 * key is a public key and verifies its own algorithm only. `none`, and an HS
 * token checked against a public key used as a secret, can never verify.
 */
export const TOKEN_ALGORITHMS = ['HS256', 'RS256', 'ES256'] as const;
export type TokenAlgorithm = (typeof TOKEN_ALGORITHMS)[number];
export const PUBLIC_KEY_ALGORITHMS: readonly TokenAlgorithm[] = ['RS256', 'ES256'];

const Kid = z.string().min(1).max(200);
const Jwk = z.object({ kty: z.string() }).passthrough();

/** One verification key, as configured (HOLDLINE_JWT_KEYS). A key without `kid` verifies tokens without `kid` only. */
export const VerificationKeySpec = z.discriminatedUnion('alg', [
  z
    .object({
      kid: Kid.optional(),
      alg: z.literal('HS256'),
      secret: z.string().min(32, 'an HS256 secret must be at least 32 characters'),
      /** Development tokens are signed with this key (one key at most); a key file changes it without a restart. */
      signing: z.boolean().optional(),
    })
    .strict(),
  z.object({ kid: Kid.optional(), alg: z.literal('RS256'), publicKey: z.union([z.string().min(1), Jwk]) }).strict(),
  z.object({ kid: Kid.optional(), alg: z.literal('ES256'), publicKey: z.union([z.string().min(1), Jwk]) }).strict(),
]);
export type VerificationKeySpec = z.infer<typeof VerificationKeySpec>;
export const VerificationKeySpecs = z.array(VerificationKeySpec);

/** A key ready to verify with: the secret's bytes, or a public KeyObject of the algorithm's type. */
export interface VerificationKey {
  kid: string | undefined;
  alg: TokenAlgorithm;
  key: Uint8Array | KeyObject;
  /** Marked as the key development tokens are signed with. */
  signing?: boolean;
}

/** A key list that cannot be used as configured; the message says which key and why. */
export class KeyConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * Checks and imports a key list: kids unique, at most one key without a kid,
 * public keys that really are public keys of their algorithm (RSA of at least
 * 2048 bits for RS256, P-256 for ES256), never private material.
 */
export function importVerificationKeys(input: unknown): VerificationKey[] {
  const parsed = VerificationKeySpecs.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new KeyConfigError(`key ${issue.path.join('.') || 'list'}: ${issue.message}`);
  }
  const seen = new Set<string>();
  let withoutKid = 0;
  const keys = parsed.data.map((spec, index): VerificationKey => {
    const name = spec.kid ? `"${spec.kid}"` : `#${index}`;
    if (spec.kid === undefined) withoutKid += 1;
    else if (seen.has(spec.kid)) throw new KeyConfigError(`key ${name} appears twice: each kid names one key`);
    else seen.add(spec.kid);
    if (spec.alg === 'HS256') return { kid: spec.kid, alg: spec.alg, key: new TextEncoder().encode(spec.secret), ...(spec.signing ? { signing: true } : {}) };
    return { kid: spec.kid, alg: spec.alg, key: publicKeyOf(spec.publicKey, spec.alg, name) };
  });
  if (keys.filter((key) => key.signing).length > 1) throw new KeyConfigError('several keys are marked signing: development tokens are signed with one');
  if (withoutKid > 1) throw new KeyConfigError(`${withoutKid} keys have no kid: at most one may, or a token without kid could not say which key it means`);
  return keys;
}

function publicKeyOf(source: string | Record<string, unknown>, alg: 'RS256' | 'ES256', name: string): KeyObject {
  if (typeof source !== 'string' && 'd' in source) throw new KeyConfigError(`key ${name} is a private JWK: configure its public part only`);
  if (typeof source === 'string' && /PRIVATE KEY/.test(source)) throw new KeyConfigError(`key ${name} is a private key: configure its public part only`);
  let key: KeyObject;
  try {
    key = typeof source === 'string' ? createPublicKey(source) : createPublicKey({ key: source as never, format: 'jwk' });
  } catch (error) {
    throw new KeyConfigError(`key ${name} is not a public key (PEM or JWK): ${(error as Error).message}`);
  }
  if (alg === 'RS256') {
    if (key.asymmetricKeyType !== 'rsa') throw new KeyConfigError(`key ${name} is declared RS256 but is a ${key.asymmetricKeyType} key`);
    if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) throw new KeyConfigError(`key ${name}: an RS256 key must have at least 2048 bits`);
  } else if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new KeyConfigError(`key ${name} is declared ES256 but is not a P-256 EC key`);
  }
  return key;
}
