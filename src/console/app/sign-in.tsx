import { useState } from 'preact/hooks';
import { Api, ApiError, devToken, identityOf } from './api';

const DEFAULT_SCOPES = 'orders:read orders:refund orders:write';

/** Sign in by pasting a token, or (development) by minting one for a chosen tenant, user and scopes. */
export function SignIn({ onToken, notice }: { onToken: (token: string) => void; notice?: string | undefined }) {
  const [pasted, setPasted] = useState('');
  const [tenant, setTenant] = useState('acme');
  const [user, setUser] = useState('alice');
  const [scopes, setScopes] = useState(DEFAULT_SCOPES);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const attempt = async (get: () => Promise<string>) => {
    setBusy(true);
    setError(undefined);
    try {
      const token = await get();
      // Ask the server, not the token's claims: it alone knows whether the token is accepted.
      await new Api(token).get('/v1/tools');
      onToken(token);
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.message : 'Signing in failed: try again.');
    } finally {
      setBusy(false);
    }
  };

  const usePasted = (event: Event) => {
    event.preventDefault();
    const token = pasted.trim().replace(/^Bearer\s+/i, '');
    if (!identityOf(token)) {
      setError('That does not look like a Holdline token (three dot-separated parts, from `npx holdline token`): paste the whole token.');
      return;
    }
    void attempt(async () => token);
  };

  const useDev = (event: Event) => {
    event.preventDefault();
    void attempt(() => devToken(tenant.trim(), user.trim(), scopes.split(/[\s,]+/).filter(Boolean)));
  };

  return (
    <main class="sign-in" aria-labelledby="sign-in-title">
      <h1 id="sign-in-title">Holdline console</h1>
      {notice ? (
        <p class="notice" role="status">
          {notice}
        </p>
      ) : null}
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      <form onSubmit={usePasted} aria-labelledby="paste-title">
        <h2 id="paste-title">Sign in with a token</h2>
        <label for="token">Access token</label>
        <textarea id="token" rows={3} value={pasted} onInput={(e) => setPasted(e.currentTarget.value)} placeholder="eyJhbGciOi…" autoComplete="off" spellcheck={false} />
        <button type="submit" disabled={busy || pasted.trim() === ''}>
          Sign in
        </button>
      </form>
      <form onSubmit={useDev} aria-labelledby="dev-title">
        <h2 id="dev-title">Development sign-in</h2>
        <p class="hint">Mints a short-lived token on this server. Only available when Holdline does not run in production.</p>
        <div class="fields">
          <label>
            Tenant
            <input name="tenant" value={tenant} onInput={(e) => setTenant(e.currentTarget.value)} required />
          </label>
          <label>
            User
            <input name="user" value={user} onInput={(e) => setUser(e.currentTarget.value)} required />
          </label>
          <label>
            Scopes (separated by spaces)
            <input name="scopes" value={scopes} onInput={(e) => setScopes(e.currentTarget.value)} />
          </label>
        </div>
        <button type="submit" disabled={busy}>
          Sign in for development
        </button>
      </form>
    </main>
  );
}
