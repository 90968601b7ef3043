import { SseParser, type SseMessage } from './sse';
import type { Identity } from './types';

/** A failed request, with a sentence a person can act on. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** What to tell a person about a refused request: what happened and what to do next. */
export function explain(status: number, body: { error_code?: string; message?: string } | undefined): string {
  const said = body?.message ? `${body.message}. ` : '';
  if (status === 401) return `${said}Your sign-in is no longer accepted (the token expired or is not valid here): sign out and sign in again.`;
  if (status === 403) return `${said}Your token does not allow this: ask for a token with the needed scope.`;
  if (status === 404) return `${said}It may have been removed, or it belongs to someone else.`;
  if (status === 409) return `${said}Someone may have acted on it already: refresh to see where it stands.`;
  if (status === 429) return `${said}Too many requests right now: wait a few seconds and try again.`;
  if (status === 503 || status === 502) return `${said}Holdline cannot reach its backend at the moment: try again shortly.`;
  if (status >= 500) return `${said}Holdline failed to answer: try again, and check the server's log if it keeps failing.`;
  return said.trim() || `The request failed (HTTP ${status}).`;
}

const NETWORK_HINT = 'Holdline did not answer: check that the server is running and reachable, then try again.';

/** The console's only way to the server: Holdline's public HTTP API, with the signed-in token. */
export class Api {
  constructor(
    readonly token: string,
    private readonly onUnauthorized: () => void = () => {},
  ) {}

  get<T>(path: string, signal?: AbortSignal): Promise<T> {
    return this.request<T>('GET', path, undefined, signal);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  private async request<T>(method: string, path: string, body: unknown, signal?: AbortSignal): Promise<T> {
    let response: Response;
    try {
      response = await fetch(path, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new ApiError(NETWORK_HINT, 0);
    }
    const parsed = (await response.json().catch(() => undefined)) as (T & { error_code?: string; message?: string }) | undefined;
    if (!response.ok) {
      if (response.status === 401) this.onUnauthorized();
      throw new ApiError(explain(response.status, parsed), response.status, parsed?.error_code);
    }
    return parsed as T;
  }

  /**
   * Reads an event stream with the Authorization header (which EventSource
   * cannot send) until `signal` aborts or the server ends it. Resolves when the
   * stream ends; rejects with an ApiError when it cannot be opened.
   */
  async stream(path: string, onMessage: (message: SseMessage) => void, signal: AbortSignal): Promise<void> {
    let response: Response;
    try {
      response = await fetch(path, { headers: { authorization: `Bearer ${this.token}`, accept: 'text/event-stream' }, signal });
    } catch (error) {
      if (signal.aborted) return;
      throw new ApiError(NETWORK_HINT, 0);
    }
    if (!response.ok || !response.body) {
      const parsed = (await response.json().catch(() => undefined)) as { error_code?: string; message?: string } | undefined;
      if (response.status === 401) this.onUnauthorized();
      throw new ApiError(explain(response.status, parsed), response.status, parsed?.error_code);
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    const parser = new SseParser();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        for (const message of parser.push(value)) onMessage(message);
      }
    } catch (error) {
      if (!signal.aborted) throw new ApiError('The live connection to Holdline dropped: reconnecting…', 0);
    }
  }
}

/** Development sign-in: POST /dev/token mints a token for any tenant, user and scopes (off in production). */
export async function devToken(tenant: string, user: string, scopes: string[]): Promise<string> {
  let response: Response;
  try {
    response = await fetch('/dev/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ tenant, user, scopes }) });
  } catch {
    throw new ApiError(NETWORK_HINT, 0);
  }
  const body = (await response.json().catch(() => undefined)) as { token?: string; message?: string } | undefined;
  if (response.status === 404) throw new ApiError('Development sign-in is off on this server (it runs with NODE_ENV=production): paste a token instead.', 404);
  if (!response.ok || !body?.token) throw new ApiError(explain(response.status, body), response.status);
  return body.token;
}

/** The claims of a token, for showing who is signed in; the server alone decides what the token may do. */
export function identityOf(token: string): Identity | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(payload.length / 4) * 4, '='));
    const claims = JSON.parse(json) as { sub?: unknown; tenant_id?: unknown; scope?: unknown };
    if (typeof claims.sub !== 'string' || typeof claims.tenant_id !== 'string') return undefined;
    return { tenant: claims.tenant_id, user: claims.sub, scopes: typeof claims.scope === 'string' ? claims.scope.split(' ').filter(Boolean) : [] };
  } catch {
    return undefined;
  }
}

/** The API path of one call, addressed to its owner when that is someone else. */
export function callPath(callId: string, userId: string | undefined, me: Identity | undefined, suffix = ''): string {
  const base = `/v1/tool-calls/${encodeURIComponent(callId)}${suffix}`;
  return userId && me && userId !== me.user ? `${base}?user=${encodeURIComponent(userId)}` : base;
}
