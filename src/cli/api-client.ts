import { CliError, EXIT } from './exit-codes';
import { readEventStream, type StreamEvent } from './event-stream';

/** An HTTP answer of Holdline: its status and its JSON body (or its text when it is not JSON). */
export interface Answer {
  status: number;
  body: any;
}

export interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  query?: Record<string, string | number | undefined>;
  signal?: AbortSignal;
}

/**
 * Holdline's public HTTP API as the command sees it. Every failure to talk to
 * the server becomes a `CliError` that says what to do next; answers that are
 * error envelopes are for the command to judge (`expectOk` judges the usual way).
 */
export class HoldlineApi {
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
  ) {}

  async request(method: string, path: string, options: RequestOptions = {}): Promise<Answer> {
    const response = await this.fetch(method, path, options);
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON (a proxy's error page, say): keep the text for the message.
    }
    return { status: response.status, body };
  }

  /** A request whose answer must be 2xx; anything else becomes the `CliError` that fits it. */
  async expectOk(method: string, path: string, options: RequestOptions = {}): Promise<Answer> {
    const answer = await this.request(method, path, options);
    if (answer.status >= 200 && answer.status < 300) return answer;
    throw failureOf(answer);
  }

  /** Reads a Server-Sent Events stream until it ends or `signal` aborts; a refusal becomes a `CliError`. */
  async stream(path: string, onEvent: (event: StreamEvent) => void, options: RequestOptions = {}): Promise<void> {
    let response: Response;
    try {
      response = await this.fetch('GET', path, { ...options, headers: { accept: 'text/event-stream', ...options.headers } });
    } catch (error) {
      if (options.signal?.aborted) return;
      throw error;
    }
    if (!response.ok || !response.body) {
      const text = await response.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // Keep the text.
      }
      throw failureOf({ status: response.status, body });
    }
    try {
      await readEventStream(response.body as unknown as AsyncIterable<Uint8Array>, onEvent);
    } catch (error) {
      if (options.signal?.aborted) return;
      throw new CliError(`the event stream from ${this.baseUrl} broke off (${(error as Error).message}); run the command again`, EXIT.failed);
    }
  }

  private async fetch(method: string, path: string, { body, headers = {}, query = {}, signal }: RequestOptions): Promise<Response> {
    const url = new URL(path, this.baseUrl);
    for (const [name, value] of Object.entries(query)) if (value !== undefined && value !== '') url.searchParams.set(name, String(value));
    try {
      return await fetch(url, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      const reason = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(
        `no Holdline answered at ${this.baseUrl} (${reason?.code ?? reason?.message ?? (error as Error).message}): ` +
          'start it with `npx holdline start --tools <your tools>` (in this repository: npm start), or point --url or HOLDLINE_URL at it',
        EXIT.unreachable,
      );
    }
  }
}

/** The words and exit code for an answer that is not 2xx. */
export function failureOf(answer: Answer): CliError {
  const code: string | undefined = answer.body?.error_code;
  const message: string = answer.body?.message ?? (typeof answer.body === 'string' ? answer.body.slice(0, 200) : `HTTP ${answer.status}`);
  if (answer.status === 401) {
    return new CliError(`the token was refused (${message}): get a token with \`npx holdline token --scope "<scopes>"\` and pass it as --token or TOKEN`, EXIT.unauthorized);
  }
  if (answer.status === 403) return new CliError(`forbidden (${message}): the token lacks a scope this needs; get one with the scope from \`npx holdline token --scope "<scopes>"\``, EXIT.unauthorized);
  if (answer.status === 404 && code !== 'UNKNOWN_TOOL') {
    return new CliError(`no such call (or not yours): ${message}. List yours with \`npx holdline calls\`; an operator passes --user <owner>`, EXIT.notFound);
  }
  return new CliError(`${code ? `${code}: ` : ''}${message}${hintFor(code)}`, EXIT.failed);
}

function hintFor(code: string | undefined): string {
  switch (code) {
    case 'UNKNOWN_TOOL':
      return ' (see the tools you may call with `npx holdline tools`)';
    case 'INVALID_ARGUMENTS':
      return ' (see the tool\'s parameters with `npx holdline tools --json`)';
    case 'RATE_LIMITED':
    case 'BACKEND_UNAVAILABLE':
      return ' (try again shortly; with --key the retry attaches to the same call)';
    case 'IDEMPOTENCY_CONFLICT':
      return ' (use a new --key)';
    default:
      return '';
  }
}
